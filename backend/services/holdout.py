"""Storing a training set's held-out split as a capability set (backend.catalog.holdout) when an experiment
that holds one out is submitted: in the experiment's project, found again by every experiment that holds out
the same share of the same set."""

from sqlalchemy.orm import Session

from backend.api_models.catalog import BenchmarkRead, TrainingSetRead
from backend.catalog.evaluation_sets import check_evaluation_set
from backend.catalog.holdout import (
    HELD_OUT,
    HELD_OUT_VERSION,
    HOLDOUT_SCORING,
    held_out_count,
    held_out_name,
    held_out_records,
    split,
)
from backend.catalog.kinds import BENCHMARKS
from backend.config import Settings
from backend.domain import SetMeasure
from backend.errors import InvalidInput
from backend.repositories import catalog as catalog_repository


def trainable_examples(training_set: TrainingSetRead, fraction: float | None) -> int:
    """How many of the set's examples a run may train on when it holds out `fraction`; InvalidInput when
    the split would leave none."""
    if fraction is None:
        return training_set.n_examples
    try:
        return training_set.n_examples - held_out_count(training_set.n_examples, fraction)
    except ValueError as error:
        raise InvalidInput(
            f"training.holdout of {training_set.name}@{training_set.version}: {error}"
        ) from None


def held_out_set(
    session: Session, settings: Settings, training_set: TrainingSetRead, fraction: float, project_id: int
) -> BenchmarkRead:
    """The capability set of `training_set`'s held-out examples, stored in the project unless it is."""
    source = f"{training_set.name}@{training_set.version}"
    examples = catalog_repository.training_examples(session, training_set.id)
    _, held_out = split(examples, fraction, training_set.content_hash)
    records = held_out_records(held_out)
    attributes = {"measures": SetMeasure.CAPABILITY.value, "scoring": HOLDOUT_SCORING}
    try:
        BENCHMARKS.check(records, settings)
        check_evaluation_set(records, attributes)
    except InvalidInput as error:
        raise InvalidInput(
            f"the held-out split of {source} (training.holdout {fraction:g}): {error}"
        ) from None
    return catalog_repository.add(
        session,
        BENCHMARKS,
        project_id=project_id,
        name=held_out_name(training_set.name, training_set.version, fraction, training_set.content_hash),
        version=HELD_OUT_VERSION,
        source=HELD_OUT,
        description=(
            f"The {len(records)} examples of {source} that training.holdout {fraction:g} keeps out of "
            f"training, as a capability set: the example's prompt, its response as the reference answer, "
            f"scored by {HOLDOUT_SCORING}."
        ),
        records=records,
        attributes=attributes,
    )
