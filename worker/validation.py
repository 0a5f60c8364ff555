"""The judge validation job, `seedscope.validate-judge`: judge every example of a validation set with a
judge definition, then compute and store how well the verdicts agree with the human labels.

Like a run, it resumes from what is stored: verdicts are written a batch per transaction, and a job sent
again judges only the examples that have none.
"""

import logging
import time
from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import TaskName
from backend.repositories import validations as repository
from worker.app import celery, settings
from worker.judges import load_judge
from worker.judges.base import JudgeResources, judge_pairs
from worker.judges.replies import DatabaseReplies
from worker.tasks import readable

log = logging.getLogger(__name__)


def run_validation(validation_id: int, sessions: sessionmaker[Session], settings: Settings) -> bool:
    """Do the validation's job; False if it is gone or done already, or failed (its error is stored)."""
    with sessions.begin() as session:
        if not repository.start(session, validation_id):
            log.info("judge validation %s: gone or done, skipped", validation_id)
            return False
        definition, todo, total = repository.job(session, validation_id)
    try:
        resources = JudgeResources(settings, DatabaseReplies(sessions), definition.project_id)
        judge = load_judge(definition.config, resources)
        started = time.perf_counter()
        done = total - len(todo)
        for first in range(0, len(todo), settings.judge_batch_size):
            batch = todo[first : first + settings.judge_batch_size]
            results = judge_pairs(
                judge, [request for _, request, _ in batch], [response for _, _, response in batch]
            )
            done += len(batch)
            with sessions.begin() as session:
                repository.add_verdicts(
                    session,
                    validation_id,
                    [
                        {
                            "example_id": example_id,
                            "verdict": result.verdict,
                            "score": result.score,
                            "output": result.output,
                            "details": result.details,
                        }
                        for (example_id, _, _), result in zip(batch, results, strict=True)
                    ],
                    done / total,
                )
        with sessions.begin() as session:
            repository.finish(session, validation_id, time.perf_counter() - started)
    except Exception as error:
        log.exception("judge validation %s failed", validation_id)
        with sessions.begin() as session:
            repository.fail(session, validation_id, readable(error))
        return False
    return True


@cache
def _sessions() -> sessionmaker[Session]:
    return make_session_factory(make_engine(settings.resolved_database_url))


@celery.task(name=TaskName.VALIDATE_JUDGE.value)
def validate_judge(validation_id: int) -> None:
    run_validation(validation_id, _sessions(), settings)
