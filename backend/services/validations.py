"""Validating a judge definition against a validation set: a worker job, enqueued after commit."""

import logging

from sqlalchemy.orm import Session

from backend.config import Settings
from backend.errors import InvalidInput, NotFound, QueueUnavailable
from backend.queue import TaskQueue
from backend.repositories import catalog as catalog_repository
from backend.repositories import validations as repository
from backend.schemas import ValidationRequest, ValidationSummaryRead
from backend.services.judges import check_operator_rules, visible_judge

log = logging.getLogger(__name__)


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
    check_operator_rules(judge.config, judge.project_id, settings)
    try:
        validation_set = catalog_repository.find_validation_set(session, request.validation_set, project_id)
    except NotFound as error:
        raise InvalidInput(str(error)) from None
    validation = repository.create_validation(
        session,
        project_id=project_id,
        judge_id=judge.id,
        validation_set_id=validation_set.id,
        created_by_id=user_id,
    )
    # Enqueue only after commit: the worker must find the row it is handed.
    session.commit()
    try:
        queue.enqueue_validation(validation.id)
    except Exception as error:
        log.exception("could not enqueue judge validation %s", validation.id)
        message = f"could not reach the task broker ({type(error).__name__}: {error})"
        repository.fail(session, validation.id, f"{message}; start the validation again")
        session.commit()
        raise QueueUnavailable(f"{message}. The validation was saved as failed.") from None
    return repository.get_summary(session, validation.id)
