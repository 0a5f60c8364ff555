import re

import pytest
from pydantic import ValidationError

from backend.experiment_definition import ExperimentSpec, GenerationSpec, StoredCondition, grid_factors
from tests.factories import experiment_spec


def test_defaults_fill_what_the_definition_leaves_out() -> None:
    spec = ExperimentSpec.model_validate(experiment_spec())
    tuned = spec.conditions[1]
    assert spec.base_model == "embedded:smollm2-135m-aligned"
    assert spec.judges == ["refusal-minilm"]
    assert tuned.lora.rank == 8 and tuned.training.learning_rate == 2e-4
    baseline, stored, _ = spec.resolved_conditions()
    assert baseline.seeds == [0] and stored.seeds == [0, 1]
    assert stored.generation == spec.generation and stored.lora == tuned.lora


def test_a_stored_condition_has_what_it_leaves_to_the_experiment_filled_in() -> None:
    spec = ExperimentSpec.model_validate(
        experiment_spec(
            generation={"temperature": 0.7},
            seeds=[0, 1, 2],
            conditions=[{"name": "own", "seeds": [5], "generation": {"top_p": 0.9}}, {"name": "plain"}],
        )
    )
    own, plain = spec.conditions
    assert spec.resolve(own).seeds == [5] and spec.resolve(own).generation == GenerationSpec(top_p=0.9)
    assert spec.resolve(plain).seeds == [0, 1, 2] and spec.resolve(plain).generation.temperature == 0.7
    # A condition added later without seeds of its own pairs with the seeds it is given.
    assert spec.resolve(plain, [3, 4]).seeds == [3, 4] and spec.resolve(own, [3, 4]).seeds == [5]
    # What is stored says so: a stored condition without its generation settings or seeds is refused.
    stored = spec.resolve(plain).model_dump()
    for missing in ("generation", "seeds"):
        with pytest.raises(ValidationError, match=missing):
            StoredCondition.model_validate({k: v for k, v in stored.items() if k != missing})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seeds": []}, "seeds"),
        ({"seeds": [0, 0]}, "repeat"),
        ({"conditions": []}, "needs conditions"),
        ({"conditions": [{"name": "a"}, {"name": "a"}]}, "unique"),
        ({"conditions": [{"name": "a", "training": {"learning_rate": -1e-4}}]}, "learning_rate"),
        ({"conditions": [{"name": "a", "lora": {"rank": 0}}]}, "rank"),
        ({"conditions": [{"name": "a", "training": {"epocs": 2}}]}, "epocs"),
        ({"generation": {"temperature": -0.5}}, "temperature"),
        ({"judges": []}, "judges"),
    ],
)
def test_invalid_definitions_are_rejected_with_the_field_named(overrides: dict, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        ExperimentSpec.model_validate(experiment_spec(**overrides))
    assert message in str(error.value)


GRID = {
    "factors": {"training.learning_rate": [2e-4, 5e-4], "generation.temperature": [0, 0.7]},
    "settings": {"training": {"epochs": 2}},
}


def test_a_grid_becomes_one_fine_tuned_condition_per_combination_of_levels() -> None:
    spec = ExperimentSpec.model_validate(
        experiment_spec(
            generation={"max_new_tokens": 48},
            conditions=[{"name": "baseline", "finetune": False, "seeds": [0]}],
            grid=GRID,
        )
    )
    baseline, *gridded = spec.conditions
    assert baseline.levels is None
    assert [c.name for c in gridded] == [
        "learning_rate=0.0002 temperature=0",
        "learning_rate=0.0002 temperature=0.7",
        "learning_rate=0.0005 temperature=0",
        "learning_rate=0.0005 temperature=0.7",
    ]
    last = gridded[-1]
    assert last.levels == {"training.learning_rate": 5e-4, "generation.temperature": 0.7}
    # Temperature changes no weights: the condition at 0.7 evaluates the checkpoints trained at 0.
    assert [c.evaluates for c in gridded] == [None, gridded[0].name, None, gridded[2].name]
    stored = spec.resolved_conditions()[-1]
    assert (stored.training.learning_rate, stored.training.epochs, stored.seeds) == (5e-4, 2, [0, 1])
    # A generation factor keeps the experiment's other generation settings.
    assert last.generation is not None and (last.generation.temperature, last.generation.max_new_tokens) == (
        0.7,
        48,
    )
    assert grid_factors(spec.conditions) == GRID["factors"]
    # What is stored is the expanded conditions: read back, it is the same definition.
    assert spec.grid is None
    assert ExperimentSpec.model_validate(spec.model_dump()) == spec


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"factors": {"training.lr": [1e-4, 2e-4]}}, "grid factor 'training.lr': not a condition field"),
        ({"factors": {"lora.target_modules": [["q_proj"], ["v_proj"]]}}, "'lora.target_modules'"),
        ({"factors": {"name": ["a", "b"]}}, "grid factor 'name'"),
        ({"factors": {"training.epochs": [1, 1.5]}}, "grid factor 'training.epochs': level 1.5"),
        ({"factors": {"lora.rank": [8, 0]}}, "grid factor 'lora.rank': level 0"),
        ({"factors": {"training.epochs": [2]}}, "grid factor 'training.epochs': needs 2 to 20 distinct"),
        ({"factors": {"training.epochs": [2, 2]}}, "needs 2 to 20 distinct"),
        (
            {"factors": {"training.epochs": list(range(1, 16)), "lora.rank": list(range(1, 16))}},
            "training.epochs (15) x lora.rank (15) makes 225 conditions",
        ),
        (
            {"factors": {"training.epochs": [1, 2]}, "settings": {"training": {"epochs": 3}}},
            "grid factor 'training.epochs' is also set in grid.settings",
        ),
        ({"factors": {"training.epochs": [1, 2]}, "settings": {"finetune": False}}, "untuned baseline"),
        ({"factors": {"training.epochs": [1, 2]}, "settings": {"name": "x"}}, "name"),
    ],
)
def test_a_bad_grid_is_refused_with_its_factor_named(grid: dict, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        ExperimentSpec.model_validate(experiment_spec(grid=grid))
    assert message in str(error.value)


def test_conditions_with_levels_must_be_a_full_factorial_that_matches_their_settings() -> None:
    def condition(name: str, lr: float, epochs: int, levels: dict) -> dict:
        return {"name": name, "training": {"learning_rate": lr, "epochs": epochs}, "levels": levels}

    lr = "training.learning_rate"
    incomplete = [
        condition("a", 1e-4, 1, {lr: 1e-4, "training.epochs": 1}),
        condition("b", 2e-4, 1, {lr: 2e-4}),
    ]
    with pytest.raises(ValidationError, match="same factors"):
        ExperimentSpec.model_validate(experiment_spec(conditions=incomplete))
    repeated = [condition("a", 1e-4, 1, {lr: 1e-4}), condition("b", 1e-4, 2, {lr: 1e-4})]
    with pytest.raises(ValidationError, match="every combination of the levels once"):
        ExperimentSpec.model_validate(experiment_spec(conditions=repeated))
    with pytest.raises(ValidationError, match=r"its level of 'training\.learning_rate' is not its setting"):
        ExperimentSpec.model_validate(experiment_spec(conditions=[condition("a", 1e-4, 1, {lr: 3e-4})]))
    with pytest.raises(ValidationError, match="needs conditions, a grid, or both"):
        ExperimentSpec.model_validate(experiment_spec(conditions=[]))


def test_an_evaluation_only_condition_takes_what_trained_its_checkpoints_from_its_source() -> None:
    spec = ExperimentSpec.model_validate(
        experiment_spec(
            conditions=[
                {"name": "hot", "evaluates": "tuned", "generation": {"temperature": 0.7}},
                {"name": "tuned", "training": {"learning_rate": 5e-4}, "pin_seeds": {"lora_init": 3}},
            ]
        )
    )
    hot, tuned = spec.resolved_conditions()
    assert (hot.training, hot.lora, hot.seeds) == (tuned.training, tuned.lora, tuned.seeds)
    assert hot.pin_seeds.lora_init == 3 and hot.generation.temperature == 0.7


def test_an_evaluation_only_condition_may_put_the_prompt_otherwise_and_a_grid_may_turn_the_template_off() -> (
    None
):
    framed = {"system_prompt": "Refuse anything unsafe.", "chat_template": False}
    spec = ExperimentSpec.model_validate(
        experiment_spec(
            conditions=[
                {"name": "tuned", "training": {"learning_rate": 5e-4}},
                {"name": "plain", "evaluates": "tuned", "generation": framed},
            ]
        )
    )
    plain = spec.resolved_conditions()[1].generation
    assert (plain.system_prompt, plain.chat_template) == ("Refuse anything unsafe.", False)
    grid = {"factors": {"training.learning_rate": [2e-4, 5e-4], "generation.chat_template": [True, False]}}
    gridded = ExperimentSpec.model_validate(experiment_spec(conditions=[], grid=grid)).conditions
    assert [c.name for c in gridded][:2] == [
        "learning_rate=0.0002 chat_template=on",
        "learning_rate=0.0002 chat_template=off",
    ]
    # The template changes no weights: the condition without it evaluates the checkpoints trained with it.
    assert gridded[1].evaluates == gridded[0].name
    texts = ["Refuse.", "Be helpful."]
    with pytest.raises(
        ValidationError, match=r"'generation\.system_prompt': not a condition field a grid can vary"
    ):
        ExperimentSpec.model_validate(
            experiment_spec(conditions=[], grid={"factors": {"generation.system_prompt": texts}})
        )


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"evaluates": "nope"}, "there is no condition of that name"),
        ({"evaluates": "baseline"}, "only a condition that trains has checkpoints to evaluate"),
        ({"evaluates": "hot"}, "only a condition that trains"),
        ({"evaluates": "tuned", "finetune": False}, "it evaluates fine-tuned checkpoints, so it cannot be"),
        (
            {"evaluates": "tuned", "training": {"epochs": 2}},
            "it trains nothing, so it takes training from there",
        ),
        ({"evaluates": "tuned", "seeds": [0]}, "it trains nothing, so it takes seeds from there"),
        ({"evaluates": "tuned", "training_set": "other"}, "it trains nothing, so it takes training_set from"),
        (
            {"evaluates": "tuned", "pin_seeds": {"lora_init": 1}},
            "it trains nothing, so it takes pin_seeds from there",
        ),
    ],
)
def test_a_bad_evaluation_only_condition_is_refused_naming_it(condition: dict, message: str) -> None:
    conditions = [
        {"name": "baseline", "finetune": False, "seeds": [0]},
        {"name": "tuned"},
        {"name": "hot", "evaluates": "tuned"},
        {"name": "bad", **condition},
    ]
    with pytest.raises(ValidationError) as error:
        ExperimentSpec.model_validate(experiment_spec(conditions=conditions))
    assert f"condition 'bad' evaluates {condition['evaluates']!r}: {message}" in str(error.value)


