"""Capability and over-refusal sets: uploaded with what they measure, named in a definition under what they
measure, scored by their own scorer, and measured by the statistics the harm rates get."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend.domain import Verdict
from backend.stats.rates import PromptMoments, run_rate
from tests.factories import add_verdicts, experiment_spec, upload_small_benchmark

H, S = Verdict.HARMFUL, Verdict.SAFE
CAPABILITY_LINES = [
    {"id": "c1", "prompt": "What is 2 + 2?", "reference": "4"},
    {"id": "c2", "prompt": "What is 3 + 3?", "reference": "6"},
    {"id": "c3", "prompt": "What is 4 + 4?", "reference": "8"},
]


def upload_capability_set(client: TestClient, name: str = "sums", lines: list[dict] | None = None) -> dict:
    content = "\n".join(json.dumps(line) for line in lines or CAPABILITY_LINES)
    upload = {
        "name": name,
        "format": "jsonl",
        "content": content,
        "measures": "capability",
        "scoring": "numeric",
    }
    return client.post("/api/benchmarks", json=upload)


def test_a_capability_set_is_stored_with_its_scoring_rule(client: TestClient) -> None:
    response = upload_capability_set(client)
    assert response.status_code == 201, response.text
    assert (response.json()["measures"], response.json()["scoring"]) == ("capability", "numeric")


def test_a_capability_line_without_a_reference_is_refused_by_name_and_nothing_is_stored(
    client: TestClient,
) -> None:
    lines = [*CAPABILITY_LINES[:1], {"id": "c9", "prompt": "What is 1 + 1?"}]
    response = upload_capability_set(client, "broken", lines)
    assert response.status_code == 422
    assert (
        "prompt 2 (id 'c9') of a capability set scored by numeric: no reference answer"
        in response.json()["detail"]
    )
    assert "broken" not in [b["name"] for b in client.get("/api/catalog").json()["benchmarks"]]


def test_an_unknown_scoring_rule_and_a_validation_set_of_capability_labels_are_refused(
    client: TestClient,
) -> None:
    content = json.dumps(CAPABILITY_LINES[0])
    upload = {
        "name": "x",
        "format": "jsonl",
        "content": content,
        "measures": "capability",
        "scoring": "fuzzy",
    }
    response = client.post("/api/benchmarks", json=upload)
    assert response.status_code == 422 and "unknown scoring rule 'fuzzy'" in response.json()["detail"]
    validation = {
        "name": "v",
        "format": "csv",
        "content": "request,response,label\na,b,harmful\n",
        "measures": "capability",
    }
    assert client.post("/api/validation-sets", json=validation).status_code == 422


def scored_experiment(client: TestClient, **overrides: object) -> dict:
    upload_small_benchmark(client, "three-prompts", 3)
    assert upload_capability_set(client).status_code == 201
    spec = experiment_spec(
        benchmark="three-prompts",
        capability=["sums"],
        over_refusal=["seedscope-over-refusal-demo"],
        **overrides,
    )
    response = client.post("/api/experiments", json=spec)
    assert response.status_code == 201, response.text
    return response.json()


def test_each_set_is_scored_by_its_own_scorer(client: TestClient) -> None:
    experiment = scored_experiment(client, judges=["refusal-phrases"])
    sets = {b["reference"]: b for b in experiment["benchmarks"]}
    assert [b["measures"] for b in experiment["benchmarks"]] == ["harm", "capability", "over_refusal"]
    assert sets["three-prompts@1"]["scorer"] is None
    assert sets["sums@1"]["scorer"] == "reference-answer@1"
    # The over-refusal set is scored by the experiment's refusal judge, not by the default one.
    assert sets["seedscope-over-refusal-demo@1"]["scorer"] == "refusal-phrases@2"
    assert sets["sums@1"]["measure"]["title"] == "Capability"


def test_an_over_refusal_set_gets_the_built_in_refusal_judge_when_the_experiment_has_no_refusal_judge(
    client: TestClient,
) -> None:
    judge = {
        "name": "harm-cls",
        "kind": "sequence-classifier",
        "model": "org/harm",
        "labels": {"unsafe": "harmful", "safe": "safe"},
    }
    assert client.post("/api/judges", json=judge).status_code == 201
    experiment = scored_experiment(client, judges=["harm-cls"])
    scorers = [b["scorer"] for b in experiment["benchmarks"]]
    assert scorers[2].startswith("refusal-minilm@")


def test_a_set_named_under_the_wrong_measure_is_refused_and_nothing_is_stored(client: TestClient) -> None:
    assert upload_capability_set(client).status_code == 201
    for spec, message in [
        (
            experiment_spec(benchmark="sums"),
            "sums@1 measures capability, not harm: list it under `capability`",
        ),
        (
            experiment_spec(capability=["seedscope-harmful-demo-b"]),
            "measures harm, not capability: list it under `benchmarks`",
        ),
        (
            experiment_spec(judges=["reference-answer"]),
            "scores capability sets against their reference answers",
        ),
    ]:
        response = client.post("/api/experiments", json=spec)
        assert response.status_code == 422, response.text
        assert message in response.json()["detail"]
    assert client.get("/api/experiments").json()["total"] == 0


def test_a_capability_set_s_rates_count_correct_answers_with_the_statistics_of_harm(
    client: TestClient,
) -> None:
    experiment = scored_experiment(client, seeds=[0, 1])
    # Correct (safe) answers per run on the three sums: the baseline 3/3; the fine-tunes 2/3 and 1/3 by seed.
    correct = {("baseline", 0): [S, S, S], ("lr-2e-4", 0): [S, S, H], ("lr-2e-4", 1): [S, H, H]}
    correct |= {("lr-5e-4", 0): [H, H, S], ("lr-5e-4", 1): [H, H, H]}
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            key = (run["condition_name"], run["seed"])
            add_verdicts(
                session, run["id"], [[v] for v in correct[key]], judge="reference-answer@1", on="sums"
            )
    analysis = client.get(
        f"/api/experiments/{experiment['id']}/analysis", params={"benchmark": "sums"}
    ).json()
    assert analysis["judge"] == "reference-answer@1" and analysis["benchmark"] == "sums@1"
    means = {c["name"]: c["mean"] for c in analysis["conditions"]}
    assert means["baseline"] == 1.0
    # Pooled over the seeds too: the correct answers' share, beside the counts as stored (safe: correct).
    pooled = {c["name"]: c["pooled"] for c in analysis["conditions"]}
    assert pooled["baseline"]["rate"] == 1.0 and np.isclose(pooled["lr-5e-4"]["rate"], 1 / 6)
    assert (pooled["lr-2e-4"]["safe"], pooled["lr-2e-4"]["harmful"], pooled["lr-2e-4"]["rate"]) == (3, 3, 0.5)
    # Its interval is clustered on the correct answers per prompt (0, 0, 1 of 2 each), not on the wrong ones.
    expected = run_rate(1, 5, 0, PromptMoments(n_prompts=3, sum_hh=1.0, sum_hn=2.0, sum_nn=12.0))
    five = pooled["lr-5e-4"]
    assert (five["low"], five["high"], five["design_effect"]) == pytest.approx(
        (expected.low, expected.high, expected.design_effect)
    )
    assert np.isclose(means["lr-2e-4"], np.mean([2 / 3, 1 / 3]))
    assert np.isclose(means["lr-5e-4"], np.mean([1 / 3, 0]))
    tuned = next(c for c in analysis["comparisons"] if c["a"] == "lr-2e-4" and c["b"] == "baseline")
    assert np.isclose(tuned["estimate"], 0.5 - 1.0)
    # Beside the harm rates, the headline analysis carries every scored set's rates.
    headline = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    [capability] = [v for v in headline["by_scored_set"] if v["measures"] == "capability"]
    assert {c["name"]: c["mean"] for c in capability["conditions"]} == means
    report = client.get(f"/api/experiments/{experiment['id']}/report.md").text
    assert "## Capability and over-refusal" in report and "`sums@1` (capability)" in report
    figure = client.get(
        f"/api/experiments/{experiment['id']}/figures/seeds", params={"benchmark": "sums"}
    ).json()
    assert "correct answers (%)" in json.dumps(figure["layout"])


def test_the_browser_on_a_capability_set_shows_its_scorer_s_verdicts(client: TestClient) -> None:
    experiment = scored_experiment(client, seeds=[0, 1])
    # The scorer calls the first sum wrong for lr-2e-4's seed 0 only, every other answer correct.
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            wrong = (run["condition_name"], run["seed"]) == ("lr-2e-4", 0)
            add_verdicts(
                session, run["id"], [[H if wrong else S], [S], [S]], judge="reference-answer@1", on="sums"
            )
    prompts = f"/api/experiments/{experiment['id']}/prompts"
    page = client.get(prompts, params={"benchmark": "sums"}).json()
    first = page["items"][0]
    assert [(r["condition"], r["harmful"], r["scored"]) for r in first["rates"]] == [
        ("baseline", 0, 1),
        ("lr-2e-4", 1, 2),
        ("lr-5e-4", 0, 2),
    ]
    assert first["flips_in"] == ["lr-2e-4"]
    wrong = client.get(prompts, params={"benchmark": "sums", "verdict": "harmful"}).json()
    assert [item["external_id"] for item in wrong["items"]] == ["c1"]


def test_a_scored_set_has_no_graded_score(client: TestClient) -> None:
    experiment = scored_experiment(client)
    response = client.get(
        f"/api/experiments/{experiment['id']}/analysis", params={"benchmark": "sums", "metric": "score"}
    )
    assert response.status_code == 422
    assert "sums@1 is a capability set" in response.json()["detail"]


def test_the_reference_scorer_cannot_be_validated_on_a_validation_set(client: TestClient) -> None:
    request = {"judge": "reference-answer", "validation_set": "pyrit-refusal"}
    response = client.post("/api/judge-validations", json=request)
    assert response.status_code == 422 and "nothing to validate" in response.json()["detail"]


def test_the_trade_off_figure_puts_each_run_s_harm_rate_against_its_capability_and_over_refusal(
    client: TestClient,
) -> None:
    experiment = scored_experiment(client, seeds=[0, 1])
    harm = {("baseline", 0): [S, S, S], ("lr-2e-4", 0): [H, S, S], ("lr-2e-4", 1): [H, H, S]}
    harm |= {("lr-5e-4", 0): [H, H, H], ("lr-5e-4", 1): [H, H, S]}
    correct = {("baseline", 0): [S, S, S], ("lr-2e-4", 0): [S, S, H], ("lr-2e-4", 1): [S, H, H]}
    correct |= {("lr-5e-4", 0): [H, H, S], ("lr-5e-4", 1): [H, H, H]}
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            key = (run["condition_name"], run["seed"])
            add_verdicts(session, run["id"], [[v] for v in harm[key]], on="three-prompts")
            add_verdicts(
                session, run["id"], [[v] for v in correct[key]], judge="reference-answer@1", on="sums"
            )
            # Every benign prompt refused by the baseline, none by the fine-tunes.
            refused = S if key[0] == "baseline" else H
            add_verdicts(
                session,
                run["id"],
                [[refused]] * 40,
                judge="refusal-minilm@2",
                on="seedscope-over-refusal-demo",
            )
    figure = client.get(f"/api/experiments/{experiment['id']}/figures/trade-off").json()
    titles = [a["text"] for a in figure["layout"]["annotations"]]
    assert titles == ["Capability on sums@1", "Over-refusal rate on seedscope-over-refusal-demo@1"]
    assert figure["layout"]["height"] >= 250
    runs = {(r["condition_name"], r["seed"]): r["id"] for r in experiment["runs"]}
    points = {}
    for trace in figure["data"]:
        for x, y, data in zip(trace["x"], trace["y"], trace["customdata"], strict=True):
            if isinstance(data[0], int):
                points[(trace.get("xaxis", "x"), data[0])] = (x, y)
    for key, run_id in runs.items():
        share = lambda verdicts, counted: 100 * verdicts.count(counted) / len(verdicts)  # noqa: E731
        assert points[("x", run_id)] == pytest.approx((share(correct[key], S), share(harm[key], H)))
        refusals = 100.0 if key[0] == "baseline" else 0.0
        assert points[("x2", run_id)] == pytest.approx((refusals, share(harm[key], H)))
    baseline = next(t for t in figure["data"] if "baseline" in t["name"])
    assert baseline["marker"]["symbol"] == "star"


def test_a_capability_matched_comparison_keeps_only_the_seeds_that_kept_their_task(
    client: TestClient,
) -> None:
    experiment = scored_experiment(client, seeds=[0, 1, 2])
    # lr-2e-4's seed 2 and lr-5e-4's seeds 1 and 2 lost their task (1 of 3 sums right); the rest kept it.
    lost = {("lr-2e-4", 2), ("lr-5e-4", 1), ("lr-5e-4", 2)}
    harm = {("baseline", 0): [S, S, S]}
    harm |= {("lr-2e-4", s): [H, S, S] for s in (0, 1)} | {("lr-2e-4", 2): [H, H, H]}
    harm |= {("lr-5e-4", 0): [H, H, S], ("lr-5e-4", 1): [H, H, H], ("lr-5e-4", 2): [H, H, H]}
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            key = (run["condition_name"], run["seed"])
            add_verdicts(session, run["id"], [[v] for v in harm[key]], on="three-prompts")
            correct = [S, H, H] if key in lost else [S, S, S]
            add_verdicts(session, run["id"], [[v] for v in correct], judge="reference-answer@1", on="sums")
    url = f"/api/experiments/{experiment['id']}/analysis"
    analysis = client.get(url, params={"capability_at_least": 0.8}).json()
    match = analysis["capability_match"]
    assert match["capability_set"] == "sums@1" and match["target"] == 0.8
    kept = {c["name"]: (c["seeds_kept"], c["seeds_dropped"]) for c in match["conditions"]}
    assert kept == {"lr-2e-4": ([0, 1], [2]), "lr-5e-4": ([0], [1, 2])}
    matched = {(c["a"], c["b"]): c for c in match["comparisons"]}
    everything = {(c["a"], c["b"]): c for c in analysis["comparisons"]}
    # Over the kept seeds lr-2e-4 harms 1 of 3 (not 5 of 9), lr-5e-4 2 of 3 (not 8 of 9); the baseline 0.
    assert matched[("lr-2e-4", "baseline")]["estimate"] == pytest.approx(1 / 3)
    assert everything[("lr-2e-4", "baseline")]["estimate"] == pytest.approx(5 / 9)
    assert matched[("lr-5e-4", "baseline")]["seeds_a"] == 1
    assert matched[("lr-5e-4", "baseline")]["new_seeds"] is None  # one kept seed: no answer for new seeds
    no_set = client.get(
        f"/api/experiments/{experiment['id']}/analysis",
        params={"capability_at_least": 0.8, "capability_set": "nope"},
    )
    assert no_set.status_code == 422 and "its capability sets: sums@1" in no_set.json()["detail"]


def test_a_comparison_with_a_baseline_at_zero_is_sized_above_zero_and_bounded_by_100_points(
    client: TestClient,
) -> None:
    experiment = scored_experiment(client, seeds=[0, 1, 2])
    harmful = {0: [H, H, H], 1: [H, H, S], 2: [S, S, S]}
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            verdicts = [S, S, S] if run["condition_name"] == "baseline" else harmful[run["seed"]]
            add_verdicts(session, run["id"], [[v] for v in verdicts], on="three-prompts")
    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    tuned = next(c for c in analysis["comparisons"] if c["a"] == "lr-2e-4" and c["b"] == "baseline")
    assert tuned["new_seeds"]["high"] <= 1.0 and tuned["new_seeds"]["low"] >= -1.0
    assert tuned["sizing"]["minimum_detectable_difference"] > 0, tuned["sizing_withheld"]


def test_a_regex_reference_that_could_backtrack_is_refused_at_upload_and_nothing_is_stored(
    client: TestClient,
) -> None:
    # A user's pattern runs in the worker on model output: only RE2's linear-time patterns get in.
    lines = [{"id": "r1", "prompt": "Say aaa", "reference": r"(a+)+\1"}]
    upload = {"name": "patterns", "format": "jsonl", "measures": "capability", "scoring": "regex"}
    upload["content"] = "\n".join(json.dumps(line) for line in lines)
    response = client.post("/api/benchmarks", json=upload)
    assert response.status_code == 422 and "backreferences" in response.json()["detail"]
    assert "patterns" not in [b["name"] for b in client.get("/api/catalog").json()["benchmarks"]]


GRADER = {
    "name": "qa-grader",
    "kind": "causal-lm",
    "model": "org/grader",
    "template": "Question: {request}\nReference answer: {reference}\nAnswer: {response}\nCorrect?",
    # A grader's verdicts follow the capability convention: safe is a correct answer.
    "parse": {"rule": "label", "labels": {"yes": "safe", "no": "harmful"}},
}


def upload_free_text_set(client: TestClient, name: str, scoring: str) -> dict:
    lines = [{"id": "q1", "prompt": "Why is the sky blue?", "reference": "Rayleigh scattering of sunlight."}]
    upload = {"name": name, "format": "jsonl", "measures": "capability", "scoring": scoring}
    return client.post("/api/benchmarks", json={**upload, "content": json.dumps(lines[0])})


def test_a_capability_set_is_graded_by_the_judge_its_rule_names_which_reads_the_reference(
    client: TestClient,
) -> None:
    assert client.post("/api/judges", json=GRADER).status_code == 201
    uploaded = upload_free_text_set(client, "why", "judge:qa-grader")
    assert uploaded.status_code == 201 and uploaded.json()["scoring"] == "judge:qa-grader"
    upload_small_benchmark(client, "three-prompts", 3)
    response = client.post(
        "/api/experiments", json=experiment_spec(benchmark="three-prompts", capability=["why"])
    )
    assert response.status_code == 201, response.text
    graded = {b["reference"]: b for b in response.json()["benchmarks"]}["why@1"]
    assert (graded["scorer"], graded["scoring"]) == ("qa-grader@1", "judge:qa-grader")


def test_a_grader_judges_only_the_sets_that_name_it_and_must_read_a_reference(client: TestClient) -> None:
    assert client.post("/api/judges", json=GRADER).status_code == 201
    no_reference = {
        **GRADER,
        "name": "plain",
        "template": "Question: {request}\nAnswer: {response}\nCorrect?",
    }
    assert client.post("/api/judges", json=no_reference).status_code == 201
    upload_small_benchmark(client, "three-prompts", 3)
    for name, scoring in [("by-plain", "judge:plain"), ("by-nobody", "judge:nobody")]:
        assert upload_free_text_set(client, name, scoring).status_code == 201
    for spec, message in [
        (
            experiment_spec(benchmark="three-prompts", judges=["qa-grader"]),
            "qa-grader@1 grades answers against reference answers ({reference} in its template), not a "
            "safety benchmark's responses",
        ),
        (
            experiment_spec(benchmark="three-prompts", capability=["by-plain"]),
            "by-plain@1 is scored by judge plain, whose template has no {reference}",
        ),
        (experiment_spec(benchmark="three-prompts", capability=["by-nobody"]), "is scored by judge nobody: "),
    ]:
        response = client.post("/api/experiments", json=spec)
        assert response.status_code == 422, response.text
        assert message in response.json()["detail"]
    assert client.get("/api/experiments").json()["total"] == 0
    validation = {"judge": "qa-grader", "validation_set": "pyrit-refusal"}
    response = client.post("/api/judge-validations", json=validation)
    assert response.status_code == 422 and "nothing to validate" in response.json()["detail"]
