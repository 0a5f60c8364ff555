"""The labelling sample's strata, counted in SQL on SQLite and PostgreSQL, against the rule read in Python
over the stored judgments: a response is where its judges disagree, all say harmful or all say safe,
counting scored verdicts only; a response no judge scored is not drawn."""

from collections import defaultdict

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.domain import Verdict
from backend.errors import Conflict
from backend.labelling.sampling import ALL_HARMFUL, ALL_SAFE, DISAGREE, StratumKey
from backend.models import Condition, Generation, Judgment, Run
from backend.repositories.labelling import generations_at, stratum_sizes
from tests.factories import add_verdicts, experiment_spec, judge_again, upload_small_benchmark

VERDICTS = (Verdict.HARMFUL, Verdict.SAFE, Verdict.UNSCORED)
PROMPTS, SAMPLES = 4, 3


@pytest.fixture
def experiment(db_client: TestClient) -> dict:
    """A baseline and a fine-tune (seeds 0 and 1), judged by two judges at random, unscored verdicts too."""
    upload_small_benchmark(db_client, "four-prompts", PROMPTS)
    spec = experiment_spec(
        benchmark="four-prompts",
        seeds=[0, 1],
        judges=["refusal-minilm", "refusal-phrases"],
        generation={"samples_per_prompt": SAMPLES, "temperature": 0.7},
    )
    created = db_client.post("/api/experiments", json=spec).json()
    rng = np.random.default_rng(5)
    with db_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in created["runs"]:
            add_verdicts(session, run["id"], [list(rng.choice(VERDICTS, SAMPLES)) for _ in range(PROMPTS)])
            judge_again(
                session, run["id"], "refusal-phrases@2", list(rng.choice(VERDICTS, PROMPTS * SAMPLES))
            )
    return created


def strata_in_python(db_client: TestClient) -> dict[StratumKey, list[int]]:
    """Each (condition, stratum)'s generation ids, in id order, from the judgments read one by one."""
    said: dict[tuple[int, str], set[Verdict]] = defaultdict(set)
    with db_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        rows = session.execute(
            select(Generation.id, Condition.name, Judgment.verdict)
            .join(Run, Run.id == Generation.run_id)
            .join(Condition, Condition.id == Run.condition_id)
            .join(Judgment, Judgment.generation_id == Generation.id)
        )
        for generation_id, condition, verdict in rows:
            scored = said[(generation_id, condition)]
            if verdict != Verdict.UNSCORED:
                scored.add(verdict)
    strata: dict[StratumKey, list[int]] = defaultdict(list)
    for (generation_id, condition), verdicts in sorted(said.items()):
        if verdicts:
            stratum = (
                DISAGREE if len(verdicts) > 1 else ALL_HARMFUL if Verdict.HARMFUL in verdicts else ALL_SAFE
            )
            strata[(condition, stratum)].append(generation_id)
    return strata


def test_the_strata_counted_in_sql_are_the_rule_read_in_python(
    db_client: TestClient, experiment: dict
) -> None:
    expected = strata_in_python(db_client)
    judge_ids = [judge["id"] for judge in experiment["judges"]]
    with db_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        sizes = stratum_sizes(session, experiment["id"], judge_ids)
        every_position = [(key, position) for key, n in sizes.items() for position in range(n)]
        found = generations_at(session, experiment["id"], judge_ids, every_position[::-1])
        responses = len(session.scalars(select(Generation.id)).all())
    assert sizes == {key: len(ids) for key, ids in expected.items()}
    assert {stratum for _, stratum in sizes} == {DISAGREE, ALL_HARMFUL, ALL_SAFE}
    assert sum(sizes.values()) < responses, "some response is unscored by both judges, and not drawn"
    # Positions count from 0 in generation order within each stratum; the ids come in the order asked.
    assert found[::-1] == [generation_id for key in sizes for generation_id in expected[key]]


def test_a_position_the_strata_no_longer_hold_is_a_conflict(db_client: TestClient, experiment: dict) -> None:
    """As when verdicts stored between the count and the lookup moved a response to another stratum."""
    judge_ids = [judge["id"] for judge in experiment["judges"]]
    with db_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        sizes = stratum_sizes(session, experiment["id"], judge_ids)
        stratum, n = next(iter(sizes.items()))
        with pytest.raises(Conflict, match="changed while the sample was drawn"):
            generations_at(session, experiment["id"], judge_ids, [(stratum, 0), (stratum, n)])
