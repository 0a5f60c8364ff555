"""Judge stress tests: an editor starts one for one of an experiment's judges, a worker job
(backend.jobs.STRESS_TESTS, worker.stress_test) re-judges perturbed copies of responses the judge scored,
and its flip rates say whether the judge is fragile (backend.judging.stress)."""

from sqlalchemy.orm import Session

from backend.api_models.judges import StressTestRead, StressTestRequest
from backend.config import Settings
from backend.errors import InvalidInput, NotFound
from backend.jobs import STRESS_TESTS
from backend.judging.definition import JudgeKind
from backend.queue import TaskQueue
from backend.repositories import judges as judge_repository
from backend.repositories import projects as project_repository
from backend.repositories import stress_tests as repository
from backend.services import jobs
from backend.services.judges import check_operator_rules, visible_judge


def start_stress_test(
    session: Session,
    queue: TaskQueue,
    settings: Settings,
    experiment_id: int,
    request: StressTestRequest,
    user_id: int,
) -> StressTestRead:
    """Queue a stress test of one of the experiment's judges; commit, then send it. InvalidInput, with
    nothing stored, for a judge that does not judge the experiment, that stands for imported results, that
    the operator's settings refuse, or that has scored none of its responses yet."""
    project_id = project_repository.project_of_experiment(session, experiment_id)
    if project_id is None:
        raise NotFound(f"experiment {experiment_id} not found")
    judge = visible_judge(session, request.judge, project_id)
    if judge.id not in {j.id for j in judge_repository.judges_of_experiment(session, experiment_id)}:
        raise InvalidInput(
            f"judge {judge.ref} does not judge this experiment; add it to the experiment first"
        )
    if judge.config.kind == JudgeKind.IMPORTED:
        raise InvalidInput(
            f"judge {judge.ref} stands for imported results: it judges nothing here, so nothing can re-judge "
            "its rewritten responses"
        )
    check_operator_rules(judge.config, judge.project_id, settings)
    if not repository.scored_responses(session, experiment_id, judge.id):
        raise InvalidInput(
            f"judge {judge.ref} has scored none of this experiment's responses yet; start a stress test once "
            "it has"
        )
    stress_test_id = repository.create(session, experiment_id, judge.id, request.size, request.seed, user_id)
    session.commit()
    jobs.send(session, queue, STRESS_TESTS, [stress_test_id])
    return repository.get(session, stress_test_id)


def retry_stress_test(
    session: Session, queue: TaskQueue, settings: Settings, stress_test_id: int
) -> StressTestRead:
    """Queue a stress test that is not done and no worker holds again; the verdicts it stored are kept. Its
    judge must still pass the operator's rules, as when it was started."""
    judge = judge_repository.get_judge(session, repository.get(session, stress_test_id).judge_id)
    check_operator_rules(judge.config, judge.project_id, settings)
    jobs.retry(session, queue, STRESS_TESTS, stress_test_id)
    return repository.get(session, stress_test_id)
