"""Every figure and statistic endpoint on a small experiment whose numbers are worked out by hand."""

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa

from backend.domain import Verdict
from backend.stats.cells import Cells
from backend.stats.judge_variance import judge_table, judge_variance_components
from tests.api.conftest import VERDICTS
from tests.conftest import RecordingQueue
from tests.factories import add_verdicts, experiment_spec, judge_again, upload_small_benchmark

H, S = Verdict.HARMFUL, Verdict.SAFE


def test_condition_summaries_across_seeds(client: TestClient, experiment: dict) -> None:
    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    assert analysis["partial"] is False
    summary = {c["name"]: c for c in analysis["conditions"]}
    tuned = summary["lr-2e-4"]
    assert [p["rate"] for p in tuned["seeds"]] == [0.5, 0.75, 0.25]
    assert tuned["mean"] == pytest.approx(0.5) and tuned["sd"] == pytest.approx(0.25)
    low, high = stats.t.interval(0.95, 2, loc=0.5, scale=0.25 / np.sqrt(3))
    assert (low, high) == (pytest.approx(-0.121, abs=1e-3), pytest.approx(1.121, abs=1e-3))
    assert (tuned["low"], tuned["high"]) == (0.0, 1.0)  # clipped to what a rate can be
    other = summary["lr-5e-4"]  # seeds 1, 1, 0.75
    # Four verdicts per seed: rates on a lattice of step 1/4, their spread widened by half a step.
    spread = np.sqrt(((np.array([1, 1, 0.75]) - 11 / 12) ** 2).sum()) + 1 / 8
    low, high = stats.t.interval(0.95, 2, loc=11 / 12, scale=spread / np.sqrt(2) / np.sqrt(3))
    assert (other["low"], other["high"]) == (pytest.approx(low), 1.0)
    assert (tuned["min"], tuned["max"]) == (0.25, 0.75)
    assert (tuned["pooled"]["harmful"], tuned["pooled"]["safe"]) == (6, 6)
    assert summary["baseline"]["mean"] == 0.25 and summary["baseline"]["sd"] is None  # one seed: no spread


def test_comparisons_against_the_baseline_are_paired_on_prompts(client: TestClient, experiment: dict) -> None:
    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    comparisons = {(c["a"], c["b"]): c for c in analysis["comparisons"]}
    assert set(comparisons) == {("lr-2e-4", "baseline"), ("lr-5e-4", "baseline")}
    tuned = comparisons[("lr-2e-4", "baseline")]
    # Per-prompt rates: tuned (2/3, 1/3, 0, 1), baseline (0, 0, 0, 1).
    differences = np.array([2 / 3, 1 / 3, 0, 0])
    assert tuned["estimate"] == pytest.approx(differences.mean())
    given = tuned["given_checkpoints"]
    assert given["se"] == pytest.approx(differences.std(ddof=1) / 2)
    assert tuned["n_prompts"] == 4 and given["exact"] is True and given["df"] == 3
    # 16 sign patterns; |sum| reaches the observed 1 when both non-zero differences keep or both flip sign.
    assert given["p_value"] == pytest.approx(8 / 16)
    other = comparisons[("lr-5e-4", "baseline")]
    holm = sorted([given["p_value"], other["given_checkpoints"]["p_value"]])
    adjusted = [given["p_adjusted"], other["given_checkpoints"]["p_adjusted"]]
    assert max(adjusted) == pytest.approx(max(2 * holm[0], holm[1]))