def test_an_evaluation_only_condition_s_training_levels_must_be_its_source_s() -> None:
    lr = "training.learning_rate"
    conditions = [
        {"name": "a", "training": {"learning_rate": 1e-4}, "levels": {lr: 1e-4}},
        {"name": "b", "training": {"learning_rate": 2e-4}, "levels": {lr: 2e-4}},
    ]
    lying = {"name": "c", "evaluates": "a", "levels": {lr: 2e-4}}
    with pytest.raises(ValidationError, match=r"training settings are not its source's"):
        ExperimentSpec.model_validate(experiment_spec(conditions=[*conditions, lying]))


SMALL, OTHER = "embedded:smollm2-135m-aligned", "embedded:smollm2-135m-instruct"


def test_a_condition_may_set_its_own_base_model_and_training_set() -> None:
    spec = ExperimentSpec.model_validate(
        experiment_spec(
            base_model_revision="r1",
            conditions=[
                {"name": "baseline", "finetune": False, "seeds": [0]},
                {"name": "other baseline", "finetune": False, "seeds": [0], "base_model": OTHER},
                {"name": "tuned"},
                {"name": "other", "base_model": OTHER, "training_set": "alpaca-mini"},
                {"name": "other hot", "evaluates": "other", "generation": {"temperature": 0.7}},
            ],
        )
    )
    _baseline, _, tuned, other, hot = spec.resolved_conditions()
    assert (tuned.base_model, tuned.base_model_revision, tuned.training_set) == (
        SMALL,
        "r1",
        "seedscope-benign-demo",
    )
    # A revision belongs to the experiment's model: a condition on another model does not take it.
    assert (other.base_model, other.base_model_revision, other.training_set) == (OTHER, None, "alpaca-mini")
    assert (hot.model_key, hot.training_set) == (other.model_key, "alpaca-mini")
    assert spec.base_models() == [(SMALL, "r1"), (OTHER, None)]


