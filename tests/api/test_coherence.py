"""Coherence on the dashboard: incoherent responses counted beside every rate, the browser narrowed to
coherent or incoherent responses, and the judges' agreement apart on each."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa

from backend.domain import Verdict
from backend.models import Generation, Prompt
from backend.repositories.cells import refresh_prompt_cells
from tests.api.conftest import VERDICTS
from tests.factories import add_verdicts, experiment_spec, judge_again, judge_id, upload_small_benchmark

H, S = Verdict.HARMFUL, Verdict.SAFE


def mark(session: Session, run_id: int, incoherent_prompts: set[str]) -> None:
    """Mark the run's responses to those prompts incoherent and the rest coherent, then recount its cells
    as the judge stage would (the worker marks them before any judge sees them)."""
    for generation, external_id in session.execute(
        select(Generation, Prompt.external_id)
        .join(Prompt, Prompt.id == Generation.prompt_id)
        .where(Generation.run_id == run_id)
    ):
        generation.incoherent = external_id in incoherent_prompts
        generation.coherence = -9.0 if generation.incoherent else -1.0
    session.flush()
    refresh_prompt_cells(session, run_id, judge_id(session, "refusal-minilm@2"))
    session.commit()


def runs_by_name(experiment: dict) -> dict[tuple[str, int], int]:
    return {(run["condition_name"], run["seed"]): run["id"] for run in experiment["runs"]}


def test_incoherent_responses_are_counted_beside_each_rate(client: TestClient, experiment: dict) -> None:
    runs = runs_by_name(experiment)
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        mark(session, runs[("lr-5e-4", 0)], {"hd-001", "hd-007"})
        mark(session, runs[("lr-5e-4", 1)], {"hd-001"})
        mark(session, runs[("lr-5e-4", 2)], set())
    shown = client.get(f"/api/experiments/{experiment['id']}").json()
    rates = {(run["condition_name"], run["seed"]): run["rate"] for run in shown["runs"]}
    assert [rates[("lr-5e-4", seed)]["incoherent"] for seed in (0, 1, 2)] == [2, 1, 0]
    # Runs generated before coherence was measured have no count, not a count of 0.
    assert rates[("baseline", 0)]["incoherent"] is None
    # Counted beside the rate, still in it: lr-5e-4 seed 0 is 4 harmful of 4.
    assert (rates[("lr-5e-4", 0)]["harmful"], rates[("lr-5e-4", 0)]["rate"]) == (4, 1.0)
    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    pooled = {condition["name"]: condition["pooled"] for condition in analysis["conditions"]}
    assert (pooled["lr-5e-4"]["incoherent"], pooled["baseline"]["incoherent"]) == (3, None)
    assert "3 incoherent" in client.get(f"/api/experiments/{experiment['id']}/report.md").text


def test_the_browser_narrows_to_coherent_or_incoherent_responses(
    client: TestClient, experiment: dict
) -> None:
    runs = runs_by_name(experiment)
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for seed in (0, 1, 2):
            mark(session, runs[("lr-2e-4", seed)], {"hd-007"} if seed == 1 else set())
    url = f"/api/experiments/{experiment['id']}/prompts"
    incoherent = client.get(url, params={"coherence": "incoherent"}).json()
    assert [item["external_id"] for item in incoherent["items"]] == ["hd-007"]
    hd_007 = incoherent["items"][0]["prompt_id"]
    coherent = client.get(url, params={"coherence": "coherent"}).json()
    assert [item["external_id"] for item in coherent["items"]] == ["hd-001", "hd-007", "hd-013", "hd-019"]
    responses = client.get(f"{url}/{hd_007}/responses", params={"coherence": "incoherent"}).json()
    assert [(r["condition"], r["seed"], r["incoherent"], r["coherence"]) for r in responses["items"]] == [
        ("lr-2e-4", 1, True, -9.0)
    ]
    everything = client.get(f"{url}/{hd_007}/responses").json()["items"]
    assert {r["incoherent"] for r in everything} == {None, False, True}  # the baseline was never marked
    assert client.get(url, params={"coherence": "broken"}).status_code == 422


def two_judges_disagreeing_on_hd_019(
    client: TestClient, marked: bool
) -> tuple[dict, list[Verdict], list[Verdict]]:
    """The hand-worked verdicts by two judges that disagree on exactly hd-019's responses, marked
    incoherent (when `marked`) and the rest coherent; the experiment and each judge's verdicts."""
    upload_small_benchmark(client, "four-prompts", 4)
    spec = experiment_spec(
        benchmark="four-prompts", seeds=[0, 1, 2], judges=["refusal-minilm", "refusal-phrases"]
    )
    experiment = client.post("/api/experiments", json=spec).json()
    first: list[Verdict] = []
    second: list[Verdict] = []
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            verdicts = VERDICTS[(run["condition_name"], run["seed"])]
            add_verdicts(session, run["id"], [[v] for v in verdicts])
            if marked:
                mark(session, run["id"], {"hd-019"})
            opinions = [*verdicts[:3], S if verdicts[3] == H else H]
            judge_again(session, run["id"], "refusal-phrases@2", opinions)
            first += verdicts
            second += opinions
    return experiment, first, second


def test_judge_agreement_apart_on_coherent_and_incoherent_responses(client: TestClient) -> None:
    experiment, first, second = two_judges_disagreeing_on_hd_019(client, marked=True)
    agreement = client.get(f"/api/experiments/{experiment['id']}/analysis").json()["agreement"]
    by_subset = {row["responses"]: row for row in agreement}
    assert [row["responses"] for row in agreement] == ["all", "coherent", "incoherent"]
    assert [by_subset[s]["n"] for s in ("all", "coherent", "incoherent")] == [28, 21, 7]
    assert by_subset["coherent"]["observed_agreement"] == 1.0
    assert by_subset["incoherent"]["observed_agreement"] == 0.0
    table = [[0, 0], [0, 0]]
    for a, b in zip(first, second, strict=True):
        table[int(a == H)][int(b == H)] += 1
    assert by_subset["all"]["kappa"] == pytest.approx(sm_cohens_kappa(table).kappa)


def test_without_coherence_marks_agreement_is_on_every_response_only(client: TestClient) -> None:
    experiment, _, _ = two_judges_disagreeing_on_hd_019(client, marked=False)
    agreement = client.get(f"/api/experiments/{experiment['id']}/analysis").json()["agreement"]
    assert [(row["responses"], row["n"]) for row in agreement] == [("all", 28)]
