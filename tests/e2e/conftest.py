"""Real processes for end-to-end tests: a Celery worker (and, for the browser, a uvicorn server)."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    expect,
    sync_playwright,
)
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import RunStatus
from backend.migrate import upgrade_to_head
from backend.services import accounts
from tests.conftest import REDIS_URL, REPO, missing_service

# Settings a test may change for the processes it starts (leases, sweeps, batch sizes).
PASSED_ON = (
    "lease_s",
    "sweep_interval_s",
    "queued_stranded_after_s",
    "job_max_attempts",
    "worker_max_tasks_per_child",
    "generation_token_budget",
    "judge_batch_size",
)


def service_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "SEEDSCOPE_HOME": str(settings.home),
        "SEEDSCOPE_DATABASE_URL": settings.resolved_database_url,
        "SEEDSCOPE_BROKER_URL": settings.resolved_broker_url,
        # As an operator writes it: comma-separated folders.
        "SEEDSCOPE_MODEL_ROOTS": ",".join(str(root) for root in settings.model_roots),
        **{f"SEEDSCOPE_{name.upper()}": str(getattr(settings, name)) for name in PASSED_ON},
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

    def freeze(self) -> None:
        """SIGSTOP the whole process group: it stops at once, mid-whatever, until killed."""
        os.killpg(self.process.pid, signal.SIGSTOP)

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
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """start(settings, name="worker-N"): a `seedscope-worker run` process, named so logs tell them apart."""
    workers: list[Service] = []

    def start(settings: Settings, name: str | None = None) -> Service:
        name = name or f"worker-{len(workers)}"
        command = ["worker.cli", "run", "--loglevel", "INFO", "--hostname", f"{name}@%h"]
        workers.append(Service(command, settings, tmp_path / f"{name}.log"))
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
    yield from emptied_test_redis()


def emptied_test_redis() -> Iterator[str]:
    """The test Redis database's URL, for a fixture: emptied before the test and after."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as error:
        missing_service(f"Redis not reachable at {REDIS_URL}: {error}")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


