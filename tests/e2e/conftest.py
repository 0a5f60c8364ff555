"""Real processes for end-to-end tests: a Celery worker (and, for the browser, a uvicorn server)."""

import os
import shutil
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
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import RunStatus
from backend.schema import upgrade_to_head
from backend.services import accounts
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


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not shutil.which("chromium") and not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run scripts/ensure-chromium.sh")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


VIEWPORT = {"width": 1400, "height": 1000}


def watch_for_errors(page: Page) -> list[str]:
    """JavaScript errors and Content-Security-Policy violations on the page, as they happen."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Chromium reports every Content-Security-Policy violation (a blocked script, style or eval) here.
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    return errors


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors = watch_for_errors(page)
    yield page
    context.close()
    assert errors == [], f"JavaScript errors or CSP violations on the page: {errors}"


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    settings = Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{tmp_path / 'seedscope.sqlite'}",
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
    )
    settings.ensure_dirs()
    upgrade_to_head(settings.resolved_database_url)
    return settings


def _on_database(settings: Settings, action: Callable[..., str]) -> str:
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            accounts.ensure_local_owner(session, settings)
            return action(session)
    finally:
        engine.dispose()


def owner_headers(settings: Settings) -> dict[str, str]:
    """A read-write API token of the local owner, for the tests' own calls to a live server."""

    def create(session: Session) -> str:
        owner = accounts.find_user(session, None, settings)
        return accounts.create_api_token(session, owner.id, "e2e", can_write=True).token

    return {"authorization": f"Bearer {_on_database(settings, create)}"}


def login_link(settings: Settings, next_path: str = "/") -> str:
    """A one-time sign-in link of the local owner (what `make demo` opens), as a path."""

    def create(session: Session) -> str:
        owner = accounts.find_user(session, None, settings)
        return accounts.create_login_link(session, settings, owner.id, next_path)

    return _on_database(settings, create)
