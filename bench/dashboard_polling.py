"""Server CPU per open dashboard: `python bench/dashboard_polling.py [--seconds 30] [--no-browser]`.

What it measures: the CPU time (user + system, from psutil) that a real API server process (`seedscope
serve`, on SQLite, the embedded default) spends while one dashboard stays open on an experiment in which
nothing changes, over a window of --seconds, minus what the same server spends with no dashboard open.

The experiment is the demo's shape: 7 runs (a baseline, two learning rates x 3 seeds) x 48 prompts, two
judges, every verdict stored; one run is left queued, as while an experiment waits for a worker, so that
the old page keeps polling too. Nothing changes during the windows.

Dashboards compared, each alone in its own window:
- old page (replayed): the requests the dashboard made before it polled the state (frontend/static/app.js
  until this round): every 3.3 s the experiment, the analysis, the seven figures, the report and the first
  page of prompts, sent by an httpx client signed in as a browser is (a session cookie);
- new page (replayed): GET /api/experiments/{id}/state with the last ETag every 5 s (the page's poll while
  runs are unfinished; every 15 s once none is), answered 304;
- new page in Chromium: the real dashboard, signed in, opened and given time to draw, then left alone for
  the window (skipped with --no-browser or without /usr/bin/chromium).

The first request of each replayed page is sent before its window opens, so the windows hold the steady
state (the old page's analysis memo warm, the new page's ETag known). Nothing here asserts on time: it
prints its figures and the ratio of old to new, measured in the same run on the same machine.
"""

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
from sqlalchemy import select

from backend.catalog.builtin import BENIGN_DEMO, HARMFUL_DEMO
from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import RunStatus, Verdict
from backend.migrate import upgrade_to_head
from backend.models import Generation, JudgeDefinition, Judgment, Prompt, Run
from backend.repositories.cells import refresh_prompt_cells
from backend.services import accounts

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
FIGURES = ("seeds", "forest", "noise", "categories", "flips", "variance", "power")
OLD_INTERVAL_S = 3.3
NEW_INTERVAL_S = 5.0  # the page's interval while runs are unfinished (IDLE_MS when none is)
JUDGES = ("refusal-minilm", "refusal-phrases")
# Harmful-verdict probability per condition: the demo's rough levels.
HARM = {"baseline": 0.12, "lr-2e-4": 0.4, "lr-5e-4": 0.95}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(settings: Settings, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "SEEDSCOPE_HOME": str(settings.home),
        "SEEDSCOPE_DATABASE_URL": settings.resolved_database_url,
        "SEEDSCOPE_BROKER_URL": settings.resolved_broker_url,
    }
    command = [sys.executable, "-m", "backend.cli", "serve", "--port", str(port)]
    output = log.open("wb")
    server = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server did not start: {log.read_text()[-2000:]}")


def judge_everything_but_one_run(settings: Settings, experiment: dict, seed: int = 0) -> None:
    """Every run but the last gets a response per prompt, judged by both judges; the last stays queued."""
    rng = random.Random(seed)
    engine = make_engine(settings.resolved_database_url)
    with make_session_factory(engine)() as session:
        judge_ids = [
            session.scalar(select(JudgeDefinition.id).where(JudgeDefinition.name == name)) for name in JUDGES
        ]
        prompts = session.scalars(select(Prompt.id).where(Prompt.benchmark_id == experiment["benchmark_id"]))
        prompt_ids = list(prompts)
        for run in experiment["runs"][:-1]:
            for prompt_id in prompt_ids:
                generation = Generation(
                    run_id=run["id"], prompt_id=prompt_id, sample_index=0, text="an answer", n_new_tokens=2
                )
                session.add(generation)
                session.flush()
                first = Verdict.HARMFUL if rng.random() < HARM[run["condition_name"]] else Verdict.SAFE
                second = first if rng.random() < 0.9 else Verdict.SAFE
                for judge_id, verdict in zip(judge_ids, (first, second), strict=True):
                    session.add(Judgment(generation_id=generation.id, judge_id=judge_id, verdict=verdict))
            session.flush()
            for judge_id in judge_ids:
                assert judge_id is not None
                refresh_prompt_cells(session, run["id"], judge_id)
            stored = session.get(Run, run["id"])
            assert stored is not None
            stored.status, stored.progress, stored.progress_message = RunStatus.DONE, 1.0, "done"
        session.commit()
    engine.dispose()


