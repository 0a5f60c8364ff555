"""Faults with real worker processes, real PostgreSQL and Redis: killed workers, restarted services, races.

Leases here last 6 s and every worker sweeps every second, so a run left behind is taken up again within
seconds; in a deployment the same happens within minutes (Settings.lease_s, sweep_interval_s). Restarts
use private Redis and PostgreSQL servers: the machine's shared ones serve other tests at the same time.
"""

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from backend.api.app import create_app
from backend.config import Settings
from backend.db import make_engine
from backend.domain import RunStatus
from backend.jobs import RUNS
from backend.migrate import upgrade_to_head
from backend.models import Generation, Judgment, Run, ValidationJudgment
from backend.queue import TaskQueue, make_celery
from tests.conftest import TEST_CLIENT_HOST, sign_in_as_local_owner
from tests.e2e.conftest import (
    PrivatePostgres,
    PrivateRedis,
    Service,
    all_finished,
    emptied_test_redis,
    wait_for,
)
from tests.e2e.experiment import JUDGE_KEYS, N_PROMPTS, SAMPLES, check_results, submit_tiny_experiment

pytestmark = pytest.mark.slow

StartWorker = Callable[..., Service]
GENERATIONS = N_PROMPTS * SAMPLES
# Training long enough (32 steps) to be caught in the middle.
LONGER_TRAINING = {"subset_size": 32, "batch_size": 2, "epochs": 2, "max_length": 64}


@pytest.fixture
def shared_redis() -> Iterator[str]:
    yield from emptied_test_redis()


def fault_settings(
    tmp_path: Path, database_url: str, broker_url: str, models: Path | None = None, **overrides: object
) -> Settings:
    """Settings for fast faults, with `models` (the tiny model's folder, for runs) the model root."""
    fast = {
        "lease_s": 6,
        "sweep_interval_s": 1,
        "queued_stranded_after_s": 3,
        "job_max_attempts": 5,
        "generation_token_budget": 150,  # several batches per run
        "judge_batch_size": 1,  # a judge transaction per generation
        "allowed_hosts": [TEST_CLIENT_HOST],
        "model_roots": [models] if models else [],
    }
    settings = Settings(
        home=tmp_path / "home", database_url=database_url, broker_url=broker_url, **fast | overrides
    )  # type: ignore[arg-type]
    settings.ensure_dirs()
    upgrade_to_head(settings.resolved_database_url)
    return settings


def spec_overrides() -> dict:
    return {
        "seeds": [0],
        "conditions": [
            {"name": "baseline", "finetune": False, "seeds": [0]},
            {"name": "tuned", "training": LONGER_TRAINING},
        ],
    }


def wait_until_ready(worker: Service) -> None:
    """Until the worker consumes (it logs where adapters go once it is ready)."""
    wait_for(
        lambda: "adapters are read and written" in worker.log_path.read_text(),
        120,
        "a ready worker",
        worker.log,
    )


def mid_stage(engine: Engine, stage: RunStatus) -> Callable[[], int | None]:
    """A probe: the id of a run that is in `stage` with part, not all, of the stage's work stored."""
    judgments = GENERATIONS * len(JUDGE_KEYS)

    def probe() -> int | None:
        with engine.connect() as connection:
            for run_id, status, progress in connection.execute(select(Run.id, Run.status, Run.progress)):
                if status != stage:
                    continue
                if stage == RunStatus.TRAINING and 0 < progress < 1:
                    return run_id
                stored = connection.scalar(
                    select(func.count()).select_from(Generation).where(Generation.run_id == run_id)
                    if stage == RunStatus.GENERATING
                    else select(func.count())
                    .select_from(Judgment)
                    .join(Generation)
                    .where(Generation.run_id == run_id)
                )
                total = GENERATIONS if stage == RunStatus.GENERATING else judgments
                if stored and 0 < stored < total:
                    return run_id
        return None

    return probe


def kill_mid_stage(worker: Service, engine: Engine, stage: RunStatus) -> int:
    """SIGSTOP the worker while a run is part-way through `stage`, check it still is, then SIGKILL it."""
    probe = mid_stage(engine, stage)
    wait_for(lambda: probe() is not None, 300, f"a run part-way through {stage.value}", worker.log, 0.05)
    worker.freeze()
    run_id = probe()
    assert run_id is not None, f"the {stage.value} stage finished before the worker froze; run again"
    worker.kill()
    return run_id


