"""Database URLs with passwords: percent-encoding works everywhere (Alembic included), and the password is
never printed, logged or answered."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from backend.api.app import create_app
from backend.config import Settings
from backend.db import redact, redacted_url
from tests.conftest import REPO, TEST_CLIENT_HOST, sign_in_as_local_owner
from tests.test_migrations import _check_round_trip

# Every character that must be percent-encoded in a URL's password, and "%" itself (Alembic's
# ConfigParser read it as interpolation).
PASSWORD = "p@ss%w:rd/?#[]&= 100%"


def test_a_percent_encoded_password_works_with_alembic_and_the_app(postgres_url: str, tmp_path: Path) -> None:
    # Trust authentication on the test server ignores the password; what is checked is that the URL is
    # parsed, not mangled or choked on, by every path that reads it.
    url = make_url(postgres_url).set(password=PASSWORD).render_as_string(hide_password=False)
    assert "%25" in url and make_url(url).password == PASSWORD
    _check_round_trip(url)
    settings = Settings(
        home=tmp_path, database_url=url, broker_url="memory://", allowed_hosts=[TEST_CLIENT_HOST]
    )
    with TestClient(create_app(settings)) as client:
        sign_in_as_local_owner(client, settings)
        assert client.get("/api/catalog").status_code == 200


def test_redaction_hides_every_form_of_the_password() -> None:
    url = f"postgresql+psycopg://seed:{quote(PASSWORD, safe='')}@db:5432/seedscope"
    message = f"failed for {url} (password {PASSWORD}, encoded {quote(PASSWORD, safe='')})"
    redacted = redact(message, url)
    assert PASSWORD not in redacted and quote(PASSWORD, safe="") not in redacted
    assert redacted_url(url) == "postgresql+psycopg://seed:***@db:5432/seedscope"
    assert PASSWORD not in repr(Settings(database_url=url, broker_url=f"redis://:{PASSWORD}@r:6379/0"))


def _unreachable_url() -> str:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql+psycopg://seed:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/seedscope"


def test_the_cli_reports_an_unreachable_database_without_the_password(tmp_path: Path) -> None:
    url = _unreachable_url()
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "migrate"],
        cwd=REPO,
        env={**os.environ, "SEEDSCOPE_DATABASE_URL": url, "SEEDSCOPE_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "database error at postgresql+psycopg://seed:***@127.0.0.1" in output
    assert "Traceback" not in output
    for form in (PASSWORD, quote(PASSWORD, safe="")):
        assert form not in output


def test_the_app_refuses_to_start_on_an_unreachable_database_without_printing_the_password(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path, database_url=_unreachable_url(), broker_url="memory://")
    with pytest.raises(RuntimeError) as caught, TestClient(create_app(settings)):
        pass
    message = str(caught.value)
    assert "seed:***@" in message and "is it running" in message
    assert PASSWORD not in message and quote(PASSWORD, safe="") not in message
