import pytest
from pydantic import ValidationError

from backend.experiment_definition import ExperimentSpec
from tests.factories import experiment_spec


def test_defaults_fill_what_the_definition_leaves_out() -> None:
    spec = ExperimentSpec.model_validate(experiment_spec())
    tuned = spec.conditions[1]
    assert spec.base_model == "embedded:smollm2-135m-aligned"
    assert spec.judges == ["refusal-minilm"]
    assert tuned.lora.rank == 8 and tuned.training.learning_rate == 2e-4
    assert spec.seeds_of(spec.conditions[0]) == [0]
    assert spec.seeds_of(tuned) == [0, 1]
    assert spec.generation_of(tuned).temperature == 0.0


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
