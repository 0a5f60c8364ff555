"""The generation-speed bench runs end to end in its CPU mode (a smoke test: no figure is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_the_cpu_mode_measures_every_case_and_summarises(tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    result = subprocess.run(
        [sys.executable, "bench/generation_speed.py", "--cpu", "--repeats", "1", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["environment"]["mode"] == "cpu"
    assert {(row["kind"], row["who"]) for row in report["rows"]} == {
        *((kind, who) for kind in ("generation", "training") for who in ("project", "anchor")),
        ("generation", "mixed-adapter batches"),
    }
    assert all(row["tokens"] > 0 and row["seconds"] > 0 for row in report["rows"])
    (summary,) = report["summary"]
    assert summary.startswith("tiny: generation ") and "vs plain HF" in summary
    assert "mixed-adapter batches" in summary and "LoRA training" in summary
    assert summary in result.stdout


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_gpu_mode_measures_the_1_5b_shape(tmp_path: Path) -> None:
    """On the GPU machine; the figures it prints go to docs/performance.md, not into an assertion."""
    out = tmp_path / "speed.json"
    result = subprocess.run(
        [sys.executable, "bench/generation_speed.py", "--shapes", "1.5B", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["environment"]["mode"] == "gpu"
    assert all(row["peak_gib"] > 0 for row in report["rows"])
    assert "H200 target" in report["summary"][0]
