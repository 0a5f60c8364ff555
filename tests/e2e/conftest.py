"""Real processes for end-to-end tests: a Celery worker (and, for the browser, a uvicorn server)."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from backend.config import Settings
from backend.domain import RunStatus
from tests.conftest import REDIS_URL, REPO, missing_service


def service_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "SEEDSCOPE_HOME": str(settings.home),
        "SEEDSCOPE_DATABASE_URL": settings.resolved_database_url,
        "SEEDSCOPE_BROKER_URL": settings.resolved_broker_url,
        "SEEDSCOPE_GENERATION_BATCH_SIZE": "4",
        "PYTHONUNBUFFERED": "1",
    }


class Service:
    """A seedscope process (worker or API server) in its own process group, logging to a file."""

    def __init__(self, command: list[str], settings: Settings, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", *command],
            cwd=REPO,
            env=service_env(settings),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the whole process group (a worker's pool processes too): no chance to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[[Settings], Service]]:
    workers: list[Service] = []

    def start(settings: Settings) -> Service:
        command = ["worker.cli", "run", "--loglevel", "INFO"]
        workers.append(Service(command, settings, tmp_path / f"worker-{len(workers)}.log"))
        return workers[-1]

    yield start
    for worker in workers:
        worker.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[[Settings], str]]:
    """Start `seedscope serve` on a free port; returns its base URL once it answers."""
    servers: list[Service] = []

    def start(settings: Settings) -> str:
        port = free_port()
        servers.append(Service(["backend.cli", "serve", "--port", str(port)], settings, tmp_path / "api.log"))
        url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                return httpx.get(f"{url}/api/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, 60, "the API server", servers[-1].log)
        return url

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(params=["sqlite-broker", "redis-broker"])
def broker_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The embedded default's broker (kombu over SQLite) and the team deployment's (Redis)."""
    if request.param == "sqlite-broker":
        yield f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
        return
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as error:
        missing_service(f"Redis not reachable at {REDIS_URL}: {error}")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


def wait_for(
    condition: Callable[[], bool], timeout_s: float, what: str, diagnostics: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{diagnostics()}")
        time.sleep(0.5)


def all_finished(runs: list[dict]) -> bool:
    return all(RunStatus(run["status"]).is_terminal for run in runs)
