"""Validating a judge definition against a validation set: a worker job (backend.jobs), enqueued after
commit, and retried like a run."""

from sqlalchemy.orm import Session

from backend.api_models.judges import ValidationRequest, ValidationSummaryRead
from backend.catalog.kinds import VALIDATION_SETS
from backend.config import Settings
from backend.errors import InvalidInput, NotFound
from backend.jobs import VALIDATIONS
from backend.judging.definition import JudgeKind
from backend.queue import TaskQueue
from backend.repositories import catalog as catalog_repository
from backend.repositories import judges as judge_repository
from backend.repositories import validations as repository
from backend.services import jobs
from backend.services.judges import check_operator_rules, visible_judge


def start_validation(
    session: Session,
    queue: TaskQueue,
    settings: Settings,
    request: ValidationRequest,
    project_id: int,
    user_id: int,
) -> ValidationSummaryRead:
    """Store a queued validation of the judge on the set, in the project, commit, then enqueue it. A
    definition saved before the operator's settings refused it is refused here, before any job is queued."""
    judge = visible_judge(session, request.judge, project_id)
    if judge.config.kind == JudgeKind.REFERENCE_ANSWER or judge.config.grades_against_references:
        raise InvalidInput(
            f"{judge.ref} scores answers against a capability set's reference answers; a validation set "
            "has none, so there is nothing to validate"
        )
    check_operator_rules(judge.config, judge.project_id, settings)
    try:
        validation_set = catalog_repository.find(session, VALIDATION_SETS, request.validation_set, project_id)
    except NotFound as error:
        raise InvalidInput(str(error)) from None
    validation = repository.create_validation(
        session,
        project_id=project_id,
        judge_id=judge.id,
        validation_set_id=validation_set.id,
        created_by_id=user_id,
    )
    session.commit()
    jobs.send(session, queue, VALIDATIONS, [validation.id])
    return repository.get_summary(session, validation.id)


def retry_validation(
    session: Session, queue: TaskQueue, settings: Settings, validation_id: int
) -> ValidationSummaryRead:
    """Queue a validation that is not done and that no worker holds again; the verdicts it stored are kept
    (backend.services.jobs.retry). Its judge must still pass the operator's rules, as when it started."""
    judge = judge_repository.get_judge(session, repository.get_summary(session, validation_id).judge_id)
    check_operator_rules(judge.config, judge.project_id, settings)
    jobs.retry(session, queue, VALIDATIONS, validation_id)
    return repository.get_summary(session, validation_id)
