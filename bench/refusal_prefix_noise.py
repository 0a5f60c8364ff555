"""How much smaller is the refusal-prefix score's seed and prompt noise than the judged rate's?

Runs a small version of the demo in-process (the API on a fresh home, each run executed as a worker would,
so the refusal-prefix scores are the ones the generate stage stores), or reads a stored experiment
(--experiment, with --home of its seedscope home), and prints for each fine-tuned condition the variance
components (backend/stats/variance.py, as the dashboard shows them) of the judged rate (the first judge's
share of complying responses) and of the refusal-prefix score, side by side, with their ratios. Both are
probabilities in [0, 1], so their variances are on one scale (the rate counts compliance, the score
refusal: a sign, which variances do not see).

    PYTHONPATH=. .venv/bin/python bench/refusal_prefix_noise.py                 # baseline + lr 2e-4 x 3 seeds
    PYTHONPATH=. .venv/bin/python bench/refusal_prefix_noise.py --experiment 1 --home .seedscope
"""

import argparse
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.config import Settings
from backend.jobs import RUNS, JobKind
from backend.migrate import upgrade_to_head
from backend.services import accounts
from worker.models.cache import ModelCache
from worker.store import RunStore
from worker.tasks import execute

TEST_HOST = "testserver"
COMPONENTS = ("seed", "prompt", "seed_x_prompt")


class RunsInProcess:
    """The broker's stand-in: the runs the API queues, executed here one after another."""

    def __init__(self) -> None:
        self.runs: list[int] = []

    def enqueue(self, kind: JobKind[Any], job_id: int) -> None:
        if kind is RUNS:
            self.runs.append(job_id)


def small_demo(seeds: int, learning_rate: float) -> dict[str, Any]:
    """The demo's setup (examples/demo.yaml) at its smallest: the untuned baseline and one learning rate."""
    return {
        "name": f"refusal-prefix noise: lr {learning_rate:g} x {seeds} seeds",
        "base_model": "embedded:smollm2-135m-aligned",
        "benchmark": "seedscope-harmful-demo@1",
        "training_set": "seedscope-benign-demo@1",
        "judges": ["refusal-minilm"],
        "seeds": list(range(seeds)),
        "generation": {"temperature": 0, "max_new_tokens": 48},
        "conditions": [
            {"name": "baseline", "finetune": False, "seeds": [0]},
            {
                "name": f"lr-{learning_rate:g}",
                "training": {"learning_rate": learning_rate, "epochs": 1, "batch_size": 8, "max_length": 128},
            },
        ],
    }


def signed_in(client: TestClient, settings: Settings) -> None:
    """The way `make demo` signs in: a one-time link for the local owner."""
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        owner = accounts.find_user(session, None, settings)
        link = accounts.create_login_link(session, settings, owner.id)
    response = client.get(link, follow_redirects=False)
    if response.status_code != 303:
        raise SystemExit(f"could not sign in: {response.status_code} {response.text}")


def run_all(client: TestClient, queue: RunsInProcess, settings: Settings) -> None:
    store = RunStore(client.app.state.session_factory)  # type: ignore[attr-defined]
    models = ModelCache()
    while queue.runs:
        run_id = queue.runs.pop(0)
        started = time.perf_counter()
        execute(run_id, store, settings, models)
        run = client.get(f"/api/runs/{run_id}").json()
        print(
            f"run {run_id} ({run['condition_name']}, seed {run['seed']}): {run['status']} in "
            f"{time.perf_counter() - started:.0f} s {run['timings']}",
            flush=True,
        )


def _cell(component: dict[str, Any] | None) -> str:
    if component is None:
        return "—"
    estimate, low, high = component["estimate"], component["low"], component["high"]
    return f"{estimate:.5f} [{low:.5f}, {high:.5f}]"


def _ratio(prefix: dict[str, Any] | None, rate: dict[str, Any] | None) -> str:
    if prefix is None or rate is None or not rate["estimate"]:
        return "—"
    return f"{prefix['estimate'] / rate['estimate']:.3f}"