def test_for_new_seeds_adds_the_seed_term_of_the_fine_tuned_arm(client: TestClient, experiment: dict) -> None:
    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    tuned = next(c for c in analysis["comparisons"] if c["a"] == "lr-2e-4")
    # The fine-tuned arm's seeds x prompts table of cell rates; the baseline has no training seed.
    table = np.array([[1, 0, 0, 1], [1, 1, 0, 1], [0, 0, 0, 1]], dtype=float)
    seeds, prompts = table.shape
    ms_seed = prompts * table.mean(axis=1).var(ddof=1)
    residual = table - table.mean(axis=1, keepdims=True) - table.mean(axis=0) + table.mean()
    ms_interaction = (residual**2).sum() / ((seeds - 1) * (prompts - 1))
    seed_term = max(0.0, (ms_seed - ms_interaction) / prompts / seeds)
    new = tuned["new_seeds"]
    assert new["seed_variance"] == pytest.approx(seed_term)
    assert new["se"] == pytest.approx(np.sqrt(tuned["given_checkpoints"]["se"] ** 2 + seed_term))
    assert new["low"] < tuned["estimate"] < new["high"] and new["paired_seeds"] is False
    # Training noise makes the new-seeds interval the wider one.
    assert new["high"] - new["low"] > tuned["given_checkpoints"]["high"] - tuned["given_checkpoints"]["low"]
    assert tuned["verdict_basis"] == "for new seeds"
    assert tuned["verdict"] == ("real" if new["p_adjusted"] < 0.05 else "could be noise")
    # Rates 0.5 against 0.25 on 4 prompts: no difference B's rate can reach (up to 0.75) is detectable.
    assert tuned["sizing"] is None
    assert "no difference up to the largest possible (0.75" in tuned["sizing_withheld"]


def test_a_fine_tuned_arm_with_one_seed_gets_no_answer_for_new_seeds(client: TestClient) -> None:
    upload_small_benchmark(client, "four-prompts", 4)
    spec = experiment_spec(benchmark="four-prompts", seeds=[0])
    experiment = client.post("/api/experiments", json=spec).json()
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            add_verdicts(session, run["id"], [[v] for v in VERDICTS[(run["condition_name"], run["seed"])]])
    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    tuned = next(c for c in analysis["comparisons"] if c["a"] == "lr-2e-4")
    assert tuned["new_seeds"] is None and tuned["sizing"] is None
    assert "one training seed" in tuned["new_seeds_withheld"]
    assert tuned["verdict"] == "cannot tell"
    # Per-prompt differences (1, 0, 0, 0): every sign pattern reaches the observed |mean|.
    assert tuned["given_checkpoints"]["p_value"] == 1.0
    assert analysis["power"] == []


def test_chosen_pairs_and_bh_adjustment(client: TestClient, experiment: dict) -> None:
    analysis = client.get(
        f"/api/experiments/{experiment['id']}/analysis", params={"pair": "lr-5e-4:lr-2e-4", "adjust": "bh"}
    ).json()
    assert analysis["adjustment"] == "bh"
    chosen = next(c for c in analysis["comparisons"] if c["a"] == "lr-5e-4" and c["b"] == "lr-2e-4")
    assert chosen["estimate"] == pytest.approx(11 / 12 - 6 / 12)
    # Same seeds in both fine-tuned conditions: paired on seeds.
    assert chosen["new_seeds"]["paired_seeds"] is True and chosen["seeds_a"] == chosen["seeds_b"] == 3
    new_p = [c["new_seeds"]["p_value"] for c in analysis["comparisons"]]
    expected = np.minimum(1, np.minimum.accumulate((3 * np.sort(new_p) / np.arange(1, 4))[::-1])[::-1])
    by_p = sorted(c["new_seeds"]["p_adjusted"] for c in analysis["comparisons"])
    assert by_p == pytest.approx(expected)
    bad = client.get(f"/api/experiments/{experiment['id']}/analysis", params={"pair": "nope:lr-2e-4"})
    assert bad.status_code == 422 and "no condition named 'nope'" in bad.json()["detail"]


def test_forest_figure_plots_each_difference_with_its_interval(client: TestClient, experiment: dict) -> None:
    figure = client.get(f"/api/experiments/{experiment['id']}/figures/forest").json()
    points = figure["data"][0]
    assert points["y"] == ["lr-2e-4 − baseline", "lr-5e-4 − baseline"]
    assert points["x"] == pytest.approx([25.0, 100 * (11 / 12 - 1 / 4)])
    assert len(points["error_x"]["array"]) == 2


