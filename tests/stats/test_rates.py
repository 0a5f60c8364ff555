import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from backend.stats.rates import run_rate, wilson_interval


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
