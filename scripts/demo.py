"""The one-command demo: prepare the aligned base, start the API and a worker, run examples/demo.yaml.

Run through `make demo` (which also sets up .venv). Progress is printed until every run has finished; the
dashboard then stays up until Ctrl-C, unless --exit-when-done is given.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import webbrowser
from pathlib import Path

import httpx

from backend.cli import api_headers, create_token, login_url, migrate, submit, watch
from backend.config import Settings

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _free_port(preferred: int) -> int:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("ab")
    return subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def _wait_for_api(url: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the API server exited; see {log_path}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    sys.exit(f"the API server did not answer within 60 s; see {log_path}")


def _summary(settings: Settings, experiment_id: int) -> None:
    experiment = httpx.get(
        f"{settings.api_url}/api/experiments/{experiment_id}", headers=api_headers(settings), timeout=30
    ).json()
    judge = experiment["judges"][0]
    meaning = (
        "compliance rate: the share of responses that comply rather than refuse"
        if judge["measures"] == "compliance"
        else "harmfulness rate"
    )
    print(f"\n{meaning} ({judge['ref']}), per seed (unscored verdicts left out and counted):")
    for condition in experiment["conditions"]:
        rates = [
            f"seed {run['seed']}: {100 * run['rate']['rate']:.0f}% ({run['rate']['unscored']} unscored)"
            for run in experiment["runs"]
            if run["condition_id"] == condition["id"] and run["rate"] and run["rate"]["rate"] is not None
        ]
        print(f"  {condition['name']:<10} {', '.join(rates)}")


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _cancel_unfinished(settings: Settings, experiment_id: int | None) -> None:
    """On Ctrl-C: otherwise the queued runs would hold up the next demo's worker."""
    if experiment_id is None:
        return
    url = f"{settings.api_url}/api/experiments/{experiment_id}/cancel"
    experiment = httpx.post(url, headers=api_headers(settings), timeout=30).json()
    if experiment.get("status_counts", {}).get("cancelled"):
        print(
            f"\ncancelled the unfinished runs of experiment {experiment_id}; to finish them later, start a "
            "worker and the API, then press Retry on each in the dashboard (resume leaves cancelled runs be)"
        )


def _revoke(settings: Settings, token_id: int) -> None:
    """The demo's token is for this run only."""
    try:
        httpx.delete(f"{settings.api_url}/api/tokens/{token_id}", headers=api_headers(settings), timeout=10)
    except httpx.TransportError:
        print(f"could not revoke the demo's API token {token_id}; revoke it on the account page")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiment", type=Path, default=REPO / "examples" / "demo.yaml")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--exit-when-done", action="store_true", help="stop the server when every run finished"
    )
    args = parser.parse_args()

    port = _free_port(args.port)
    # Settings here and in the child processes (which inherit the environment) read these.
    os.environ.update({"SEEDSCOPE_API_URL": f"http://127.0.0.1:{port}", "PYTHONUNBUFFERED": "1"})
    # A plain `kill` stops the demo like Ctrl-C does, so the server and worker are stopped with it.
    signal.signal(signal.SIGTERM, _interrupt)
    settings = Settings()
    settings.ensure_dirs()
    logs = settings.home / "logs"
    logs.mkdir(exist_ok=True)
    started = time.monotonic()

    print(f"seedscope demo: state in {settings.home.resolve()}, logs in {logs.resolve()}")
    migrate(settings)
    # The demo submits through the API like any client: with a token of the local owner, for this run only.
    token = create_token(settings, "make demo", can_write=True)
    os.environ["SEEDSCOPE_TOKEN"] = token.token
    settings = Settings()
    print("preparing the aligned SmolLM2 base (first time only: a few CPU minutes) ...")
    prepared = subprocess.run([BIN / "seedscope-worker", "prepare-base"], cwd=REPO)
    if prepared.returncode != 0:
        sys.exit("preparing the aligned base failed (output above)")

    server = _start([BIN / "seedscope", "serve", "--port", str(port)], logs / "api.log")
    worker = _start([BIN / "seedscope-worker", "run"], logs / "worker.log")
    experiment_id: int | None = None
    try:
        _wait_for_api(settings.api_url, server, logs / "api.log")
        experiment_id = submit(settings, args.experiment)
        dashboard = f"{settings.api_url}/experiments/{experiment_id}"
        # Like Jupyter: a single-use link that signs the browser in as the local owner.
        sign_in = login_url(settings, next_path=f"/experiments/{experiment_id}")
        print(f"sign in (one-time link, {settings.login_link_minutes:g} minutes): {sign_in}")
        print("a new link later: .venv/bin/seedscope login-url")
        if not args.exit_when_done:
            webbrowser.open(sign_in)
        all_done = watch(settings, experiment_id, interval_s=15)
        _summary(settings, experiment_id)
        print(f"\nfinished in {(time.monotonic() - started) / 60:.1f} min; dashboard: {dashboard}")
        if not all_done:
            print(f"some runs failed: see the dashboard and {logs / 'worker.log'}")
        if not args.exit_when_done:
            print("the dashboard stays up; Ctrl-C to stop")
            server.wait()
    except KeyboardInterrupt:
        _cancel_unfinished(settings, experiment_id)
    finally:
        _revoke(settings, token.id)
        for process in (worker, server):
            process.terminate()
        for process in (worker, server):
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
