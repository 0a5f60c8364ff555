"""The rescoring-throughput bench runs end to end on a tiny experiment (a smoke test: no figure is asserted;
the script itself fails when the job leaves a response unjudged or its rates differ from a SQL count)."""

import subprocess
import sys

import psycopg
import pytest

from tests.conftest import POSTGRES_ADMIN_URL, REPO, missing_service

pytestmark = pytest.mark.slow


def test_a_tiny_experiment_is_rescored_checked_and_its_database_dropped() -> None:
    try:
        psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        missing_service(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error}")
    server_url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    result = subprocess.run(
        [
            sys.executable,
            "bench/rescoring_throughput.py",
            *("--postgres-url", server_url),
            *("--conditions", "2", "--seeds", "2", "--prompts", "8", "--samples", "2"),
            *("--requests", "1", "--pause", "0"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "checked: every one of the 64 responses has one judgment by refusal-phrases@" in result.stdout
    assert "SUMMARY: rescoring " in result.stdout and "plain loop " in result.stdout
    assert "dropped database seedscope_bench_" in result.stdout