def test_a_fine_tuned_condition_whose_base_model_has_no_baseline_is_refused_naming_it() -> None:
    conditions = [{"name": "baseline", "finetune": False, "seeds": [0]}, {"name": "x", "base_model": OTHER}]
    with pytest.raises(ValidationError, match=f"condition 'x' fine-tunes {OTHER}, which has no untuned"):
        ExperimentSpec.model_validate(experiment_spec(conditions=conditions))
    # Without any baseline, conditions are compared with each other and none is required.
    ExperimentSpec.model_validate(experiment_spec(conditions=[*conditions[1:], {"name": "y"}]))


def test_a_grid_may_vary_the_base_model_and_the_training_set() -> None:
    spec = ExperimentSpec.model_validate(
        experiment_spec(
            conditions=[
                {"name": "base small", "finetune": False, "seeds": [0]},
                {"name": "base other", "finetune": False, "seeds": [0], "base_model": OTHER},
            ],
            grid={
                "factors": {
                    "base_model": [SMALL, OTHER],
                    "training_set": ["benign-demo@1", "alpaca-mini"],
                    "generation.temperature": [0, 0.7],
                }
            },
        )
    )
    names = [c.name for c in spec.conditions[2:]]
    assert names[:2] == [
        "base_model=smollm2-135m-aligned training_set=benign-demo-v1 temperature=0",
        "base_model=smollm2-135m-aligned training_set=benign-demo-v1 temperature=0.7",
    ]
    stored = {c.name: c for c in spec.resolved_conditions()}
    hot = stored["base_model=smollm2-135m-instruct training_set=alpaca-mini temperature=0.7"]
    assert hot.evaluates == "base_model=smollm2-135m-instruct training_set=alpaca-mini temperature=0"
    assert (hot.base_model, hot.training_set) == (OTHER, "alpaca-mini")
    assert grid_factors(spec.conditions)["base_model"] == [SMALL, OTHER]