def test_seeds_figure_has_a_point_per_seed_a_mean_and_the_baseline(
    client: TestClient, experiment: dict
) -> None:
    figure = client.get(f"/api/experiments/{experiment['id']}/figures/seeds").json()
    points = {
        t["name"]: t for t in figure["data"] if t["type"] == "scatter" and t["name"] != "mean, t 95% interval"
    }
    assert points["lr-2e-4"]["y"] == [50.0, 75.0, 25.0]
    assert [row[0] for row in points["lr-2e-4"]["customdata"]] == [
        r["id"] for r in experiment["runs"] if r["condition_name"] == "lr-2e-4"
    ]
    means = [t for t in figure["data"] if t["name"] == "mean, t 95% interval"]
    assert [t["y"][0] for t in means] == pytest.approx([50.0, 100 * 11 / 12])  # the baseline has one seed
    assert figure["layout"]["shapes"][0]["y0"] == 25.0  # the baseline's level


def test_category_heatmap(client: TestClient, experiment: dict) -> None:
    figure = client.get(f"/api/experiments/{experiment['id']}/figures/categories").json()
    heatmap = figure["data"][0]
    assert heatmap["y"] == ["baseline", "lr-2e-4", "lr-5e-4"]
    assert heatmap["x"] == ["cybercrime", "drugs", "fraud", "weapons"]
    rates = dict(zip(heatmap["y"], heatmap["z"], strict=True))
    assert rates["lr-2e-4"] == pytest.approx([100 * 2 / 3, 0.0, 100.0, 100 * 1 / 3])
    assert rates["lr-5e-4"] == pytest.approx([100.0, 100 * 2 / 3, 100.0, 100.0])
    assert heatmap["text"][1][0] == "67%<br>n=3"


