"""`seedscope`: migrate the database, serve the API, submit experiments and watch them from a terminal.

The commands that talk to the API (submit, watch, resume, cancel) send SEEDSCOPE_TOKEN; those that manage
accounts (user add, token create, login-url) work on the database directly, on the server's machine.
"""

import argparse
import getpass
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from backend.api_models.accounts import ApiTokenCreated
from backend.config import Settings
from backend.db import redact, redacted_url
from backend.domain import RunStatus
from backend.errors import DomainError, database_reason
from backend.judging.definition import Measured

# Addresses that mean "every interface": they name no host a browser would send.
ALL_INTERFACES = {"0.0.0.0", "::", ""}

Result = TypeVar("Result")


def migrate(settings: Settings) -> None:
    """Bring the database to the newest schema (Alembic upgrade head)."""
    from backend.migrate import upgrade_to_head

    settings.ensure_dirs()
    upgrade_to_head(settings.resolved_database_url)


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from backend.api.app import create_app

    migrate(settings)
    if host not in ALL_INTERFACES and host not in settings.allowed_hosts:
        settings = settings.model_copy(update={"allowed_hosts": [*settings.allowed_hosts, host]})
    # No proxy_headers: the peer address must stay the proxy's, so that X-Forwarded-* and the single
    # sign-on header are believed only from the configured trusted proxies (backend.api.proxies).
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", proxy_headers=False)