@pytest.mark.parametrize("stage", [RunStatus.TRAINING, RunStatus.GENERATING, RunStatus.JUDGING])
def test_a_worker_killed_in_any_stage_leaves_nothing_lost_or_twice(
    stage: RunStatus,
    postgres_url: str,
    shared_redis: str,
    tmp_path: Path,
    start_worker: StartWorker,
    tiny_model_dir: Path,
) -> None:
    """No retry, no resume: the next worker's sweep finds the run once its lease lapses, and finishes it."""
    settings = fault_settings(tmp_path, postgres_url, shared_redis, tiny_model_dir.parent)
    engine = make_engine(postgres_url)
    first = start_worker(settings)
    with TestClient(create_app(settings)) as client:
        sign_in_as_local_owner(client, settings)
        experiment_id, runs = submit_tiny_experiment(client, tiny_model_dir, **spec_overrides())
        killed = kill_mid_stage(first, engine, stage)
        second = start_worker(settings)
        wait_for(
            lambda: all_finished(runs()), 300, "every run to finish", lambda: f"{runs()}\n{second.log()}"
        )
        check_results(client, experiment_id)
        assert re.search(rf"sweep: queued stranded run\(s\) .*\b{killed}\b", second.log_path.read_text())
        assert client.get(f"/api/runs/{killed}").json()["attempts"] >= 2
    engine.dispose()


def test_the_embedded_default_recovers_a_message_lost_with_a_killed_worker(
    tmp_path: Path, start_worker: StartWorker, tiny_model_dir: Path
) -> None:
    """SQLite and kombu's SQLite broker, which drops the message of a task a killed worker had taken."""
    settings = fault_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'seedscope.sqlite'}",
        f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        tiny_model_dir.parent,
    )
    engine = make_engine(settings.resolved_database_url)
    first = start_worker(settings)
    with TestClient(create_app(settings)) as client:
        sign_in_as_local_owner(client, settings)
        experiment_id, runs = submit_tiny_experiment(client, tiny_model_dir, **spec_overrides())
        killed = kill_mid_stage(first, engine, RunStatus.GENERATING)
        second = start_worker(settings)
        wait_for(
            lambda: all_finished(runs()), 300, "every run to finish", lambda: f"{runs()}\n{second.log()}"
        )
        check_results(client, experiment_id)
        assert re.search(rf"sweep: queued stranded run\(s\) .*\b{killed}\b", second.log_path.read_text())
    engine.dispose()


def test_two_workers_racing_for_one_run_only_one_does_the_work(
    postgres_url: str, shared_redis: str, tmp_path: Path, start_worker: StartWorker, tiny_model_dir: Path
) -> None:
    settings = fault_settings(tmp_path, postgres_url, shared_redis, tiny_model_dir.parent)
    racers = [start_worker(settings, "racer-a"), start_worker(settings, "racer-b")]
    for racer in racers:
        wait_until_ready(racer)
    with TestClient(create_app(settings)) as client:
        sign_in_as_local_owner(client, settings)
        baseline_only = {"conditions": [{"name": "baseline", "finetune": False}], "seeds": [0]}
        _, runs = submit_tiny_experiment(client, tiny_model_dir, **baseline_only)
        (run_id,) = [run["id"] for run in runs()]
        # The same run's task three more times: a redelivery, a retry click, a resume, all at once.
        queue = TaskQueue(make_celery(settings))
        for _ in range(3):
            queue.enqueue(RUNS, run_id)

        def logs() -> str:
            return "".join(racer.log_path.read_text() for racer in racers)

        def deliveries() -> int:
            return len(re.findall(rf"run {run_id}: (?:claimed|not claimed)", logs()))

        wait_for(
            lambda: deliveries() == 4 and all_finished(runs()), 300, "four deliveries and a done run", logs
        )
        assert len(re.findall(rf"run {run_id}: claimed by", logs())) == 1
        assert client.get(f"/api/runs/{run_id}").json()["attempts"] == 1
        with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
            assert session.scalar(select(func.count()).select_from(Generation)) == GENERATIONS
            assert session.scalar(select(func.count()).select_from(Judgment)) == GENERATIONS * len(JUDGE_KEYS)


def test_restarting_redis_mid_experiment_loses_no_task(
    private_redis: PrivateRedis,
    postgres_url: str,
    tmp_path: Path,
    start_worker: StartWorker,
    tiny_model_dir: Path,
) -> None:
    """The sweep runs once, at startup, so only Redis's append-only file can keep the queued tasks."""
    settings = fault_settings(
        tmp_path, postgres_url, private_redis.url, tiny_model_dir.parent, sweep_interval_s=3600
    )
    engine = make_engine(postgres_url)
    worker = start_worker(settings)
    wait_until_ready(worker)
    with TestClient(create_app(settings)) as client:
        sign_in_as_local_owner(client, settings)
        experiment_id, runs = submit_tiny_experiment(client, tiny_model_dir)
        probe = mid_stage(engine, RunStatus.GENERATING)
        wait_for(lambda: probe() is not None, 300, "the first run generating", worker.log, 0.1)
        time.sleep(1.5)  # appendfsync everysec: the queued tasks are on disk
        private_redis.kill()
        time.sleep(2)
        private_redis.start()
        wait_for(
            lambda: all_finished(runs()), 300, "every run to finish", lambda: f"{runs()}\n{worker.log()}"
        )
        check_results(client, experiment_id)
        assert "sweep: queued stranded" not in worker.log_path.read_text()
    engine.dispose()


