"""`seedscope`: migrate the database, serve the API, submit experiments and watch them from a terminal."""

import argparse
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy.exc import SQLAlchemyError

from backend.config import Settings
from backend.db import redact, redacted_url
from backend.domain import RunStatus
from backend.errors import database_reason

# Addresses that mean "every interface": they name no host a browser would send.
ALL_INTERFACES = {"0.0.0.0", "::", ""}


def migrate(settings: Settings) -> None:
    """Bring the database to the newest schema (Alembic upgrade head)."""
    from backend.schema import upgrade_to_head

    settings.ensure_dirs()
    upgrade_to_head(settings.resolved_database_url)


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from backend.api.app import create_app

    migrate(settings)
    if host not in ALL_INTERFACES and host not in settings.allowed_hosts:
        settings = settings.model_copy(update={"allowed_hosts": [*settings.allowed_hosts, host]})
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def _check(response: httpx.Response) -> dict:
    if response.is_error:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        sys.exit(f"error {response.status_code}: {detail}")
    return response.json()


def submit(settings: Settings, path: Path) -> int:
    """POST a YAML experiment file to the API; returns the experiment id."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        sys.exit(f"cannot read {path}: {error}")
    response = httpx.post(
        f"{settings.api_url}/api/experiments/yaml",
        content=text.encode(),
        headers={"content-type": "application/yaml"},
        timeout=60,
    )
    experiment = _check(response)
    print(f"experiment {experiment['id']} submitted: {len(experiment['runs'])} runs")
    print(f"dashboard: {settings.api_url}/experiments/{experiment['id']}")
    return experiment["id"]


def _progress_line(run: dict) -> str:
    status = run["status"]
    where = (
        f"{status} {100 * run['progress']:3.0f}%"
        if status in ("training", "generating", "judging")
        else status
    )
    rate = run.get("rate") or {}
    rated = f"harmful {100 * rate['rate']:.0f}%" if rate.get("rate") is not None else ""
    detail = run["error"] or run["progress_message"]
    return f"  {run['condition_name']:<16} seed {run['seed']:<4} {where:<16} {rated:<13} {detail}"[:150]


def watch(settings: Settings, experiment_id: int, interval_s: float = 5.0) -> bool:
    """Print every run's status until all have finished; True if all are done."""
    started = time.monotonic()
    while True:
        experiment = _check(httpx.get(f"{settings.api_url}/api/experiments/{experiment_id}", timeout=30))
        runs = experiment["runs"]
        finished = [r for r in runs if RunStatus(r["status"]).is_terminal]
        elapsed = time.monotonic() - started
        print(f"\n[{elapsed / 60:5.1f} min] {len(finished)}/{len(runs)} runs finished")
        for run in runs:
            print(_progress_line(run))
        if len(finished) == len(runs):
            return all(r["status"] == RunStatus.DONE for r in runs)
        time.sleep(interval_s)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="seedscope", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the database schema")
    serve_parser = commands.add_parser("serve", help="migrate, then serve the API and dashboard")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    submit_parser = commands.add_parser("submit", help="submit a YAML experiment file to the API")
    submit_parser.add_argument("file", type=Path)
    submit_parser.add_argument("--watch", action="store_true", help="print progress until every run finishes")
    watch_parser = commands.add_parser("watch", help="print an experiment's progress until it finishes")
    watch_parser.add_argument("experiment_id", type=int)
    resume_parser = commands.add_parser("resume", help="queue an experiment's unfinished runs again")
    resume_parser.add_argument("experiment_id", type=int)
    cancel_parser = commands.add_parser("cancel", help="cancel an experiment's unfinished runs")
    cancel_parser.add_argument("experiment_id", type=int)
    args = parser.parse_args(argv)

    settings = Settings()
    try:
        _run(args, settings)
    except SQLAlchemyError as error:
        # The driver's reason, never the URL's password (SQLAlchemy's message can quote the URL).
        url = settings.resolved_database_url
        sys.exit(f"database error at {redacted_url(url)}: {redact(database_reason(error), url)}")


def _run(args: argparse.Namespace, settings: Settings) -> None:
    if args.command == "migrate":
        migrate(settings)
    elif args.command == "serve":
        serve(settings, args.host, args.port)
    elif args.command == "submit":
        experiment_id = submit(settings, args.file)
        if args.watch and not watch(settings, experiment_id):
            sys.exit(1)
    elif args.command == "watch" and not watch(settings, args.experiment_id):
        sys.exit(1)
    elif args.command in ("resume", "cancel"):
        experiment = _check(
            httpx.post(f"{settings.api_url}/api/experiments/{args.experiment_id}/{args.command}")
        )
        print(f"experiment {experiment['id']}: {experiment['status_counts']}")


if __name__ == "__main__":
    main()
