import math

import numpy as np
import pytest
from scipy import stats

from backend.stats.generalized import normal_with_pivotal_variance, pivot_draws


@pytest.mark.parametrize("df", [2, 5, 40])
def test_one_mean_square_gives_the_t_interval_and_t_test(df: int) -> None:
    # Z / sqrt(W / df) is t with df degrees of freedom: the generalized answer is the t interval.
    variance, estimate = 0.04, 0.5
    draws = pivot_draws(variance, df, 200_000, np.random.default_rng(1))
    result = normal_with_pivotal_variance(estimate, variance, draws)
    half = stats.t.ppf(0.975, df) * math.sqrt(variance)
    assert result.interval.high - estimate == pytest.approx(half, rel=0.01)
    assert estimate - result.interval.low == pytest.approx(half, rel=0.01)
    assert result.p_value == pytest.approx(2 * stats.t.sf(estimate / math.sqrt(variance), df), rel=0.02)
    assert result.df == pytest.approx(df, rel=0.1)


def test_two_terms_sit_between_their_own_t_intervals() -> None:
    # A precisely known term plus a term with 2 df: wider than the normal, narrower than t_2.
    rng = np.random.default_rng(2)
    draws = pivot_draws(0.01, 500, 50_000, rng) + pivot_draws(0.01, 2, 50_000, rng)
    result = normal_with_pivotal_variance(0.0, 0.02, draws)
    half = result.interval.high
    assert stats.norm.ppf(0.975) * math.sqrt(0.02) < half < stats.t.ppf(0.975, 2) * math.sqrt(0.02)
    assert 2 < result.df < 500


def test_no_variance_leaves_the_estimate_as_the_value() -> None:
    result = normal_with_pivotal_variance(0.3, 0.0, np.zeros(10))
    assert (result.interval.low, result.interval.high, result.p_value) == (0.3, 0.3, 0.0)
    assert normal_with_pivotal_variance(0.0, 0.0, np.zeros(10)).p_value == 1.0


def test_nan_mean_squares_draw_nan() -> None:
    assert np.isnan(pivot_draws(math.nan, 3, 5, np.random.default_rng(0))).all()
