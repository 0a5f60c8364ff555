"""examples/grid-demo.yaml end to end: a real worker prepares the aligned base, fine-tunes both embedded
models on two training sets in two formats, evaluates every checkpoint greedily and at T = 0.7 on both
built-in benchmarks, and judges. The factor table the dashboard shows equals the one computed by hand from
the stored verdicts.

The example runs at its own shape (every model, training set, benchmark, judge, condition and seed) with
cheaper settings, so that it fits in CI: 16 training examples per run and 8 new tokens per response."""

from collections.abc import Callable
from itertools import product
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.api.app import create_app
from backend.config import Settings
from backend.migrate import upgrade_to_head
from backend.models import Prompt, PromptCell, Run
from tests.conftest import TEST_CLIENT_HOST, sign_in_as_local_owner
from tests.e2e.conftest import Service, all_finished, wait_for

# Preparing the aligned base alone takes CPU-minutes, which would put `make test` past its time budget.
pytestmark = [pytest.mark.slow, pytest.mark.demo]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "grid-demo.yaml"


def _cheaper(spec: dict) -> dict:
    spec["grid"]["settings"]["training"]["subset_size"] = 16
    spec["generation"]["max_new_tokens"] = 8
    return spec


def _rates_by_hand(client: TestClient, experiment: dict) -> dict[int, float]:
    """Each condition's share of harmful verdicts among its scored ones, over every run, by the first judge
    on the first benchmark's prompts (what the dashboard's default view measures)."""
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        rows = session.execute(
            select(
                Run.condition_id, func.sum(PromptCell.harmful), func.sum(PromptCell.harmful + PromptCell.safe)
            )
            .join(Run, Run.id == PromptCell.run_id)
            .join(Prompt, Prompt.id == PromptCell.prompt_id)
            .where(
                Run.id.in_([run["id"] for run in experiment["runs"]]),
                PromptCell.judge_id == experiment["judges"][0]["id"],
                Prompt.benchmark_id == experiment["benchmarks"][0]["id"],
            )
            .group_by(Run.condition_id)
        ).all()
    return {condition_id: harmful / scored for condition_id, harmful, scored in rows}


def test_the_grid_demo_runs_end_to_end_and_its_factor_table_is_the_verdicts(
    tmp_path: Path, start_worker: Callable[..., Service]
) -> None:
    # The embedded default's database and broker; the worker prepares the aligned base in the home.
    settings = Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{tmp_path / 'seedscope.sqlite'}",
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        allowed_hosts=[TEST_CLIENT_HOST],
    )
    settings.ensure_dirs()
    upgrade_to_head(settings.resolved_database_url)
    worker = start_worker(settings)
    with TestClient(create_app(settings)) as client:
        sign_in_as_local_owner(client, settings)
        submitted = client.post("/api/experiments", json=_cheaper(yaml.safe_load(EXAMPLE.read_text())))
        assert submitted.status_code == 201, submitted.text
        url = f"/api/experiments/{submitted.json()['id']}"
        runs = lambda: client.get(url).json()["runs"]  # noqa: E731
        wait_for(
            lambda: all_finished(runs()), 3000, "every run to finish", lambda: f"{runs()}\n{worker.log()}"
        )
        experiment = client.get(url).json()
        assert [run["status"] for run in experiment["runs"]] == ["done"] * 18
        analysis = client.get(f"{url}/analysis").json()
        rates = _rates_by_hand(client, experiment)

    levels = {c["id"]: c["spec"]["levels"] for c in experiment["conditions"] if c["spec"]["levels"]}
    factors = {factor["factor"]: factor for factor in analysis["grid"]["factors"]}
    assert list(factors) == ["base_model", "training_set", "generation.temperature"]
    for name, factor in factors.items():
        effect = factor["effects"][0]

        def mean_at(level: object, name: str = name) -> float:
            return sum(rates[c] for c, at in levels.items() if at[name] == level) / 4

        assert effect["estimate"] == pytest.approx(mean_at(effect["level"]) - mean_at(effect["reference"]))
        assert effect["verdict"] in ("real", "could be noise", "cannot tell")
        assert factor["level_means"] == pytest.approx([mean_at(level) for level in factor["levels"]])
    # Every combination was trained or evaluated, on both benchmarks, against its own model's baseline.
    assert len(levels) == len(list(product(*(f["levels"] for f in factors.values())))) == 8
    assert [view["benchmark"] for view in analysis["by_benchmark"]] == [
        "seedscope-harmful-demo@1",
        "seedscope-harmful-demo-b@1",
    ]
    against = {c["a"]: c["b"] for c in analysis["comparisons"]}
    instruct = "base_model=smollm2-135m-instruct training_set=seedscope-benign-dolly-v1 temperature=0"
    assert against[instruct] == "baseline instruct"