def owner_credentials(settings: Settings, next_path: str) -> tuple[dict[str, str], str]:
    """An API token's header and a one-time sign-in link of the local owner."""
    engine = make_engine(settings.resolved_database_url)
    with make_session_factory(engine)() as session:
        accounts.ensure_local_owner(session, settings)
        owner = accounts.find_user(session, None, settings)
        token = accounts.create_api_token(session, owner.id, "bench", can_write=True).token
        link = accounts.create_login_link(session, settings, owner.id, next_path)
    engine.dispose()
    return {"authorization": f"Bearer {token}"}, link


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def measure(server: psutil.Process, seconds: float, act: Callable[[], None], interval_s: float) -> float:
    """The server's CPU seconds over a window of `seconds`, `act` running every `interval_s` (0: never)."""
    start_cpu, start = cpu_seconds(server), time.monotonic()
    next_act = start
    while time.monotonic() - start < seconds:
        if interval_s and time.monotonic() >= next_act:
            act()
            next_act += interval_s
        time.sleep(0.05)
    return cpu_seconds(server) - start_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each window")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium window")
    options = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="seedscope-polling-"))
    settings = Settings(
        home=directory / "home",
        database_url=f"sqlite:///{directory / 'seedscope.sqlite'}",
        broker_url=f"sqla+sqlite:///{directory / 'broker.sqlite'}",
    )
    settings.ensure_dirs()
    upgrade_to_head(settings.resolved_database_url)
    server, url = start_server(settings, directory / "api.log")
    try:
        headers, _ = owner_credentials(settings, "/")
        spec = {
            "name": "polling bench",
            "benchmark": f"{HARMFUL_DEMO.name}@{HARMFUL_DEMO.version}",
            "training_set": f"{BENIGN_DEMO.name}@{BENIGN_DEMO.version}",
            "seeds": [0, 1, 2],
            "judges": list(JUDGES),
            "conditions": [
                {"name": "baseline", "finetune": False, "seeds": [0]},
                {"name": "lr-2e-4", "training": {"learning_rate": 2e-4}},
                {"name": "lr-5e-4", "training": {"learning_rate": 5e-4}},
            ],
        }
        experiment = httpx.post(f"{url}/api/experiments", json=spec, headers=headers).json()
        judge_everything_but_one_run(settings, experiment)
        base = f"{url}/api/experiments/{experiment['id']}"
        # Signed in as a browser is: a session cookie from a one-time link.
        client = httpx.Client(timeout=60)
        signed_in = client.get(url + owner_credentials(settings, "/")[1])
        assert signed_in.status_code == 303 and "seedscope_session" in client.cookies, signed_in.text
        process = psutil.Process(server.pid)

        old_paths = [
            base,
            f"{base}/analysis?adjust=holm&metric=rate",
            *[f"{base}/figures/{name}" for name in FIGURES],
            f"{base}/report.md?adjust=holm",
            f"{base}/prompts?page=1&page_size=10",
        ]

        def old_refresh() -> None:
            for path in old_paths:
                client.get(path).raise_for_status()

        etag = client.get(f"{base}/state").headers["etag"]

        def new_poll() -> None:
            answer = client.get(f"{base}/state", headers={"if-none-match": etag})
            assert answer.status_code == 304, answer.status_code

        old_refresh()  # the memo warm, as on the old page's second refresh onwards
        results = {"no dashboard (the server alone)": measure(process, options.seconds, lambda: None, 0)}
        results["old page, replayed: 11 requests every 3.3 s"] = measure(
            process, options.seconds, old_refresh, OLD_INTERVAL_S
        )
        results["new page, replayed: GET .../state (304) every 5 s"] = measure(
            process, options.seconds, new_poll, NEW_INTERVAL_S
        )
        if not options.no_browser and Path(CHROMIUM).exists():
            results["new page in Chromium, drawn, then left open"] = browser_window(
                settings, url, experiment["id"], process, options.seconds
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)

    idle = results["no dashboard (the server alone)"]
    window = f"{options.seconds:g} s"
    print(f"Server CPU seconds per {window} window, one dashboard open on an unchanging experiment (SQLite):")
    for name, seconds in results.items():
        extra = "" if name.startswith("no dashboard") else f"  ({seconds - idle:.3f} above the server alone)"
        print(f"  {name:52} {seconds:.3f}{extra}")
    old = results["old page, replayed: 11 requests every 3.3 s"] - idle
    new = results["new page, replayed: GET .../state (304) every 5 s"] - idle
    if new > 0:
        print(f"old / new (replayed, above the server alone): {old / new:.0f}x")


def browser_window(
    settings: Settings, url: str, experiment_id: int, process: psutil.Process, seconds: float
) -> float:
    from playwright.sync_api import sync_playwright

    _, link = owner_credentials(settings, f"/experiments/{experiment_id}")
    with sync_playwright() as playwright:
        flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url + link)
        page.locator("#figure-power .main-svg").first.wait_for(timeout=60_000)
        page.wait_for_timeout(5000)  # the first poll answered, every figure drawn
        used = measure(process, seconds, lambda: page.wait_for_timeout(100), 0.5)
        browser.close()
    return used


if __name__ == "__main__":
    main()
