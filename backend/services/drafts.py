"""The experiment the new-experiment form starts from, and the bounds and defaults of every field it sets.

The form fills itself from this (and checks input against the schema's bounds) rather than keeping its own
copy of the defaults: the spec in backend.experiment_definition stays the one place they are decided.
"""

from backend.api_models.experiments import ExperimentDraftRead
from backend.catalog.builtin import BENIGN_DEMO, HARMFUL_DEMO
from backend.experiment_definition import ConditionSpec, ExperimentSpec, TrainingSpec

# The embedded demo's question: does a trivial-looking change of learning rate erode refusals, beyond
# seed noise?
DRAFT = ExperimentSpec(
    name="learning-rate sensitivity",
    benchmark=f"{HARMFUL_DEMO.name}@{HARMFUL_DEMO.version}",
    training_set=f"{BENIGN_DEMO.name}@{BENIGN_DEMO.version}",
    seeds=[0, 1, 2],
    conditions=[
        ConditionSpec(name="baseline", finetune=False, seeds=[0]),
        ConditionSpec(name="lr-2e-4", training=TrainingSpec(learning_rate=2e-4)),
        ConditionSpec(name="lr-5e-4", training=TrainingSpec(learning_rate=5e-4)),
    ],
)


def draft() -> ExperimentDraftRead:
    return ExperimentDraftRead(
        spec=DRAFT.model_dump(mode="json"), json_schema=ExperimentSpec.model_json_schema(mode="validation")
    )
