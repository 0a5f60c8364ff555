"""condition_score_cells: a judge's scores per (condition, seed, prompt), aggregated in SQL, on SQLite and
PostgreSQL, against a Python sum over the stored judgments."""

import json
from collections import defaultdict

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.domain import Verdict
from backend.errors import InvalidInput
from backend.models import Generation, Judgment, Run
from backend.repositories.analysis import condition_score_cells
from tests.factories import add_verdicts, experiment_spec

H, S, U = Verdict.HARMFUL, Verdict.SAFE, Verdict.UNSCORED
PROMPTS = 4
SAMPLES = 2


def random_judgments(rng: np.random.Generator) -> tuple[list[list[Verdict]], list[list[float | None]]]:
    """Verdicts with scores; some scores missing, and unscored verdicts with a score (left out too)."""
    verdicts = [[[H, S, U][rng.integers(3)] for _ in range(SAMPLES)] for _ in range(PROMPTS)]
    scores = [
        [None if rng.random() < 0.2 else float(rng.random()) for _ in range(SAMPLES)] for _ in range(PROMPTS)
    ]
    return verdicts, scores


@pytest.fixture
def experiment(db_client: TestClient) -> dict:
    """Baseline (seed 0) and a fine-tune (seeds 0, 1), one re-evaluation; scores by the first judge, and by
    the second on every generation."""
    content = "\n".join(json.dumps({"id": f"p{i}", "prompt": f"request {i}"}) for i in range(PROMPTS))
    db_client.post("/api/benchmarks", json={"name": "scores", "format": "jsonl", "content": content})
    spec = experiment_spec(
        benchmark="scores",
        seeds=[0, 1],
        judges=["refusal-minilm", "refusal-phrases"],
        generation={"samples_per_prompt": SAMPLES, "temperature": 0.7},
        conditions=[{"name": "baseline", "finetune": False, "seeds": [0]}, {"name": "lr-2e-4"}],
    )
    created = db_client.post("/api/experiments", json=spec).json()
    rng = np.random.default_rng(3)
    session_factory = db_client.app.state.session_factory  # type: ignore[attr-defined]

    def judge(run_id: int, verdicts: list[list[Verdict]] | None = None) -> None:
        with session_factory() as session:
            random_verdicts, scores = random_judgments(rng)
            add_verdicts(session, run_id, verdicts or random_verdicts, scores=scores)

    for run in created["runs"]:
        judge(run["id"])
    # A re-evaluation of a finished checkpoint: its scores pool into the checkpoint's seed.
    reevaluation = db_client.post(f"/api/runs/{created['runs'][1]['id']}/reevaluate", json={"count": 1})
    judge(reevaluation.json()["runs"][0]["id"], [[S] * SAMPLES] * PROMPTS)
    with session_factory() as session:
        for generation in session.scalars(select(Generation)):
            session.add(
                Judgment(
                    generation_id=generation.id, judge_id=created["judges"][1]["id"], verdict=H, score=0.25
                )
            )
        session.commit()
    return created


def stored_scores(
    db_client: TestClient, judge_id: int
) -> dict[tuple[int, int, int], tuple[float, int, float]]:
    """(condition, seed, prompt) -> (sum, count, sum of squares), read through the ORM one by one."""
    sums: dict[tuple[int, int, int], list[float]] = defaultdict(lambda: [0.0, 0, 0.0])
    with db_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for judgment in session.scalars(select(Judgment).where(Judgment.judge_id == judge_id)):
            if judgment.verdict == U or judgment.score is None:
                continue
            generation = session.get(Generation, judgment.generation_id)
            assert generation is not None
            run = session.get(Run, generation.run_id)
            assert run is not None
            cell = sums[(run.condition_id, run.seed, generation.prompt_id)]
            cell[0] += judgment.score
            cell[1] += 1
            cell[2] += judgment.score**2
    return {key: (total, int(count), squares) for key, (total, count, squares) in sums.items()}


def aggregated(db_client: TestClient, experiment_id: int, judge_id: int) -> dict[tuple[int, int, int], tuple]:
    with db_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        cells = condition_score_cells(session, experiment_id, judge_id)
    return {
        (condition_id, int(s), int(p)): (float(h), int(n), float(q))
        for condition_id, c in cells.items()
        for s, p, h, n, q in zip(c.seed, c.prompt, c.harmful, c.scored, c.sum_squares, strict=True)
    }


def test_score_cells_equal_a_sum_over_the_stored_judgments(db_client: TestClient, experiment: dict) -> None:
    first, second = (judge["id"] for judge in experiment["judges"])
    expected = stored_scores(db_client, first)
    actual = aggregated(db_client, experiment["id"], first)
    assert actual.keys() == expected.keys()
    for key, (total, count, squares) in expected.items():
        assert actual[key] == (pytest.approx(total, rel=1e-12), count, pytest.approx(squares, rel=1e-12))
    # The re-evaluation is pooled into its seed: more scores in a cell than one run has samples.
    assert max(count for _, count, _ in actual.values()) > SAMPLES
    # Each judge's own scores: the second judge scored every generation .25.
    by_second = aggregated(db_client, experiment["id"], second)
    assert sum(count for _, count, _ in by_second.values()) == 4 * PROMPTS * SAMPLES
    assert all(total == pytest.approx(0.25 * count) for total, count, _ in by_second.values())


def test_scores_outside_zero_one_are_refused(db_client: TestClient, experiment: dict) -> None:
    judge = experiment["judges"][1]["id"]
    with db_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        judgment = session.scalars(select(Judgment).where(Judgment.judge_id == judge)).first()
        assert judgment is not None
        judgment.score = -0.125  # a cosine similarity, say
        session.commit()
        with pytest.raises(InvalidInput, match=r"from -0.125 to 0.25: a mean score needs scores in \[0, 1\]"):
            condition_score_cells(session, experiment["id"], judge)


def test_an_experiment_without_scores_has_no_score_cells(db_client: TestClient, experiment: dict) -> None:
    with db_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        assert condition_score_cells(session, experiment["id"] + 1, experiment["judges"][0]["id"]) == {}