def _with_database(settings: Settings, action: Callable[..., Result]) -> Result:
    """Run `action(session)` on the database, with the first start's local owner in place."""
    from backend.db import make_engine, make_session_factory
    from backend.services import accounts

    migrate(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            accounts.ensure_local_owner(session, settings)
            return action(session)
    except DomainError as error:
        sys.exit(str(error))
    finally:
        engine.dispose()


def login_url(settings: Settings, email: str | None = None, next_path: str = "/") -> str:
    """A one-time sign-in link for the account (default: the local owner), like Jupyter's token URL;
    it opens `next_path` once signed in."""
    from backend.services import accounts

    def create(session: Session) -> str:
        user = accounts.find_user(session, email, settings)
        return settings.api_url + accounts.create_login_link(session, settings, user.id, next_path)

    return _with_database(settings, create)


def create_token(
    settings: Settings, name: str, *, can_write: bool, email: str | None = None
) -> ApiTokenCreated:
    """A new API token for the account (default: the local owner); only its hash is stored."""
    from backend.services import accounts

    def create(session: Session) -> ApiTokenCreated:
        user = accounts.find_user(session, email, settings)
        return accounts.create_api_token(session, user.id, name, can_write=can_write)

    return _with_database(settings, create)


def add_user(settings: Settings, email: str, password: str | None) -> None:
    from backend.services import accounts

    _with_database(settings, lambda session: accounts.add_user(session, email, password))


def api_headers(settings: Settings) -> dict[str, str]:
    if not settings.token:
        sys.exit(
            "set SEEDSCOPE_TOKEN to an API token: create one on your account page in the browser, or "
            "with `seedscope token create --write` on the server"
        )
    return {"authorization": f"Bearer {settings.token}"}


def _check(response: httpx.Response) -> dict:
    if response.is_error:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        sys.exit(f"error {response.status_code}: {detail}")
    return response.json()


def _post_yaml(settings: Settings, path: Path, route: str) -> dict:
    """POST a YAML file to an API route that takes YAML; exits with the API's message on an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        sys.exit(f"cannot read {path}: {error}")
    response = httpx.post(
        f"{settings.api_url}{route}",
        content=text.encode(),
        headers={"content-type": "application/yaml", **api_headers(settings)},
        timeout=60,
    )
    return _check(response)


def submit(settings: Settings, path: Path) -> int:
    """POST a YAML experiment file to the API; returns the experiment id."""
    experiment = _post_yaml(settings, path, "/api/experiments/yaml")
    print(f"experiment {experiment['id']} submitted: {len(experiment['runs'])} runs")
    print(f"dashboard: {settings.api_url}/experiments/{experiment['id']}")
    return experiment["id"]


def add_judge(settings: Settings, path: Path) -> str:
    """POST a YAML judge definition; returns the definition's name@version."""
    judge = _post_yaml(settings, path, "/api/judges/yaml")
    print(f"judge {judge['ref']} ({judge['config']['kind']}, {judge['content_hash']})")
    return judge["ref"]


def _progress_line(run: dict, rate_name: str) -> str:
    status = run["status"]
    where = (
        f"{status} {100 * run['progress']:3.0f}%"
        if status in ("training", "generating", "judging")
        else status
    )
    rate = run.get("rate") or {}
    rated = f"{rate_name} {100 * rate['rate']:.0f}%" if rate.get("rate") is not None else ""
    detail = run["error"] or run["progress_message"]
    return f"  {run['condition_name']:<16} seed {run['seed']:<4} {where:<16} {rated:<13} {detail}"[:150]


def watch(settings: Settings, experiment_id: int, interval_s: float = 5.0) -> bool:
    """Print every run's status until all have finished; True if all are done."""
    started = time.monotonic()
    while True:
        url = f"{settings.api_url}/api/experiments/{experiment_id}"
        experiment = _check(httpx.get(url, headers=api_headers(settings), timeout=30))
        runs = experiment["runs"]
        finished = [r for r in runs if RunStatus(r["status"]).is_terminal]
        # Intermediate checkpoints' evaluations (the erosion curve) belong to no condition but finish too.
        checkpoints = experiment["checkpoint_status_counts"]
        checkpoints_left = sum(n for status, n in checkpoints.items() if not RunStatus(status).is_terminal)
        elapsed = time.monotonic() - started
        print(f"\n[{elapsed / 60:5.1f} min] {len(finished)}/{len(runs)} runs finished", end="")
        if checkpoints:
            total = sum(checkpoints.values())
            print(f", {total - checkpoints_left}/{total} checkpoint evaluations", end="")
        print()
        # A refusal judge's rate is the share of responses that comply, not a harm rate.
        rate_name = "complies" if experiment["judges"][0]["measures"] == Measured.COMPLIANCE else "harmful"
        for run in runs:
            print(_progress_line(run, rate_name))
        if len(finished) == len(runs) and checkpoints_left == 0:
            done = all(r["status"] == RunStatus.DONE for r in runs)
            return done and set(checkpoints) <= {RunStatus.DONE.value}
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
    judge_parser = commands.add_parser("judge", help="judge definitions")
    judge_commands = judge_parser.add_subparsers(dest="judge_command", required=True)
    judge_add = judge_commands.add_parser("add", help="add a YAML judge definition (or a new version of one)")
    judge_add.add_argument("file", type=Path)
    email_help = "the account (default: the local owner made on the first start)"
    login_parser = commands.add_parser("login-url", help="print a one-time sign-in link, valid for minutes")
    login_parser.add_argument("--email", help=email_help)
    token_parser = commands.add_parser("token", help="API tokens for the CLI and REST clients")
    token_commands = token_parser.add_subparsers(dest="token_command", required=True)
    create_parser = token_commands.add_parser("create", help="create a token and print it (shown once)")
    create_parser.add_argument("--name", default="cli")
    create_parser.add_argument("--write", action="store_true", help="read-write (default: read-only)")
    create_parser.add_argument("--email", help=email_help)
    user_parser = commands.add_parser("user", help="accounts")
    user_commands = user_parser.add_subparsers(dest="user_command", required=True)
    add_parser = user_commands.add_parser("add", help="create an account; prints a one-time sign-in link")
    add_parser.add_argument("email")
    add_parser.add_argument(
        "--password", action="store_true", help="ask for a password (else they set one after signing in)"
    )
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
    elif args.command == "judge":
        add_judge(settings, args.file)
    elif args.command == "watch" and not watch(settings, args.experiment_id):
        sys.exit(1)
    elif args.command in ("resume", "cancel"):
        experiment = _check(
            httpx.post(
                f"{settings.api_url}/api/experiments/{args.experiment_id}/{args.command}",
                headers=api_headers(settings),
                timeout=60,
            )
        )
        print(f"experiment {experiment['id']}: {experiment['status_counts']}")
    elif args.command == "login-url":
        print(login_url(settings, args.email))
    elif args.command == "token":
        print(create_token(settings, args.name, can_write=args.write, email=args.email).token)
    elif args.command == "user":
        password = getpass.getpass(f"password for {args.email}: ") if args.password else None
        add_user(settings, args.email, password)
        print(f"account {args.email} created; one-time sign-in link: {login_url(settings, args.email)}")


if __name__ == "__main__":
    main()
