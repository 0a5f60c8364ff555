"""The judge stress test job, `seedscope.stress-test-judge`: a judge judges perturbed copies of responses it
already scored (backend.judging.perturbations), and the job stores how often its verdicts flipped
(backend.judging.stress). Nothing is generated.

A job like a run (backend.jobs): claimed through a lease, swept when its worker stops, resumed from what is
stored. The responses are drawn once, on the first attempt, and kept (stress_test_items); verdicts are
written a batch per transaction, and a job sent again judges only the perturbed texts that have none.
"""

from dataclasses import dataclass
from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from backend.api_models.judges import JudgeDefinitionRead
from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import JudgeJobStatus, TaskName
from backend.jobs import STRESS_TESTS
from backend.judging.perturbations import PERTURBATIONS, perturb
from backend.judging.stress import draw_balanced, stress_result
from backend.models import JudgeStressTest, utcnow
from backend.repositories import stress_tests as repository
from backend.repositories.judges import get_judge
from worker.app import celery, settings
from worker.jobs import work_on
from worker.judges import load_judge
from worker.judges.base import JudgeResources
from worker.judges.batches import chunks, judged_batches, verdict_columns
from worker.judges.replies import DatabaseReplies
from worker.lease import JobStore, Lease

# A perturbed response: (generation id, perturbation), the prompt, the perturbed text.
Perturbed = tuple[tuple[int, str], str, str]


@dataclass(frozen=True)
class StressTestJob:
    definition: JudgeDefinitionRead
    # The perturbed responses not judged yet, and how many there are in all.
    todo: list[Perturbed]
    total: int


class StressTestStore(JobStore[JudgeStressTest]):
    """A stress test's reads, and its writes under its lease."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__(STRESS_TESTS, sessions)

    def start(self, lease: Lease) -> StressTestJob:
        """Mark the stress test running, draw its responses if no attempt did yet, and say what is left."""
        with self._sessions.begin() as session:
            stress_test = self._hold(session, lease)
            definition = get_judge(session, stress_test.judge_id)
            stress_test.status, stress_test.error = JudgeJobStatus.RUNNING, None
            stress_test.started_at = stress_test.started_at or utcnow()
            if not repository.has_items(session, stress_test.id):
                scored = repository.scored_responses(session, stress_test.experiment_id, definition.id)
                repository.add_items(
                    session, stress_test.id, draw_balanced(scored, stress_test.size, stress_test.seed)
                )
            perturbed = [
                ((generation_id, perturbation.name), prompt, text)
                for generation_id, verdict, prompt, response in repository.items(session, stress_test.id)
                for perturbation in PERTURBATIONS
                if (text := perturb(perturbation, response, verdict)) is not None
            ]
            judged = repository.judged(session, stress_test.id)
            todo = [item for item in perturbed if item[0] not in judged]
            done = len(perturbed) - len(todo)
            stress_test.progress = done / len(perturbed) if perturbed else 0.0
            stress_test.progress_message = f"judged {done}/{len(perturbed)} perturbed responses"
            return StressTestJob(definition, todo, len(perturbed))

    def add_verdicts(
        self, lease: Lease, rows: list[dict[str, object]], progress: tuple[int, int], seconds: float
    ) -> None:
        """Store a batch's verdicts (generation_id, perturbation and the verdict columns) and count them, in
        one transaction; `progress`: (perturbed responses judged, in all)."""
        judged, total = progress
        with self._sessions.begin() as session:
            stress_test = self._hold(session, lease)
            repository.add_verdicts(session, stress_test.id, rows)
            stress_test.n_judged += len(rows)
            stress_test.seconds += seconds
            stress_test.progress = min(1.0, judged / total) if total else 1.0
            stress_test.progress_message = f"judged {judged}/{total} perturbed responses"

    def finish(self, lease: Lease) -> None:
        """Store the flip rates computed from the stored verdicts, mark the stress test done, release it."""
        with self._sessions.begin() as session:
            stress_test = self._hold(session, lease)
            stress_test.result = stress_result(repository.rejudged(session, stress_test.id)).model_dump(
                mode="json"
            )
            stress_test.progress = 1.0
            self._finish(session, lease)


def run_stress_test(
    stress_test_id: int, sessions: sessionmaker[Session], settings: Settings, worker_name: str | None = None
) -> bool:
    """Claim the stress test and do it; False if it was not claimed (worker.jobs.work_on)."""
    store = StressTestStore(sessions)

    def work(lease: Lease) -> None:
        job = store.start(lease)
        resources = JudgeResources(settings, DatabaseReplies(sessions), job.definition.project_id)
        judge = load_judge(job.definition.config, resources)
        judged = job.total - len(job.todo)
        for verdicts, seconds in judged_batches(judge, chunks(job.todo, settings.judge_batch_size)):
            judged += len(verdicts)
            rows = [
                {"generation_id": generation_id, "perturbation": perturbation, **verdict_columns(result)}
                for (generation_id, perturbation), result in verdicts
            ]
            store.add_verdicts(lease, rows, (judged, job.total), seconds)
        store.finish(lease)

    return work_on(store, stress_test_id, settings, work, worker_name)


@cache
def _sessions() -> sessionmaker[Session]:
    return make_session_factory(make_engine(settings.resolved_database_url))


@celery.task(name=TaskName.STRESS_TEST_JUDGE.value, bind=True)
def stress_test_judge(self, stress_test_id: int) -> None:  # type: ignore[no-untyped-def]  # celery's bound-task self
    run_stress_test(stress_test_id, _sessions(), settings, worker_name=self.request.hostname)
