"""Judge validations: a judge definition measured against a validation set, as a job and as a result."""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from backend.api_models.judges import (
    DisagreementRead,
    ExperimentJudgeRead,
    JudgeDefinitionRead,
    JudgeQualityRead,
    JudgeValidationRead,
    ValidationSummaryRead,
)
from backend.db import dialect_insert
from backend.domain import JudgeJobStatus
from backend.errors import NotFound
from backend.judging.definition import Measured
from backend.judging.quality import Labelled, judge_quality, trust_warning
from backend.models import (
    ExperimentJudge,
    JudgeDefinition,
    JudgeValidation,
    ValidationExample,
    ValidationJudgment,
    ValidationSet,
)
from backend.repositories.judges import judge_read


def _summary(
    validation: JudgeValidation, judge: JudgeDefinition, validation_set: ValidationSet
) -> ValidationSummaryRead:
    return ValidationSummaryRead(
        id=validation.id,
        project_id=validation.project_id,
        judge_id=judge.id,
        judge=str(judge.ref),
        validation_set_id=validation_set.id,
        validation_set=f"{validation_set.name}@{validation_set.version}",
        measures=validation_set.measures,
        status=validation.status,
        progress=validation.progress,
        progress_message=validation.progress_message,
        error=validation.error,
        created_at=validation.created_at,
        finished_at=validation.finished_at,
        lease_owner=validation.lease_owner,
        lease_expires_at=validation.lease_expires_at,
        attempts=validation.attempts,
        n=validation.n,
        n_unscored=validation.n_unscored,
        accuracy=validation.accuracy,
        kappa=validation.kappa,
        kappa_low=validation.kappa_low,
        kappa_high=validation.kappa_high,
        seconds=validation.seconds,
    )


def _with_parts() -> Any:
    return (
        select(JudgeValidation, JudgeDefinition, ValidationSet)
        .join(JudgeDefinition, JudgeDefinition.id == JudgeValidation.judge_id)
        .join(ValidationSet, ValidationSet.id == JudgeValidation.validation_set_id)
    )


def create_validation(
    session: Session, *, project_id: int, judge_id: int, validation_set_id: int, created_by_id: int | None
) -> ValidationSummaryRead:
    validation = JudgeValidation(
        project_id=project_id,
        judge_id=judge_id,
        validation_set_id=validation_set_id,
        status=JudgeJobStatus.QUEUED,
        progress=0.0,
        progress_message="waiting for a worker",
        created_by_id=created_by_id,
    )
    session.add(validation)
    session.flush()
    return get_summary(session, validation.id)


def get_summary(session: Session, validation_id: int) -> ValidationSummaryRead:
    row = session.execute(_with_parts().where(JudgeValidation.id == validation_id)).first()
    if row is None:
        raise NotFound(f"judge validation {validation_id} not found")
    return _summary(*row)


def project_of_validation(session: Session, validation_id: int) -> int | None:
    return session.scalar(select(JudgeValidation.project_id).where(JudgeValidation.id == validation_id))


def list_validations(
    session: Session, project_ids: Sequence[int], judge_id: int | None = None
) -> list[ValidationSummaryRead]:
    """The validations of the given projects, newest first (of one judge definition, when given)."""
    query = _with_parts().where(JudgeValidation.project_id.in_(project_ids))
    if judge_id is not None:
        query = query.where(JudgeValidation.judge_id == judge_id)
    return [_summary(*row) for row in session.execute(query.order_by(JudgeValidation.id.desc()))]


def best_validation(
    session: Session, judge_id: int, project_id: int, measures: Measured
) -> ValidationSummaryRead | None:
    """The finished validation of the judge in the project, on a set whose labels measure `measures`, with
    the highest kappa (then the most examples, then the newest)."""
    row = session.execute(
        _with_parts()
        .where(
            JudgeValidation.judge_id == judge_id,
            JudgeValidation.project_id == project_id,
            JudgeValidation.status == JudgeJobStatus.DONE,
            ValidationSet.measures == measures,
        )
        .order_by(
            JudgeValidation.kappa.is_(None),
            JudgeValidation.kappa.desc(),
            JudgeValidation.n.desc(),
            JudgeValidation.id.desc(),
        )
    ).first()
    return _summary(*row) if row is not None else None


def confusion(session: Session, validation_id: int) -> dict[str, dict[str, int]]:
    """A finished validation's counts, confusion[human label][judge verdict] (JudgeQualityRead.confusion)."""
    result = session.scalar(select(JudgeValidation.result).where(JudgeValidation.id == validation_id))
    if result is None:
        raise NotFound(f"judge validation {validation_id} not found")
    return JudgeQualityRead.model_validate(result).confusion


