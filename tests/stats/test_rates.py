import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from backend.stats.cells import Cells
from backend.stats.rates import (
    PromptMoments,
    effective_sample_size,
    pooled_rate,
    run_rate,
    wilson_interval,
)


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
@pytest.mark.parametrize(
    ("harmful", "scored"), [(0, 1), (1, 1), (0, 48), (3, 48), (24, 48), (48, 48), (17, 500)]
)
def test_wilson_matches_statsmodels(harmful: int, scored: int, confidence: float) -> None:
    low, high = proportion_confint(harmful, scored, alpha=1 - confidence, method="wilson")
    interval = wilson_interval(harmful, scored, confidence)
    assert interval.estimate == harmful / scored
    assert interval.low == pytest.approx(low, abs=1e-12)
    assert interval.high == pytest.approx(high, abs=1e-12)


def test_no_scored_verdicts_gives_nan_estimate_and_vacuous_interval() -> None:
    interval = wilson_interval(0, 0)
    assert math.isnan(interval.estimate)
    assert (interval.low, interval.high) == (0.0, 1.0)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))), st.floats(0.5, 0.999)
)
def test_wilson_contains_estimate_within_unit_interval(counts: tuple[int, int], confidence: float) -> None:
    interval = wilson_interval(*counts, confidence)
    assert 0.0 <= interval.low <= interval.estimate <= interval.high <= 1.0
    assert interval.low < interval.high


def test_wilson_coverage_is_close_to_nominal() -> None:
    draws = np.random.default_rng(20240601).binomial(100, 0.2, size=2000)
    covered = [(i := wilson_interval(int(h), 100)).low <= 0.2 <= i.high for h in draws]
    assert 0.93 <= np.mean(covered) <= 0.97
    # The exact coverage at n = 100, p = 0.2 sums the binomial probabilities of the covering outcomes.
    covering = [h for h in range(101) if (i := wilson_interval(h, 100)).low <= 0.2 <= i.high]
    exact = stats.binom.pmf(covering, 100, 0.2).sum()
    assert exact == pytest.approx(0.9405, abs=5e-4)


def test_run_rate_excludes_unscored_from_the_rate() -> None:
    rate = run_rate(harmful=6, safe=14, unscored=5)
    low, high = proportion_confint(6, 20, method="wilson")
    assert (rate.rate, rate.n_scored, rate.n_unscored) == (0.3, 20, 5)
    assert (rate.low, rate.high) == pytest.approx((low, high), abs=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: wilson_interval(3, 2), "cannot exceed"),
        (lambda: wilson_interval(-1, 2), "at least 0"),
        (lambda: wilson_interval(1.0, 2), "integer"),  # type: ignore[arg-type]
        (lambda: wilson_interval(True, 2), "integer"),
        (lambda: wilson_interval(1, 2, confidence=1.0), "confidence"),
        (lambda: run_rate(1, -2, 0), "safe"),
        (lambda: run_rate(1, 2, -1), "unscored"),
    ],
)
def test_rejects_invalid_input(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_prompt_moments_sum_each_prompt_over_seeds() -> None:
    cells = Cells(seed=[0, 0, 1, 1], prompt=[5, 6, 5, 6], harmful=[1, 0, 2, 3], scored=[2, 3, 2, 3])
    moments = PromptMoments.of(cells)
    # Prompt 5: h = 3 of n = 4; prompt 6: h = 3 of n = 6.
    assert moments == PromptMoments(2, 9 + 9, 12 + 18, 16 + 36)


def test_prompt_clustered_variance_matches_statsmodels(expand: Callable[[Cells], pd.DataFrame]) -> None:
    rng = np.random.default_rng(5)
    p = rng.uniform(0.05, 0.6, 30)
    cells = Cells(np.zeros(30, int), np.arange(30), rng.binomial(4, p), np.full(30, 4))
    data = expand(cells)
    fit = smf.ols("y ~ 1", data=data).fit(
        cov_type="cluster", cov_kwds={"groups": data["prompt"], "use_correction": False}
    )
    harmful, scored = int(cells.harmful.sum()), int(cells.scored.sum())
    n_eff = effective_sample_size(harmful, scored, PromptMoments.of(cells))
    rate = harmful / scored
    # Ours is statsmodels' uncorrected cluster variance times G / (G - 1).
    assert rate * (1 - rate) / n_eff == pytest.approx(fit.bse["Intercept"] ** 2 * 30 / 29, rel=1e-10)


def test_correlated_samples_count_as_one_verdict_per_prompt() -> None:
    # Every prompt's four samples agree: four verdicts carry the information of one.
    harmful = np.array([4, 0, 0, 4, 0, 0, 0, 4, 0, 0])
    cells = Cells(np.zeros(10, int), np.arange(10), harmful, np.full(10, 4))
    rate = run_rate(int(harmful.sum()), int(40 - harmful.sum()), 0, PromptMoments.of(cells))
    single = wilson_interval(3, 10)
    assert (rate.low, rate.high) == pytest.approx((single.low, single.high))
    assert rate.design_effect == pytest.approx(4.0)
    # One verdict per prompt: the plain Wilson interval.
    once = Cells(np.zeros(10, int), np.arange(10), harmful // 4, np.ones(10, int))
    plain = run_rate(3, 7, 0, PromptMoments.of(once))
    assert (plain.low, plain.high, plain.design_effect) == pytest.approx((single.low, single.high, 1.0))


def test_clustered_interval_is_never_narrower_than_the_independent_one() -> None:
    # Samples that disagree more than chance would give a design effect below 1: kept at 1.
    harmful = np.full(10, 2)
    cells = Cells(np.zeros(10, int), np.arange(10), harmful, np.full(10, 4))
    rate = run_rate(20, 20, 0, PromptMoments.of(cells))
    independent = wilson_interval(20, 40)
    assert (rate.low, rate.high) == pytest.approx((independent.low, independent.high))
    all_safe = Cells(np.zeros(10, int), np.arange(10), np.zeros(10, int), np.full(10, 4))
    none = run_rate(0, 40, 0, PromptMoments.of(all_safe))
    assert none.high == pytest.approx(wilson_interval(0, 10).high)  # n_eff = prompts at a rate of 0


def test_prompt_df_puts_the_t_critical_value_in_wilsons_formula() -> None:
    # Korn & Graubard's df adjustment: Wilson at n_eff (z / t_{G-1})^2 is Wilson's formula with t for z.
    cells = Cells(np.zeros(25, int), np.arange(25), [1] * 3 + [0] * 22, np.ones(25, int))
    alpha = 2 * stats.norm.sf(stats.t.ppf(0.975, 24))
    adjusted = pooled_rate(cells, prompt_df=True)
    assert (adjusted.low, adjusted.high) == pytest.approx(
        proportion_confint(3, 25, alpha=alpha, method="wilson"), abs=1e-12
    )
    plain = pooled_rate(cells)
    assert plain.low > adjusted.low and plain.high < adjusted.high
    assert adjusted.design_effect == plain.design_effect
