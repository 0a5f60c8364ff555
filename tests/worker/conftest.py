"""A database with one submitted experiment (five queued runs), on SQLite and on PostgreSQL; and, for the
tests of the lease machinery every kind of job shares, five queued jobs of each kind in turn (runs, judge
validations, rescorings, judge stress tests)."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from backend.api.app import create_app
from backend.config import Settings
from backend.domain import RunStatus, Verdict
from backend.jobs import JOB_KINDS, RESCORINGS, RUNS, STRESS_TESTS, VALIDATIONS, JobKind
from tests.conftest import TEST_CLIENT_HOST, RecordingQueue, sign_in_as_local_owner
from tests.factories import add_verdicts, experiment_spec, upload_small_benchmark
from worker.lease import Lease
from worker.rescoring import RescoringStore
from worker.store import RunStore
from worker.stress_test import StressTestStore
from worker.validation import ValidationStore

# The benchmark the tiny model's experiments are evaluated on (tests.worker.test_pipeline.tiny_experiment).
N_PROMPTS = 6


@pytest.fixture
def store(migrated: Settings, client: TestClient) -> RunStore:
    """The run store, with the tiny model's benchmark uploaded."""
    upload_small_benchmark(client, "six-prompts", N_PROMPTS)
    return RunStore(client.app.state.session_factory)  # type: ignore[attr-defined]


@pytest.fixture
def both_databases(database_url: str, tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "home", database_url=database_url, allowed_hosts=[TEST_CLIENT_HOST])
    settings.ensure_dirs()
    return settings


@pytest.fixture
def submitted(both_databases: Settings) -> Iterator[tuple[TestClient, RunStore, list[int]]]:
    """The API (broker recorded, signed in as the local owner), the worker's store, and the ids of the
    five queued runs."""
    with TestClient(create_app(both_databases, RecordingQueue())) as client:
        sign_in_as_local_owner(client, both_databases)
        runs = client.post("/api/experiments", json=experiment_spec()).json()["runs"]
        yield client, RunStore(client.app.state.session_factory), [r["id"] for r in runs]  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Jobs:
    """Five queued jobs of one kind, the API that shows them, and the worker's store of that kind."""

    kind: JobKind[Any]
    client: TestClient
    store: RunStore | ValidationStore | RescoringStore | StressTestStore
    ids: list[int]
    # A rescoring's or stress test's experiment, by job id: its API is under the experiment's.
    experiment_of: dict[int, int] = field(default_factory=dict)

    def read(self, job_id: int) -> dict:
        """The job as the API shows it."""
        if self.kind is RESCORINGS:
            experiment = self.client.get(f"/api/experiments/{self.experiment_of[job_id]}").json()
            return next(r for r in experiment["rescorings"] if r["id"] == job_id)
        if self.kind is STRESS_TESTS:
            tests = self.client.get(f"/api/experiments/{self.experiment_of[job_id]}/stress-tests").json()
            return next(t for t in tests if t["id"] == job_id)
        path = "runs" if self.kind is RUNS else "judge-validations"
        return self.client.get(f"/api/{path}/{job_id}").json()

    def retry(self, job_id: int) -> Any:
        if self.kind is RESCORINGS:
            path = f"experiments/{self.experiment_of[job_id]}/rescorings"
        elif self.kind is STRESS_TESTS:
            path = f"experiments/{self.experiment_of[job_id]}/stress-tests"
        else:
            path = "runs" if self.kind is RUNS else "judge-validations"
        return self.client.post(f"/api/{path}/{job_id}/retry")

    def start(self, lease: Lease) -> None:
        """What a worker does first with a job it claimed: move it into a working status."""
        if isinstance(self.store, RunStore):
            self.store.start_stage(lease, RunStatus.GENERATING)
        else:
            self.store.start(lease)

    def finish(self, lease: Lease) -> None:
        """Do the job (a validation calls every example safe; a rescoring finds no response stored; a stress
        test judges nothing) and mark it done."""
        if isinstance(self.store, RunStore):
            self.store.finish_run(lease)
        elif isinstance(self.store, RescoringStore | StressTestStore):
            self.store.start(lease)
            self.store.finish(lease)
        else:
            _, todo, total = self.store.start(lease)
            verdicts = [{"example_id": example_id, "verdict": Verdict.SAFE} for example_id, _, _ in todo]
            self.store.add_verdicts(lease, verdicts, len(verdicts) / total)
            self.store.finish(lease, seconds=0.1)

    def set_columns(self, job_id: int, **values: object) -> None:
        with self.client.app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
            session.execute(update(self.kind.model).where(self.kind.model.id == job_id).values(**values))


@pytest.fixture(params=[kind.noun for kind in JOB_KINDS])
def queued(request: pytest.FixtureRequest, submitted: tuple[TestClient, RunStore, list[int]]) -> Jobs:
    """Five queued jobs of each kind in turn: the experiment's runs, five validations of a judge, five
    experiments' rescorings by a judge added to each, or five experiments' stress tests of their judge."""
    client, run_store, run_ids = submitted
    sessions = client.app.state.session_factory  # type: ignore[attr-defined]
    if request.param == RUNS.noun:
        return Jobs(RUNS, client, run_store, run_ids)
    if request.param == RESCORINGS.noun:
        experiment_of = {}
        for _ in range(5):
            experiment = client.post("/api/experiments", json=experiment_spec()).json()
            response = client.post(
                f"/api/experiments/{experiment['id']}/judges", json={"judges": ["refusal-phrases"]}
            )
            assert response.status_code == 201, response.text
            experiment_of[response.json()[0]["id"]] = experiment["id"]
        return Jobs(RESCORINGS, client, RescoringStore(sessions), list(experiment_of), experiment_of)
    if request.param == STRESS_TESTS.noun:
        experiment_of = {}
        for _ in range(5):
            experiment = client.post("/api/experiments", json=experiment_spec()).json()
            with sessions() as session:  # its judge must have scored some responses
                add_verdicts(session, experiment["runs"][0]["id"], [[Verdict.HARMFUL], [Verdict.SAFE]])
            response = client.post(
                f"/api/experiments/{experiment['id']}/stress-tests", json={"judge": "refusal-minilm"}
            )
            assert response.status_code == 201, response.text
            experiment_of[response.json()["id"]] = experiment["id"]
        return Jobs(STRESS_TESTS, client, StressTestStore(sessions), list(experiment_of), experiment_of)
    validation_ids = []
    for _ in range(5):
        response = client.post(
            "/api/judge-validations", json={"judge": "refusal-phrases", "validation_set": "pyrit-refusal"}
        )
        assert response.status_code == 201, response.text
        validation_ids.append(response.json()["id"])
    return Jobs(VALIDATIONS, client, ValidationStore(sessions), validation_ids)