def experiment_judges(session: Session, experiment_id: int, project_id: int) -> list[ExperimentJudgeRead]:
    """The experiment's judges in order, each with its best validation in the project and its warning."""
    rows = session.scalars(
        select(JudgeDefinition)
        .join(ExperimentJudge, ExperimentJudge.judge_id == JudgeDefinition.id)
        .where(ExperimentJudge.experiment_id == experiment_id)
        .order_by(ExperimentJudge.position)
    )
    judges = []
    for row in rows:
        judge = judge_read(row)
        validation = best_validation(session, judge.id, project_id, judge.measures)
        judges.append(
            ExperimentJudgeRead(
                id=judge.id,
                ref=judge.ref,
                kind=judge.config.kind.value,
                measures=judge.measures,
                gives_score=judge.gives_score,
                graded=judge.graded,
                validation=validation,
                warning=trust_warning(judge.ref, judge.measures, validation),
            )
        )
    return judges


def labelled_verdicts(
    session: Session, validation_id: int
) -> list[tuple[ValidationExample, ValidationJudgment]]:
    rows = session.execute(
        select(ValidationExample, ValidationJudgment)
        .join(ValidationJudgment, ValidationJudgment.example_id == ValidationExample.id)
        .where(ValidationJudgment.judge_validation_id == validation_id)
        .order_by(ValidationExample.position)
    )
    return [(example, judgment) for example, judgment in rows]


def get_validation(session: Session, validation_id: int) -> JudgeValidationRead:
    """The validation with its full result and every example the judge got wrong or left unscored."""
    summary = get_summary(session, validation_id)
    validation = session.get(JudgeValidation, validation_id)
    assert validation is not None
    done = summary.status == JudgeJobStatus.DONE
    disagreements = [
        DisagreementRead(
            example_id=example.id,
            external_id=example.external_id,
            category=example.category,
            request=example.request,
            response=example.response,
            label=example.label,
            verdict=judgment.verdict,
            score=judgment.score,
            output=judgment.output,
        )
        for example, judgment in (labelled_verdicts(session, validation_id) if done else [])
        if judgment.verdict != example.label
    ]
    quality = JudgeQualityRead.model_validate(validation.result) if done and validation.result else None
    return JudgeValidationRead(**summary.model_dump(), quality=quality, disagreements=disagreements)


# --- the worker's side (worker.validation.ValidationStore, under the validation's lease) ------------------


def job(session: Session, validation_id: int) -> tuple[JudgeDefinitionRead, list[tuple[int, str, str]], int]:
    """What the worker needs: the judge definition, (example id, request, response) of the examples with no
    verdict yet, and how many examples the set has."""
    validation = session.get(JudgeValidation, validation_id)
    if validation is None:
        raise NotFound(f"judge validation {validation_id} not found")
    definition = session.get(JudgeDefinition, validation.judge_id)
    assert definition is not None
    total = session.scalar(
        select(func.count()).where(ValidationExample.validation_set_id == validation.validation_set_id)
    )
    rows = session.execute(
        select(ValidationExample.id, ValidationExample.request, ValidationExample.response)
        .outerjoin(
            ValidationJudgment,
            and_(
                ValidationJudgment.example_id == ValidationExample.id,
                ValidationJudgment.judge_validation_id == validation_id,
            ),
        )
        .where(
            ValidationExample.validation_set_id == validation.validation_set_id,
            ValidationJudgment.example_id.is_(None),
        )
        .order_by(ValidationExample.position)
    )
    return judge_read(definition), [(row.id, row.request, row.response) for row in rows], total or 0


def add_verdicts(
    session: Session, validation_id: int, verdicts: Iterable[dict[str, Any]], progress: float
) -> None:
    """Store verdicts ({example_id, verdict, score, output, details}); ones already stored are kept."""
    rows = [{"judge_validation_id": validation_id, **verdict} for verdict in verdicts]
    if rows:
        session.execute(
            dialect_insert(session)(ValidationJudgment)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["judge_validation_id", "example_id"])
        )
    session.execute(
        update(JudgeValidation).where(JudgeValidation.id == validation_id).values(progress=min(progress, 1.0))
    )


def store_result(session: Session, validation_id: int, seconds: float) -> JudgeQualityRead:
    """Compute the result from the stored verdicts and store it (the worker then marks the validation done);
    `seconds` is the judging time of the attempt that finished it."""
    items = [
        Labelled(example.label, judgment.verdict, example.category)
        for example, judgment in labelled_verdicts(session, validation_id)
    ]
    quality = judge_quality(items)
    validation = session.get(JudgeValidation, validation_id)
    assert validation is not None
    validation.progress = 1.0
    validation.n, validation.n_unscored = quality.n, quality.n_unscored
    validation.accuracy = quality.accuracy.estimate
    validation.kappa, validation.kappa_low, validation.kappa_high = (
        quality.kappa,
        quality.kappa_low,
        quality.kappa_high,
    )
    validation.result = quality.model_dump(mode="json")
    validation.seconds = round(seconds, 2)
    return quality
