import pytest
from pydantic import ValidationError

from backend.experiment_definition import ExperimentSpec, GenerationSpec, StoredCondition
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
        ({"conditions": []}, "conditions"),
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