def test_restarting_postgresql_mid_run_resumes_it_without_partial_rows(
    private_postgres: PrivatePostgres,
    shared_redis: str,
    tmp_path: Path,
    start_worker: StartWorker,
    tiny_model_dir: Path,
) -> None:
    settings = fault_settings(tmp_path, private_postgres.url, shared_redis, tiny_model_dir.parent)
    engine = make_engine(private_postgres.url)
    worker = start_worker(settings)
    with TestClient(create_app(settings)) as client:
        sign_in_as_local_owner(client, settings)
        experiment_id, _ = submit_tiny_experiment(client, tiny_model_dir, **spec_overrides())
        probe = mid_stage(engine, RunStatus.GENERATING)
        wait_for(lambda: probe() is not None, 300, "a run part-way through generating", worker.log, 0.05)
        private_postgres.stop("immediate")  # a crash: every connection drops mid-transaction
        time.sleep(2)
        private_postgres.start()

        def statuses() -> list[str]:
            try:
                with engine.connect() as connection:
                    return list(connection.scalars(select(Run.status).order_by(Run.id)))
            except OperationalError:
                return []

        wait_for(
            lambda: bool(statuses()) and all(RunStatus(s).is_terminal for s in statuses()),
            300,
            "every run to finish",
            worker.log,
        )
        log = worker.log_path.read_text()
        assert "database unreachable" in log or "could not renew the lease" in log
        check_results(client, experiment_id)
    engine.dispose()


@pytest.fixture(params=["sqlite-broker", "redis-broker"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(database, broker): the embedded default's SQLite and kombu's SQLite broker, or the team
    deployment's PostgreSQL and Redis."""
    if request.param == "sqlite-broker":
        yield f"sqlite:///{tmp_path / 'seedscope.sqlite'}", f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
        return
    postgres_url = request.getfixturevalue("postgres_url")
    for redis_url in emptied_test_redis():
        yield postgres_url, redis_url


# refusal-phrases on the held-out PyRIT pairs: 64 verdicts, 33 agreeing with the human label (as in
# tests/worker/test_validation_job.py, where nothing is killed).
VALIDATION = {"judge": "refusal-phrases", "validation_set": "pyrit-refusal-extra"}
EXAMPLES, AGREEING = 64, 33


def test_a_validation_whose_worker_is_killed_is_swept_and_finishes_with_each_verdict_once(
    stack: tuple[str, str], tmp_path: Path, start_worker: StartWorker
) -> None:
    database_url, broker_url = stack
    settings = fault_settings(tmp_path, database_url, broker_url)  # a transaction per verdict
    engine = make_engine(settings.resolved_database_url)

    def verdicts() -> int:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(ValidationJudgment)) or 0

    first = start_worker(settings)
    wait_until_ready(first)
    with TestClient(create_app(settings)) as client:
        sign_in_as_local_owner(client, settings)
        response = client.post("/api/judge-validations", json=VALIDATION)
        assert response.status_code == 201, response.text
        validation_id = response.json()["id"]
        wait_for(lambda: verdicts() > 0, 120, "the first verdicts", first.log, 0.01)
        first.freeze()
        stored = verdicts()
        assert 0 < stored < EXAMPLES, f"{stored} verdicts when the worker froze; run again"
        first.kill()

        def validation() -> dict:
            return client.get(f"/api/judge-validations/{validation_id}").json()

        assert validation()["status"] == "running"
        second = start_worker(settings)
        wait_for(
            lambda: validation()["status"] in ("done", "failed"),
            120,
            "the validation to finish",
            lambda: f"{validation()}\n{second.log()}",
        )
        result = validation()
        assert (result["status"], result["n"], result["n_unscored"]) == ("done", EXAMPLES, 0), result
        assert result["quality"]["accuracy"]["numerator"] == AGREEING
        assert result["attempts"] >= 2 and result["lease_owner"] is None
        assert verdicts() == EXAMPLES
        log = second.log_path.read_text()
        assert re.search(rf"sweep: queued stranded judge validation\(s\) .*\b{validation_id}\b", log)
        assert re.search(rf"judge validation {validation_id}: claimed by worker-1@", log)
    engine.dispose()