def wait_for(
    condition: Callable[[], bool],
    timeout_s: float,
    what: str,
    diagnostics: Callable[[], str],
    interval_s: float = 0.5,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{diagnostics()}")
        time.sleep(interval_s)


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


class PageWatch:
    """What went wrong on a page, as its user would meet it: JavaScript errors, Content-Security-Policy
    violations, requests that failed or were refused, and error messages shown on the page.

    A test that provokes a refusal on purpose (a bad form, a viewer's forbidden click) declares it with
    `expect_refusal`; every other failed request is a problem.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.failed: list[tuple[int, str]] = []
        self._expected: list[tuple[int, str]] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)
        page.on("response", lambda r: self.failed.append((r.status, r.url)) if r.status >= 400 else None)
        page.on("requestfailed", self._request_failed)

    def _console(self, message: ConsoleMessage) -> None:
        # A failed resource is reported as a response too (with its address), so it is counted there once.
        error = message.type == "error" and not message.text.startswith("Failed to load resource")
        violation = "Content Security Policy" in message.text or "Refused to" in message.text
        if error or violation:
            self.errors.append(message.text)

    def _request_failed(self, request: Request) -> None:
        # Leaving a page aborts what it was still loading: not a failure the user could see.
        if request.failure != "net::ERR_ABORTED":
            self.failed.append((0, f"{request.url} ({request.failure})"))

    def expect_refusal(self, status: int, url_part: str) -> None:
        self._expected.append((status, url_part))

    def problems(self) -> list[str]:
        unexpected = [
            f"{status} {url}"
            for status, url in self.failed
            if not any(status == code and part in url for code, part in self._expected)
        ]
        return self.errors + unexpected

    def shown_errors(self) -> list[str]:
        """Error messages on the page now (the page's error boxes and alerts)."""
        return self.page.locator(".error:visible, [role=alert]:visible").all_text_contents()

    def assert_clean(self) -> None:
        assert self.problems() == [], f"on {self.page.url}: {self.problems()}"
        assert self.shown_errors() == [], f"on {self.page.url}: {self.shown_errors()}"


def open_share_link(
    browser: Browser, url: str, experiment_id: int, headers: dict[str, str], scope: str = "figures"
) -> tuple[BrowserContext, Page, PageWatch]:
    """A share link of the experiment made with `headers` (an editor's token), opened in a fresh context, as
    someone without an account would: the context (close it), its page and the page's watch."""
    link = httpx.post(
        f"{url}/api/experiments/{experiment_id}/share-links", json={"scope": scope}, headers=headers
    )
    assert link.status_code == 201, link.text
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(url + link.json()["path"])
    return context, page, watch


# Every figure's drawn height against the height the server gave it.
# Every figure a user sees: those of a hidden section (a grid's, without a grid) are not drawn.
FIGURE_HEIGHTS = """() => [...document.querySelectorAll('[data-figure]')]
  .filter((container) => !container.closest('[hidden]')).map((container) => {
  const svg = container.querySelector('.main-svg');
  return [container.dataset.figure, svg ? svg.getBoundingClientRect().height : 0,
    Number(container.dataset.height)];
})"""
MIN_FIGURE_HEIGHT = 250


def check_figure_heights(page: Page) -> None:
    """Every figure is drawn, at least 250 px tall and as tall as the server made it: a window resize must
    not collapse it to its container's minimum."""
    for name, drawn, asked in page.evaluate(FIGURE_HEIGHTS):
        assert drawn >= MIN_FIGURE_HEIGHT, f"{name} is {drawn} px tall"
        assert abs(drawn - asked) <= 2, f"{name} is {drawn} px tall, drawn for {asked}"


def check_figure_heights_after_resize(page: Page, size: dict[str, int], timeout_s: float = 10) -> None:
    """Resize the window, then check_figure_heights once Plotly has redrawn (it redraws on the resize event
    after a debounce, later on a loaded machine): the last check's failure if it never passes."""
    page.set_viewport_size(size)  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout_s
    while True:
        page.wait_for_timeout(300)
        try:
            check_figure_heights(page)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


@pytest.fixture
def page(browser: Browser, start_server: Callable[[Settings], str]) -> Iterator[Page]:
    """A page in a fresh context, closed before any server the test started stops (a dashboard still polling
    a stopped server would be a failure of the test's making)."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    watch = PageWatch(page)
    page.watch = watch  # type: ignore[attr-defined]
    yield page
    context.close()
    assert watch.problems() == [], f"errors or failed requests on the page: {watch.problems()}"


def watch_of(page: Page) -> PageWatch:
    return page.watch  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def live_settings(tmp_path: Path, shared_models: Path) -> Settings:
    settings = Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{tmp_path / 'seedscope.sqlite'}",
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        model_roots=[shared_models],
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


def new_experiment_form(page: Page, url: str, settings: Settings, seeds: str = "0, 1") -> Locator:
    """The new-experiment form, signed in as the local owner, with `seeds`; its draft's three conditions
    (baseline, lr-2e-4, lr-5e-4) there."""
    page.goto(url + login_link(settings, "/experiments/new"))
    form = page.locator("#experiment-form")
    form.locator("[name=seeds]").fill(seeds)
    expect(form.locator("#conditions tr.condition")).to_have_count(3)
    return form


class PrivateRedis:
    """A redis-server of this test's own, append-only as in docker-compose.yml, that it may kill and restart.

    The machine's shared Redis serves other tests at the same time: never restart that one.
    """

    def __init__(self, directory: Path) -> None:
        self.directory, self.port = directory, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--dir", str(self.directory)),
                *("--appendonly", "yes", "--appendfsync", "everysec", "--save", ""),
            ],
            stdout=(self.directory / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_for(answers, 30, "the private Redis", lambda: (self.directory / "redis.log").read_text())

    def kill(self) -> None:
        """SIGKILL: a crash, not a clean shutdown; only what the append-only file holds survives."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        missing_service("redis-server is not installed")
    directory = Path(tempfile.mkdtemp(prefix="seedscope-redis-"))
    server = PrivateRedis(directory)
    yield server
    if server.process is not None and server.process.poll() is None:
        server.kill()
    shutil.rmtree(directory, ignore_errors=True)


POSTGRES_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own (initdb in a temporary directory) that it may restart.

    The machine's shared PostgreSQL serves other tests at the same time: never restart that one.
    """

    def __init__(self, directory: Path) -> None:
        self.directory, self.port = directory, free_port()
        self.data = directory / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        # initdb refuses to run as root; the postgres user runs the cluster then.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(directory, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        self.start()

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(POSTGRES_BIN[-1] / program), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.directory / "pg.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash: no shutdown checkpoint, recovery on the next start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if not POSTGRES_BIN:
        missing_service("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    directory = Path(tempfile.mkdtemp(prefix="seedscope-pg-"))
    server = PrivatePostgres(directory)
    yield server
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        server.stop("immediate")
    shutil.rmtree(directory, ignore_errors=True)