def test_flip_heatmap_puts_flipping_prompts_first(client: TestClient, experiment: dict) -> None:
    figure = client.get(
        f"/api/experiments/{experiment['id']}/figures/flips", params={"condition": "lr-2e-4"}
    ).json()
    heatmap = figure["data"][0]
    assert heatmap["x"] == ["seed 0", "seed 1", "seed 2"]
    # p0 (H, H, S) and p1 (S, H, S) flip; p3 (always H) then p2 (always S) do not.
    assert heatmap["y"] == ["hd-001", "hd-007", "hd-019", "hd-013"]
    assert heatmap["z"] == [[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]


def test_variance_and_power(client: TestClient, experiment: dict) -> None:
    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    variance = {v["name"]: v for v in analysis["variance"]}
    assert set(variance) == {"lr-2e-4", "lr-5e-4"}  # the baseline has one seed
    tuned = variance["lr-2e-4"]
    assert tuned["interaction_confounded"] is True and tuned["components"]["sampling"] is None
    assert sum(v["estimate"] for v in tuned["shares"].values() if v is not None) == pytest.approx(1.0)
    for interval in [*tuned["components"].values(), *tuned["shares"].values(), tuned["icc_seed"]]:
        if interval is not None:
            assert interval["low"] <= interval["estimate"] <= interval["high"]
    assert tuned["icc_seed"]["estimate"] == tuned["shares"]["seed"]["estimate"]
    power = {(p["a"], p["b"]): p for p in analysis["power"]}
    sizing = power[("lr-2e-4", "baseline")]
    assert (sizing["n_seeds"], sizing["n_prompts"]) == (3, 4)
    # With 3 seeds nothing reachable is detectable (the comparison says why); with more seeds it is.
    assert sizing["now"] is None and "add seeds" in sizing["now_withheld"]
    assert [m["n_seeds"] for m in sizing["more_seeds"]] == [6, 13]
    for more in sizing["more_seeds"]:
        assert (
            more["low"] <= more["minimum_detectable_difference"] <= more["high"] <= more["largest_possible"]
        )
    assert sizing["more_seeds"][0]["largest_possible"] == pytest.approx(0.75)  # from B's 0.25 to 1
    mdds = [m["minimum_detectable_difference"] for m in sizing["more_seeds"]]
    assert mdds == sorted(mdds, reverse=True)  # more seeds detect smaller differences
    needed = [p["seeds_needed"] for p in sizing["curve"] if p["seeds_needed"] is not None]
    assert needed == sorted(needed, reverse=True)  # larger differences need fewer seeds
    bars = client.get(f"/api/experiments/{experiment['id']}/figures/variance").json()
    assert [t["name"] for t in bars["data"]] == [
        "training seed",
        "prompt",
        "seed × prompt",
        "sampling / re-evaluation",
    ]
    curve = client.get(f"/api/experiments/{experiment['id']}/figures/power").json()
    assert curve["data"][0]["y"] == needed


def test_reevaluations_show_evaluation_noise_beside_seed_noise(
    client: TestClient, queue: RecordingQueue, experiment: dict
) -> None:
    original = next(r for r in experiment["runs"] if r["condition_name"] == "lr-2e-4" and r["seed"] == 0)
    response = client.post(f"/api/runs/{original['id']}/reevaluate", json={"count": 2})
    assert response.status_code == 201
    repeats = response.json()["runs"]
    assert [(r["evaluation_of_id"], r["evaluation_index"], r["seed"]) for r in repeats] == [
        (original["id"], 1, 0),
        (original["id"], 2, 0),
    ]
    assert len({original["sampling_seed"], *(r["sampling_seed"] for r in repeats)}) == 3
    assert "greedily" in response.json()["warning"]
    assert queue.sent[-2:] == [r["id"] for r in repeats]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        add_verdicts(session, repeats[0]["id"], [[H], [H], [S], [H]])  # 0.75
        add_verdicts(session, repeats[1]["id"], [[H], [S], [S], [H]])  # 0.5
    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    tuned = next(c for c in analysis["conditions"] if c["name"] == "lr-2e-4")
    assert [p["rate"] for p in tuned["seeds"]] == [0.5, 0.75, 0.25]  # re-evaluations are not extra seeds
    (checkpoint,) = tuned["repeats"]
    assert checkpoint["rates"] == [0.5, 0.75, 0.5]
    assert (checkpoint["min"], checkpoint["max"]) == (0.5, 0.75)
    assert checkpoint["sd"] == pytest.approx(np.std([0.5, 0.75, 0.5], ddof=1))
    assert tuned["evaluation_sd"] == pytest.approx(checkpoint["sd"])
    noise = client.get(f"/api/experiments/{experiment['id']}/figures/noise").json()
    assert noise["data"][1]["y"][1] == pytest.approx(100 * checkpoint["sd"])
    # Re-evaluating a re-evaluation, or a run that is not done, is refused.
    assert client.post(f"/api/runs/{repeats[0]['id']}/reevaluate", json={"count": 1}).status_code == 422


def test_partial_experiments_are_marked_and_still_plotted(client: TestClient) -> None:
    upload_small_benchmark(client, "four-prompts", 4)
    experiment = client.post("/api/experiments", json=experiment_spec(benchmark="four-prompts")).json()
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        add_verdicts(session, experiment["runs"][1]["id"], [[H], [S], [S], [H]])
    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    assert analysis["partial"] is True
    figure = client.get(f"/api/experiments/{experiment['id']}/figures/seeds").json()
    assert "partial: 1 of 5 runs done" in figure["layout"]["title"]["text"]
    for name in ("noise", "forest", "categories", "flips", "variance", "power"):
        assert client.get(f"/api/experiments/{experiment['id']}/figures/{name}").status_code == 200
    # One condition judged: no comparison to draw yet, and the figure says so rather than an empty frame.
    forest = client.get(f"/api/experiments/{experiment['id']}/figures/forest").json()
    assert "no comparison yet" in forest["layout"]["annotations"][0]["text"]


def _second_opinions(first: list[Verdict]) -> list[Verdict]:
    """The second judge agrees with the first except on every third generation."""
    return [verdict if i % 3 else (S if verdict == H else H) for i, verdict in enumerate(first)]


def test_judge_agreement_is_cohens_kappa_with_its_interval(client: TestClient) -> None:
    upload_small_benchmark(client, "four-prompts", 4)
    spec = experiment_spec(
        benchmark="four-prompts", seeds=[0, 1, 2], judges=["refusal-minilm", "refusal-phrases"]
    )
    experiment = client.post("/api/experiments", json=spec).json()
    url = f"/api/experiments/{experiment['id']}/analysis"
    first, second = [], []
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            verdicts = VERDICTS[(run["condition_name"], run["seed"])]
            add_verdicts(session, run["id"], [[v] for v in verdicts])
        assert client.get(url).json()["agreement"] == []  # memoised before the second judge's verdicts
        for run in experiment["runs"]:
            verdicts = VERDICTS[(run["condition_name"], run["seed"])]
            judge_again(session, run["id"], "refusal-phrases@2", _second_opinions(verdicts))
            first += verdicts
            second += _second_opinions(verdicts)
            # Served fresh as each run's second verdicts arrive: the memo is keyed on every judge's counts.
            (agreement,) = client.get(url).json()["agreement"]
            assert agreement["n"] == len(first)
    table = np.zeros((2, 2))
    for a, b in zip(first, second, strict=True):
        table[int(a == H), int(b == H)] += 1
    reference = sm_cohens_kappa(table)
    assert (agreement["judge_a"], agreement["judge_b"], agreement["n"]) == (
        "refusal-minilm@2",
        "refusal-phrases@2",
        28,
    )
    assert agreement["kappa"] == pytest.approx(reference.kappa)
    assert (agreement["low"], agreement["high"]) == pytest.approx((reference.kappa_low, reference.kappa_upp))


def test_rates_and_comparisons_under_each_judge_side_by_side(client: TestClient, experiment: dict) -> None:
    assert client.get(f"/api/experiments/{experiment['id']}/analysis").json()["by_judge"] == []  # one judge
    upload_small_benchmark(client, "four-prompts-again", 4)
    spec = experiment_spec(
        benchmark="four-prompts-again", seeds=[0, 1, 2], judges=["refusal-minilm", "refusal-phrases"]
    )
    two_judges = client.post("/api/experiments", json=spec).json()
    second: dict[str, list[Verdict]] = {}
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in two_judges["runs"]:
            verdicts = VERDICTS[(run["condition_name"], run["seed"])]
            add_verdicts(session, run["id"], [[v] for v in verdicts])
            judge_again(session, run["id"], "refusal-phrases@2", _second_opinions(verdicts))
            second.setdefault(run["condition_name"], []).extend(_second_opinions(verdicts))
    analysis = client.get(f"/api/experiments/{two_judges['id']}/analysis").json()
    first_view, second_view = analysis["by_judge"]
    assert (first_view["judge"], second_view["judge"]) == ("refusal-minilm@2", "refusal-phrases@2")
    assert first_view["conditions"] == analysis["conditions"]
    assert first_view["comparisons"] == analysis["comparisons"]
    pooled = {c["name"]: c["pooled"] for c in second_view["conditions"]}
    for name, verdicts in second.items():
        assert (pooled[name]["harmful"], pooled[name]["safe"]) == (verdicts.count(H), verdicts.count(S))
    for comparison in second_view["comparisons"]:
        by_hand = second[comparison["a"]].count(H) / len(second[comparison["a"]]) - second[
            comparison["b"]
        ].count(H) / len(second[comparison["b"]])
        assert comparison["estimate"] == pytest.approx(by_hand)
    assert [c["estimate"] for c in second_view["comparisons"]] != [
        c["estimate"] for c in first_view["comparisons"]
    ]
    # The judges' share of each fine-tuned condition's variance (the one-seed baseline has none).
    assert [v["name"] for v in analysis["judge_variance"]] == ["lr-2e-4", "lr-5e-4"]
    for variance in analysis["judge_variance"]:
        seeds = [0, 1, 2]
        by_judge = [
            [VERDICTS[(variance["name"], seed)] for seed in seeds],
            [_second_opinions(VERDICTS[(variance["name"], seed)]) for seed in seeds],
        ]
        expected = judge_variance_components(
            judge_table(
                [
                    Cells(
                        seed=np.repeat(seeds, 4),
                        prompt=np.tile(range(4), 3),
                        harmful=[int(v == H) for per_seed in verdicts for v in per_seed],
                        scored=[1] * 12,
                    )
                    for verdicts in by_judge
                ]
            )
        )
        assert (variance["n_judges"], variance["n_seeds"], variance["n_prompts"]) == (2, 3, 4)
        assert variance["judge_share"]["estimate"] == pytest.approx(expected.judge_share.estimate)
        assert variance["shares"]["residual"]["high"] == pytest.approx(expected.shares_high.residual)
    report = client.get(f"/api/experiments/{two_judges['id']}/report.md").text
    assert "| Condition | `refusal-minilm@2` (compliance) | `refusal-phrases@2` (compliance) |" in report
    lr = next(c for c in second_view["comparisons"] if c["a"] == "lr-5e-4")
    assert f"{100 * lr['estimate']:+.1f} [{100 * lr['new_seeds']['low']:+.1f}," in report
    share = analysis["judge_variance"][0]["judge_share"]
    assert f"| `lr-2e-4` | {100 * share['estimate']:.0f}% [{100 * share['low']:.0f}, " in report


CLASSIFIER = {
    "name": "harm-classifier",
    "kind": "sequence-classifier",
    "model": "org/harm-classifier",
    "labels": {"HARMFUL": "harmful", "SAFE": "safe"},
}


def _score(verdict: Verdict, position: int) -> float:
    """A classifier's P(harmful) that agrees with the verdict at the 0.5 threshold and varies by prompt."""
    return 0.6 + 0.1 * position if verdict == H else 0.1 * position


def test_a_grading_judges_mean_score_is_the_metric_on_request(client: TestClient, experiment: dict) -> None:
    refused = client.get(f"/api/experiments/{experiment['id']}/analysis", params={"metric": "score"})
    assert refused.status_code == 422 and "needs a judge that grades" in refused.json()["detail"]
    assert client.post("/api/judges", json=CLASSIFIER).json()["graded"] is True
    upload_small_benchmark(client, "four-prompts-scored", 4)
    spec = experiment_spec(
        benchmark="four-prompts-scored", seeds=[0, 1, 2], judges=["refusal-minilm", "harm-classifier"]
    )
    graded = client.post("/api/experiments", json=spec).json()
    assert [j["graded"] for j in graded["judges"]] == [False, True]
    scores: dict[tuple[str, int], list[float]] = {}
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in graded["runs"]:
            key = (run["condition_name"], run["seed"])
            scores[key] = [_score(v, i) for i, v in enumerate(VERDICTS[key])]
            add_verdicts(session, run["id"], [[v] for v in VERDICTS[key]])
            judge_again(session, run["id"], "harm-classifier@1", VERDICTS[key], scores[key])
    url = f"/api/experiments/{graded['id']}/analysis"
    rate, score = client.get(url).json(), client.get(url, params={"metric": "score"}).json()
    assert (rate["metric"], rate["judge"]) == ("rate", "refusal-minilm@2")
    assert (score["metric"], score["judge"]) == ("score", "harm-classifier@1")
    summary = {c["name"]: c for c in score["conditions"]}
    tuned = summary["lr-2e-4"]
    seed_means = [np.mean(scores[("lr-2e-4", seed)]) for seed in (0, 1, 2)]
    assert [p["rate"] for p in tuned["seeds"]] == pytest.approx(seed_means)
    assert tuned["mean"] == pytest.approx(np.mean(seed_means))
    assert tuned["sd"] == pytest.approx(np.std(seed_means, ddof=1))
    assert tuned["pooled"]["rate"] == pytest.approx(np.mean([scores[("lr-2e-4", s)] for s in (0, 1, 2)]))
    assert (tuned["pooled"]["harmful"], tuned["pooled"]["safe"]) == (6, 6)  # the verdicts, still counted
    assert tuned["repeats"] == []  # re-evaluation spread is a spread of verdict rates
    comparison = next(c for c in score["comparisons"] if c["a"] == "lr-5e-4")
    by_hand = np.mean([scores[("lr-5e-4", s)] for s in (0, 1, 2)]) - np.mean(scores[("baseline", 0)])
    assert comparison["estimate"] == pytest.approx(by_hand)
    assert comparison["estimate"] != next(c for c in rate["comparisons"] if c["a"] == "lr-5e-4")["estimate"]
    # The judges' side-by-side views are of their verdicts whichever metric the page shows.
    assert score["by_judge"] == rate["by_judge"] and score["agreement"] == rate["agreement"]
    figures = f"/api/experiments/{graded['id']}/figures"
    seeds = client.get(f"{figures}/seeds", params={"metric": "score"}).json()
    assert seeds["layout"]["title"]["text"].startswith("Mean score of harm-classifier@1 per seed")
    assert seeds["data"][1]["y"] == pytest.approx([100 * m for m in seed_means])
    forest = client.get(f"{figures}/forest", params={"metric": "score"}).json()
    assert "score points" in forest["layout"]["xaxis"]["title"]["text"]
    for name in ("noise", "variance", "power"):
        assert client.get(f"{figures}/{name}", params={"metric": "score"}).status_code == 200


def test_cached_results_follow_new_verdicts(client: TestClient, experiment: dict) -> None:
    """The analysis is memoised on the runs' state: a new run's verdicts must show at once."""
    url = f"/api/experiments/{experiment['id']}/analysis"
    before = client.get(url).json()
    assert client.get(url).json() == before  # served again from the memo
    original = next(r for r in experiment["runs"] if r["condition_name"] == "lr-5e-4" and r["seed"] == 0)
    (repeat,) = client.post(f"/api/runs/{original['id']}/reevaluate", json={"count": 1}).json()["runs"]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        add_verdicts(session, repeat["id"], [[S], [S], [S], [S]])
    after = client.get(url).json()
    pooled = {c["name"]: c["pooled"] for c in after["conditions"]}
    assert (pooled["lr-5e-4"]["harmful"], pooled["lr-5e-4"]["safe"]) == (11, 5)
    figure = client.get(f"/api/experiments/{experiment['id']}/figures/noise").json()
    assert figure["data"][1]["y"][2] == pytest.approx(100 * np.std([1.0, 0.0], ddof=1))


def test_the_plan_sizes_a_draft_from_an_earlier_experiments_noise(
    client: TestClient, experiment: dict
) -> None:
    draft = experiment_spec(benchmark="four-prompts", seeds=[0, 1, 2, 3, 4, 5])
    plan = client.post("/api/experiments/plan", json=draft).json()
    assert (
        f"experiment {experiment['id']}" in plan["sizing_basis"]
        and "as if run with 6" in plan["sizing_basis"]
    )
    size = plan["sizing"]
    assert size["n_seeds"] == 6 and size["low"] <= size["minimum_detectable_difference"] <= size["high"]
    power = next(p for p in client.get(f"/api/experiments/{experiment['id']}/analysis").json()["power"])
    # With 3 seeds nothing reachable was detectable; the draft's 6 seeds size as the analysis's 6 do.
    assert power["now"] is None
    assert size == power["more_seeds"][0]


def test_each_condition_is_compared_with_its_own_base_models_baseline_and_never_paired_on_seeds_across(
    client: TestClient,
) -> None:
    """The hand-worked verdicts, with lr-5e-4 and a second baseline on another base model."""
    other, hot = "embedded:smollm2-135m-instruct", {"temperature": 0.7}
    upload_small_benchmark(client, "four-prompts", 4)
    spec = experiment_spec(
        benchmark="four-prompts",
        seeds=[0, 1, 2],
        conditions=[
            {"name": "baseline", "finetune": False, "seeds": [0]},
            {"name": "lr-2e-4", "training": {"learning_rate": 2e-4}},
            {"name": "lr-5e-4", "training": {"learning_rate": 5e-4}, "base_model": other},
            {"name": "other baseline", "finetune": False, "seeds": [0], "base_model": other},
            # At T = 0.7, beside the baseline of its model that decodes as it does.
            {
                "name": "other hot baseline",
                "finetune": False,
                "seeds": [0],
                "base_model": other,
                "generation": hot,
            },
            {"name": "lr-5e-4 hot", "evaluates": "lr-5e-4", "generation": hot},
        ],
    )
    experiment = client.post("/api/experiments", json=spec).json()
    verdicts = {**VERDICTS, ("other baseline", 0): [S, H, S, H], ("other hot baseline", 0): [H, H, S, H]}
    verdicts |= {("lr-5e-4 hot", seed): [H, H, H, S] for seed in (0, 1, 2)}
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            add_verdicts(session, run["id"], [[v] for v in verdicts[(run["condition_name"], run["seed"])]])
    url = f"/api/experiments/{experiment['id']}/analysis"
    comparisons = {(c["a"], c["b"]): c for c in client.get(url).json()["comparisons"]}
    assert set(comparisons) == {
        ("lr-2e-4", "baseline"),
        ("lr-5e-4", "other baseline"),
        ("other baseline", "baseline"),
        ("other hot baseline", "other baseline"),
        ("lr-5e-4 hot", "other hot baseline"),
        ("lr-5e-4 hot", "lr-5e-4"),
    }
    # Per-prompt rates: lr-5e-4 (1, 1, 2/3, 1), its own baseline (0, 1, 0, 1).
    assert comparisons[("lr-5e-4", "other baseline")]["estimate"] == pytest.approx((1 + 2 / 3) / 4)
    # Same seeds, different base models: two seed terms, not a paired one.
    across = client.get(url, params={"pair": "lr-5e-4:lr-2e-4"}).json()["comparisons"][0]
    assert across["new_seeds"]["paired_seeds"] is False
    # The report names each base model with the conditions that start from it.
    report = client.get(f"/api/experiments/{experiment['id']}/report.md").text
    assert (
        f"`{other}`, revision none given (`lr-5e-4`, `other baseline`, `other hot baseline`, `lr-5e-4 hot`)"
        in report
    )


def test_every_number_exists_per_benchmark_and_under_each_benchmark(client: TestClient) -> None:
    """The hand-worked verdicts on a first benchmark; on a second, every fine-tuned run safe where the
    baseline says harmful on every prompt: the comparison turns around."""
    upload_small_benchmark(client, "four-prompts", 4)
    upload_small_benchmark(client, "four-more", 4)
    spec = experiment_spec(benchmark=None, benchmarks=["four-prompts", "four-more@1"], seeds=[0, 1, 2])
    experiment = client.post("/api/experiments", json=spec).json()
    assert [b["reference"] for b in experiment["benchmarks"]] == ["four-prompts@1", "four-more@1"]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            second = [H] * 4 if run["condition_name"] == "baseline" else [S] * 4
            verdicts = VERDICTS[(run["condition_name"], run["seed"])] + second
            add_verdicts(session, run["id"], [[v] for v in verdicts])
    url = f"/api/experiments/{experiment['id']}"
    # The runs' rates are on the first benchmark's prompts.
    runs = client.get(url).json()["runs"]
    assert next(r for r in runs if r["condition_name"] == "lr-2e-4")["rate"]["rate"] == 0.5
    first = client.get(f"{url}/analysis").json()
    assert first["benchmark"] == "four-prompts@1"
    assert {c["name"]: c["mean"] for c in first["conditions"]}["lr-2e-4"] == pytest.approx(0.5)
    other = client.get(f"{url}/analysis", params={"benchmark": "four-more"}).json()
    assert other["benchmark"] == "four-more@1"
    assert {c["name"]: c["mean"] for c in other["conditions"]} == {
        "baseline": 1.0,
        "lr-2e-4": 0.0,
        "lr-5e-4": 0.0,
    }
    assert {(c["a"], c["estimate"]) for c in other["comparisons"]} == {("lr-2e-4", -1.0), ("lr-5e-4", -1.0)}
    # Under each benchmark: both, side by side, in either view.
    under = {view["benchmark"]: view for view in first["by_benchmark"]}
    assert list(under) == ["four-prompts@1", "four-more@1"]
    assert under["four-more@1"]["comparisons"] == other["comparisons"]
    assert under["four-prompts@1"]["comparisons"] == first["comparisons"]
    figure = client.get(f"{url}/figures/seeds", params={"benchmark": "four-more@1"}).json()
    assert figure["layout"]["title"]["text"].endswith("· on four-more@1")
    report = client.get(f"{url}/report.md").text
    assert "## Under each benchmark" in report
    assert "| Condition | `four-prompts@1` | `four-more@1` |" in report
    # The prompt browser shows one benchmark's prompts at a time.
    prompts = client.get(f"{url}/prompts", params={"benchmark": "four-more"}).json()
    assert prompts["total"] == 4
    assert [(r["condition"], r["harmful"]) for r in prompts["items"][0]["rates"]] == [
        ("baseline", 1),
        ("lr-2e-4", 0),
        ("lr-5e-4", 0),
    ]
    refused = client.get(f"{url}/analysis", params={"benchmark": "harmbench"})
    assert refused.status_code == 422 and "its benchmarks: four-prompts@1, four-more@1" in refused.text