def report(client: TestClient, experiment_id: int) -> list[str]:
    """The two metrics' variance components per condition, their ratios, and each condition's mean."""
    url = f"/api/experiments/{experiment_id}/analysis"
    analyses = {
        metric: client.get(url, params={"metric": metric}).json() for metric in ("rate", "refusal-prefix")
    }
    for metric, analysis in analyses.items():
        if "variance" not in analysis:
            raise SystemExit(f"no analysis in {metric}: {analysis}")
    lines = [
        f"judged rate: {analyses['rate']['judge']} (share complying); refusal-prefix: "
        f"{analyses['refusal-prefix']['judge']} (probability of a refusal opening)"
    ]
    for metric, analysis in analyses.items():
        for condition in analysis["conditions"]:
            seeds = ", ".join(f"{p['rate']:.3f}" for p in condition["seeds"])
            lines.append(
                f"{metric:>14} {condition['name']:>10}: per seed {seeds}; mean {condition['mean']:.3f}"
            )
    by_name = {metric: {v["name"]: v for v in analysis["variance"]} for metric, analysis in analyses.items()}
    for name, rate in by_name["rate"].items():
        prefix = by_name["refusal-prefix"].get(name)
        if prefix is None:
            continue
        lines.append(
            f"\n{name}: {rate['n_seeds']} seeds x {rate['n_prompts']} prompts "
            f"(refusal-prefix: {prefix['n_seeds']} x {prefix['n_prompts']})"
        )
        lines.append(f"{'component':>14} | {'judged rate [95%]':>34} | {'refusal-prefix [95%]':>34} | ratio")
        for component in COMPONENTS:
            a, b = rate["components"][component], prefix["components"][component]
            lines.append(f"{component:>14} | {_cell(a):>34} | {_cell(b):>34} | {_ratio(b, a)}")
        total = {
            m: sum(v["components"][c]["estimate"] or 0 for c in COMPONENTS)
            for m, v in (("rate", rate), ("refusal-prefix", prefix))
        }
        lines.append(
            f"{'total':>14} | {total['rate']:>34.5f} | {total['refusal-prefix']:>34.5f} | "
            f"{total['refusal-prefix'] / total['rate']:.3f}"
            if total["rate"]
            else ""
        )
        seed_sd = {
            m: math.sqrt(max(v["components"]["seed"]["estimate"] or 0, 0))
            for m, v in (("rate", rate), ("refusal-prefix", prefix))
        }
        lines.append(
            f"seed SD: judged rate {100 * seed_sd['rate']:.2f} points, refusal-prefix "
            f"{100 * seed_sd['refusal-prefix']:.2f} points"
        )
    for metric, analysis in analyses.items():
        for c in analysis["comparisons"]:
            given, new = c["given_checkpoints"], c["new_seeds"]
            width = f"{100 * (new['high'] - new['low']):.1f}" if new else "—"
            lines.append(
                f"{metric:>14} {c['a']} - {c['b']}: {100 * c['estimate']:+.1f} points; 95% width given "
                f"these checkpoints {100 * (given['high'] - given['low']):.1f}, for new seeds {width}; "
                f"{c['verdict']}"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--experiment", type=int, help="report on this stored experiment instead of running one"
    )
    parser.add_argument("--home", type=Path, help="the seedscope home (default: a fresh temporary one)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    args = parser.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="seedscope-refusal-prefix-"))
    settings = Settings(home=home, allowed_hosts=[TEST_HOST], device="cpu")
    settings.ensure_dirs()
    upgrade_to_head(settings.resolved_database_url)
    queue = RunsInProcess()
    started = time.perf_counter()
    with TestClient(create_app(settings, queue)) as client:  # type: ignore[arg-type]  # TaskQueue's one method
        signed_in(client, settings)
        experiment_id = args.experiment
        if experiment_id is None:
            response = client.post("/api/experiments", json=small_demo(args.seeds, args.learning_rate))
            response.raise_for_status()
            experiment_id = response.json()["id"]
            print(f"home {home}, experiment {experiment_id}", flush=True)
            run_all(client, queue, settings)
        print("\n".join(report(client, experiment_id)))
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