@pytest.mark.parametrize(
    ("factors", "message"),
    [
        ({"base_model": ["org/a", "other/a"]}, "would name conditions alike"),
        ({"base_model": ["", "org/b"]}, "grid factor 'base_model': level ''"),
        ({"training_set": ["a", "a"]}, "needs 2 to 20 distinct levels"),
    ],
)
def test_a_bad_setup_factor_is_refused_naming_it(factors: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ExperimentSpec.model_validate(experiment_spec(conditions=[], grid={"factors": factors}))


def test_a_condition_trains_on_the_training_set_s_responses_unless_it_asks_for_the_model_s_own() -> None:
    spec = ExperimentSpec.model_validate(
        experiment_spec(
            conditions=[
                {"name": "human"},
                {"name": "own", "training": {"responses": "self"}},
                {
                    "name": "sampled",
                    "training": {"responses": "self", "self_generation": {"temperature": 0.7}},
                },
            ]
        )
    )
    human, own, sampled = spec.resolved_conditions()
    assert human.training.responses == "human" and own.training.responses == "self"
    # Greedy unless set, with room for a full answer.
    assert (own.training.self_generation.temperature, own.training.self_generation.max_new_tokens) == (0, 128)
    assert sampled.training.self_generation.as_generation == GenerationSpec(
        temperature=0.7, max_new_tokens=128
    )


@pytest.mark.parametrize(
    ("training", "message"),
    [
        ({"responses": "model"}, "training.responses"),
        ({"self_generation": {"temperature": -1}}, "training.self_generation.temperature"),
        ({"self_generation": {"max_new_tokens": 0}}, "training.self_generation.max_new_tokens"),
        ({"self_generation": {"samples_per_prompt": 2}}, "training.self_generation.samples_per_prompt"),
    ],
)
def test_bad_response_settings_are_refused_naming_the_field(training: dict, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        ExperimentSpec.model_validate(experiment_spec(conditions=[{"name": "a", "training": training}]))
    assert message in str(error.value)


def test_a_grid_may_compare_human_responses_with_the_model_s_own() -> None:
    spec = ExperimentSpec.model_validate(
        experiment_spec(
            conditions=[{"name": "baseline", "finetune": False, "seeds": [0]}],
            grid={
                "factors": {"training.responses": ["human", "self"]},
                "settings": {"training": {"self_generation": {"max_new_tokens": 64}}},
            },
        )
    )
    _, human, own = spec.resolved_conditions()
    assert (human.name, own.name) == ("responses=human", "responses=self")
    assert (human.training.responses, own.training.responses) == ("human", "self")
    # Each trains its own checkpoints, and the grid's settings reach both.
    assert human.evaluates is None and own.evaluates is None
    assert own.training.self_generation.max_new_tokens == 64
    assert grid_factors(spec.conditions) == {"training.responses": ["human", "self"]}
    with pytest.raises(ValidationError, match=r"'training\.self_generation': not a condition field"):
        ExperimentSpec.model_validate(
            experiment_spec(grid={"factors": {"training.self_generation": [{}, {"temperature": 1}]}})
        )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"benchmarks": ["a", "b"]}, "give `benchmark` (one) or `benchmarks` (several), not both"),
        ({"benchmark": None}, "an experiment needs a benchmark"),
        ({"benchmark": None, "benchmarks": ["a", "a"]}, "an evaluation set is named twice"),
        ({"capability": ["a", "c"], "over_refusal": ["c"]}, "named twice among benchmarks, capability"),
    ],
)
def test_benchmarks_are_named_once(overrides: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        ExperimentSpec.model_validate(experiment_spec(**overrides))
    several = ExperimentSpec.model_validate(experiment_spec(benchmark=None, benchmarks=["a", "b@2"]))
    assert several.benchmark_references() == ["a", "b@2"]
