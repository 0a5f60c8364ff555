"""The API process must never import torch, transformers, peft or inspect_ai (an import reads Inspect's files
itself), and loads pyarrow only to export."""

import subprocess
import sys

from tests.conftest import REPO

HEAVY = ("torch", "transformers", "peft", "inspect_ai")
# Imported by the Parquet export only, when one is asked for.
ON_DEMAND = ("pyarrow",)


def test_building_the_app_and_serving_a_figure_imports_no_ml_library(tmp_path) -> None:
    script = f"""
import sys
from fastapi.testclient import TestClient
from backend.api.app import create_app
from backend.cli import migrate
from backend.config import Settings
from backend.services import accounts
settings = Settings(home={str(tmp_path)!r}, broker_url="memory://", allowed_hosts=["testserver"])
migrate(settings)
with TestClient(create_app(settings)) as client:
    with client.app.state.session_factory() as session:
        owner = accounts.find_user(session, None, settings)
        assert client.get(accounts.create_login_link(session, settings, owner.id)).status_code == 200
    assert client.get("/api/catalog").status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/api/experiments").status_code == 200
    print(sorted(m for m in sys.modules if m.split(".")[0] in {ON_DEMAND!r}))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print(heavy)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    on_demand, heavy = result.stdout.strip().splitlines()[-2:]
    assert (on_demand, heavy) == ("[]", "[]")


def test_backend_source_never_imports_the_worker_or_ml_libraries() -> None:
    offenders = [
        f"{path.relative_to(REPO)}: {line.strip()}"
        for path in (REPO / "backend").rglob("*.py")
        for line in path.read_text().splitlines()
        if line.strip().startswith(("import ", "from "))
        and line.split()[1].split(".")[0] in {*HEAVY, "worker"}
    ]
    assert offenders == []
