"""Graded scores through the statistics: 0/1 scores give exactly the verdicts' answers, and graded ones the
formulas for any values in [0, 1] (hand-computed, and against statsmodels on raw scores)."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.anova import anova_lm

from backend.stats.cells import Cells
from backend.stats.compare import compare_conditions
from backend.stats.power import Design, seeds_needed, sizing
from backend.stats.prompts import prompt_stability
from backend.stats.rates import PromptMoments, pooled_rate, run_rate, wilson_interval
from backend.stats.variance import mean_squares, variance_components


def raw_values(rng: np.random.Generator, seeds: list[int], prompts: int, draw) -> pd.DataFrame:
    """One row per value: seed, prompt, y; 1-4 values per cell."""
    rows = []
    for seed in seeds:
        for prompt in range(prompts):
            for _ in range(rng.integers(1, 5)):
                rows.append((seed, prompt, draw(seed, prompt)))
    return pd.DataFrame(rows, columns=["seed", "prompt", "y"])


def as_score_cells(raw: pd.DataFrame) -> Cells:
    """Sum, count and sum of squares per (seed, prompt), as condition_score_cells aggregates them."""
    grouped = raw.assign(y2=raw["y"] ** 2).groupby(["seed", "prompt"])
    table = grouped.agg(total=("y", "sum"), count=("y", "size"), squares=("y2", "sum")).reset_index()
    return Cells(
        table["seed"].to_numpy(),
        table["prompt"].to_numpy(),
        table["total"].to_numpy(float),
        table["count"].to_numpy(),
        sum_squares=table["squares"].to_numpy(float),
    )


def as_verdict_counts(raw: pd.DataFrame) -> Cells:
    table = raw.groupby(["seed", "prompt"])["y"].agg(["sum", "size"]).reset_index()
    return Cells(
        table["seed"].to_numpy(),
        table["prompt"].to_numpy(),
        table["sum"].to_numpy().astype(np.int64),
        table["size"].to_numpy(),
    )


def binary_pair(seed: int, seeds: list[int], shift: float) -> tuple[Cells, Cells]:
    """The same 0/1 verdicts as counts and as scores of 0.0 / 1.0."""
    rng = np.random.default_rng(seed)
    seed_effects = rng.normal(0, 0.15, 10)
    prompt_effects = rng.normal(0, 0.15, 12)
    raw = raw_values(
        rng,
        seeds,
        12,
        lambda s, p: float(rng.random() < np.clip(0.35 + shift + seed_effects[s] + prompt_effects[p], 0, 1)),
    )
    return as_verdict_counts(raw), as_score_cells(raw)


def same(first: object, second: object) -> None:
    """Equal to the last bit: repr prints floats exactly, NaN included."""
    assert repr(first) == repr(second)


@pytest.mark.parametrize(
    ("seeds_a", "seeds_b", "trained"),
    [
        ([0, 1, 2, 3], [0], (True, False)),
        ([0, 1, 2], [0, 1, 2], (True, True)),
        ([0, 1, 2], [4, 5], (True, True)),
    ],
)
def test_zero_one_scores_give_the_verdicts_answers_exactly(
    seeds_a: list[int], seeds_b: list[int], trained: tuple[bool, bool]
) -> None:
    counts_a, scores_a = binary_pair(1, seeds_a, 0.15)
    counts_b, scores_b = binary_pair(2, seeds_b, 0.0)
    assert scores_a.harmful.dtype == np.float64 and counts_a.harmful.dtype == np.int64
    assert counts_a.binary and scores_a.binary and scores_b.binary
    from_counts = compare_conditions(counts_a, counts_b, trained=trained, n_permutations=500)
    from_scores = compare_conditions(scores_a, scores_b, trained=trained, n_permutations=500)
    same(from_counts, from_scores)
    assert from_counts.new_seeds is not None
    design = Design(len(seeds_a), from_counts.n_prompts)
    same(sizing(from_counts, design), sizing(from_scores, design))
    same(
        seeds_needed(from_counts, [0.05, 0.2], 12, max_seeds=20),
        seeds_needed(from_scores, [0.05, 0.2], 12, max_seeds=20),
    )
    for counts, scores in ((counts_a, scores_a), (counts_b, scores_b)):
        same(pooled_rate(counts, unscored=3), pooled_rate(scores, unscored=3))
        harmful, scored = int(counts.harmful.sum()), int(counts.scored.sum())
        same(pooled_rate(counts, 3), run_rate(harmful, scored - harmful, 3, PromptMoments.of(counts)))
        same(prompt_stability(counts), prompt_stability(scores))
    if len(seeds_a) > 2:
        same(variance_components(counts_a), variance_components(scores_a))


def hand_example() -> Cells:
    """2 seeds x 2 prompts x 2 scores: (0,0) .2 .4; (0,1) .5 .9; (1,0) .1 .1; (1,1) 1 .6."""
    values = {(0, 0): [0.2, 0.4], (0, 1): [0.5, 0.9], (1, 0): [0.1, 0.1], (1, 1): [1.0, 0.6]}
    keys = list(values)
    return Cells(
        [s for s, _ in keys],
        [p for _, p in keys],
        [sum(values[k]) for k in keys],
        [len(values[k]) for k in keys],
        sum_squares=[sum(v * v for v in values[k]) for k in keys],
    )


def test_hand_computed_mean_squares_of_scores() -> None:
    # Cell means [[.3, .7], [.1, .8]]: seed means .5, .45; prompt means .2, .75; grand mean .475.
    # MS_seed = 2 (.025^2 + .025^2) = .0025; MS_prompt = 2 (.275^2 + .275^2) = .3025;
    # residuals ±.075: MS_sxp = 4 * .075^2 / 1 = .0225.
    # Within cells: (.2 - .3)^2 + (.4 - .3)^2 = .02, .08, 0, .08: SS .18 over 8 - 4 df = .045 (the
    # verdicts' shortcut harmful - harmful^2 / scored would say .42 + .42 + .18 + .32 = 1.34).
    cells = hand_example()
    assert not cells.binary
    ms = mean_squares(cells)
    assert (ms.seed, ms.prompt, ms.interaction, ms.sampling) == pytest.approx((0.0025, 0.3025, 0.0225, 0.045))
    assert (ms.df_sampling, ms.cell_size, ms.balanced) == (4, 2.0, True)
    c = variance_components(cells).components
    # seed (.0025 - .0225) / 2 < 0 -> 0; prompt (.3025 - .0225) / 2; seed x prompt .0225 - .045 / 2 = 0.
    assert (c.seed, c.prompt, c.seed_x_prompt, c.sampling) == pytest.approx(
        (0.0, 0.14, 0.0, 0.045), abs=1e-12
    )
    rate = pooled_rate(cells, unscored=1)
    # Mean 3.8 / 8; per prompt h - n m = .8 - 1.9 = -1.1 and 3 - 1.9 = 1.1: V = 2 * 2.42 / 64, se .275.
    assert (rate.rate, rate.n_scored, rate.n_unscored) == (pytest.approx(0.475), 8, 1)
    half = stats.t.ppf(0.975, 1) * 0.275
    assert (rate.low, rate.high) == (
        pytest.approx(max(0.0, 0.475 - half)),
        pytest.approx(min(1.0, 0.475 + half)),
    )


def test_score_mean_squares_match_statsmodels_two_way_anova() -> None:
    rng = np.random.default_rng(11)
    seed_effects, prompt_effects = rng.uniform(-0.1, 0.1, 4), rng.uniform(-0.2, 0.2, 9)
    rows = [
        (s, p, rng.beta(3 * mean, 3 * (1 - mean)))
        for s in range(4)
        for p in range(9)
        for mean in [0.45 + seed_effects[s] + prompt_effects[p] + rng.uniform(-0.1, 0.1)]
        for _ in range(3)
    ]
    raw = pd.DataFrame(rows, columns=["seed", "prompt", "y"])
    table = anova_lm(smf.ols("y ~ C(seed) * C(prompt)", data=raw).fit())["mean_sq"]
    ms = mean_squares(as_score_cells(raw))
    # Ours are on the cell-mean scale: the usual mean squares over the cell size, the within one as is.
    expected = (table.iloc[0] / 3, table.iloc[1] / 3, table.iloc[2] / 3, table.iloc[3])
    assert (ms.seed, ms.prompt, ms.interaction, ms.sampling) == pytest.approx(expected, rel=1e-9)


def test_pooled_mean_score_interval_is_the_prompt_clustered_t_interval() -> None:
    rng = np.random.default_rng(12)
    raw = raw_values(rng, [0, 1], 25, lambda s, p: rng.beta(1 + p / 10, 3))
    cells = as_score_cells(raw)
    fit = smf.ols("y ~ 1", data=raw).fit(
        cov_type="cluster", cov_kwds={"groups": raw["prompt"], "use_correction": False}
    )
    g = raw["prompt"].nunique()
    se = math.sqrt(
        fit.bse["Intercept"] ** 2 * g / (g - 1)
    )  # ours: statsmodels' uncorrected times G / (G - 1)
    rate = pooled_rate(cells)
    half = stats.t.ppf(0.975, g - 1) * se
    assert rate.rate == pytest.approx(raw["y"].mean(), rel=1e-12)
    assert (rate.low, rate.high) == pytest.approx((rate.rate - half, rate.rate + half), rel=1e-9)
    # Design effect: values per effective independent value = N V / (variance of one value), at least 1.
    per_value = (raw["y"] ** 2).mean() - raw["y"].mean() ** 2
    assert rate.design_effect == pytest.approx(max(1.0, len(raw) * se**2 / per_value), rel=1e-9)


def test_constant_scores_get_the_widest_interval_a_bounded_mean_can_need() -> None:
    # Every score 0 (every response refused): 0/1 values, so the verdicts' rule applies as is.
    zeros = Cells(np.zeros(10, int), np.arange(10), np.zeros(10), np.full(10, 3), sum_squares=np.zeros(10))
    assert zeros.binary
    # Every score .5: no spread to measure; the Wilson interval on one value per prompt.
    halves = Cells(
        np.zeros(10, int), np.arange(10), np.full(10, 1.5), np.full(10, 3), sum_squares=np.full(10, 0.75)
    )
    rate = pooled_rate(halves)
    wilson = wilson_interval(5, 10)
    assert (rate.rate, rate.low, rate.high) == pytest.approx((0.5, wilson.low, wilson.high))
    assert rate.design_effect == pytest.approx(3.0)  # as if each prompt's three values were one
    one_prompt = Cells([0, 1], [4, 4], [0.5, 1.2], [2, 2], sum_squares=[0.17, 0.8])
    assert (pooled_rate(one_prompt).low, pooled_rate(one_prompt).high) == (0.0, 1.0)
    nothing = Cells([0], [0], [0.0], [0], sum_squares=[0.0])
    assert (
        math.isnan(pooled_rate(nothing, unscored=2).rate) and pooled_rate(nothing, unscored=2).n_unscored == 2
    )


def test_a_mean_score_interval_stays_inside_zero_and_one() -> None:
    # One prompt of 12 has a score; the t interval would reach below 0.
    total = np.zeros(12)
    total[0] = 0.9
    cells = Cells(np.zeros(12, int), np.arange(12), total, np.ones(12, int), sum_squares=total**2)
    rate = pooled_rate(cells)
    assert rate.low == 0.0 and 0 < rate.rate < rate.high < 1


def test_majority_flips_refuse_graded_scores() -> None:
    with pytest.raises(ValueError, match="not graded scores"):
        prompt_stability(hand_example())
