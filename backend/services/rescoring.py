"""Judges after the fact: add judge definitions to an experiment, whose stored responses they then judge
as worker jobs (rescorings, backend.jobs.RESCORINGS) without generating anything again; and choose which of
an experiment's judges makes its headline rate."""

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.api_models.judges import JudgeDefinitionRead, RescoringRead
from backend.config import Settings
from backend.domain import JudgeJobStatus
from backend.errors import Conflict, InvalidInput, NotFound
from backend.experiment_definition import ExperimentSpec
from backend.jobs import RESCORINGS
from backend.models import Experiment, ExperimentJudge, Rescoring, utcnow
from backend.queue import TaskQueue
from backend.repositories import judges as judge_repository
from backend.repositories import projects as project_repository
from backend.repositories import rescorings as repository
from backend.repositories.judges import judges_of_experiment
from backend.services import jobs
from backend.services.judges import check_judges_safety_benchmarks, check_operator_rules, visible_judge

MAX_JUDGES = ExperimentSpec.model_fields["judges"].metadata[-1].max_length


def add_judges(
    session: Session,
    queue: TaskQueue,
    settings: Settings,
    experiment_id: int,
    references: list[str],
    user_id: int,
) -> list[RescoringRead]:
    """Add the definitions (by id, name or name@version, among the built-ins and the project's) to the
    experiment's judges, after the ones it has, and queue one rescoring each; commit, then send them.
    InvalidInput, with nothing stored, when one cannot judge its safety benchmarks, the operator's settings
    refuse it, it already judges the experiment, or the experiment would have more than MAX_JUDGES."""
    project_id = _project_of(session, experiment_id)
    current = judges_of_experiment(session, experiment_id)
    added = [_addable(session, settings, reference, project_id) for reference in references]
    refs = [str(judge.ref) for judge in added]
    if len(set(refs)) != len(refs):
        raise InvalidInput(f"judges {references} name the same definition twice ({', '.join(refs)})")
    if already := [str(judge.ref) for judge in added if judge.id in {j.id for j in current}]:
        raise InvalidInput(f"{', '.join(already)} already judge(s) this experiment")
    if len(current) + len(added) > MAX_JUDGES:
        raise InvalidInput(
            f"an experiment has at most {MAX_JUDGES} judges; this one has {len(current)}, so add at most "
            f"{MAX_JUDGES - len(current)}"
        )
    for position, judge in enumerate(added, start=len(current)):
        session.add(ExperimentJudge(experiment_id=experiment_id, position=position, judge_id=judge.id))
    rescoring_ids = [repository.create(session, experiment_id, judge.id, user_id) for judge in added]
    session.commit()
    jobs.send(session, queue, RESCORINGS, rescoring_ids)
    return [repository.get(session, rescoring_id) for rescoring_id in rescoring_ids]


def _addable(session: Session, settings: Settings, reference: str, project_id: int) -> JudgeDefinitionRead:
    judge = visible_judge(session, reference, project_id)
    check_judges_safety_benchmarks(judge)
    check_operator_rules(judge.config, judge.project_id, settings)
    return judge


def retry_rescoring(
    session: Session, queue: TaskQueue, settings: Settings, rescoring_id: int
) -> RescoringRead:
    """Queue a rescoring that is not done and no worker holds again; the verdicts it stored are kept. Its
    judge must still pass the operator's rules, as when it was added."""
    judge = judge_repository.get_judge(session, repository.get(session, rescoring_id).judge_id)
    check_operator_rules(judge.config, judge.project_id, settings)
    jobs.retry(session, queue, RESCORINGS, rescoring_id)
    return repository.get(session, rescoring_id)


def _project_of(session: Session, experiment_id: int) -> int:
    project_id = project_repository.project_of_experiment(session, experiment_id)
    if project_id is None:
        raise NotFound(f"experiment {experiment_id} not found")
    return project_id


def choose_headline(session: Session, experiment_id: int, reference: str, user_id: int) -> None:
    """Make one of the experiment's judges its headline judge: move it first, the others keeping their
    order, and record who chose it and when. Conflict while that judge's rescoring has not finished: its
    rates would cover only part of the responses."""
    project_id = _project_of(session, experiment_id)
    chosen = visible_judge(session, reference, project_id)
    order = [judge.id for judge in judges_of_experiment(session, experiment_id)]
    if chosen.id not in order:
        raise InvalidInput(f"{chosen.ref} does not judge this experiment; add it first")
    unfinished = session.scalar(
        select(Rescoring.progress).where(
            Rescoring.experiment_id == experiment_id,
            Rescoring.judge_id == chosen.id,
            Rescoring.status != JudgeJobStatus.DONE,
        )
    )
    if unfinished is not None:
        raise Conflict(
            f"{chosen.ref} is still judging the stored responses ({unfinished:.0%}); choose it once its "
            "rescoring is done"
        )
    order.remove(chosen.id)
    # Positions are part of the key: the links are written again in the new order.
    session.execute(delete(ExperimentJudge).where(ExperimentJudge.experiment_id == experiment_id))
    session.flush()
    for position, judge_id in enumerate([chosen.id, *order]):
        session.add(ExperimentJudge(experiment_id=experiment_id, position=position, judge_id=judge_id))
    experiment = session.get(Experiment, experiment_id)
    assert experiment is not None
    experiment.headline_chosen_by_id, experiment.headline_chosen_at = user_id, utcnow()
    session.commit()
