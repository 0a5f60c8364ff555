import math

import numpy as np
import pytest
from scipy import stats

from backend.stats.seeds import seed_summary


@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_matches_scipy_t_interval(confidence: float) -> None:
    rates = np.array([0.42, 0.48, 0.54, 0.45])
    summary = seed_summary(rates, confidence)
    low, high = stats.t.interval(confidence, df=3, loc=rates.mean(), scale=stats.sem(rates))
    assert summary.mean == pytest.approx(0.4725)
    assert summary.sd == pytest.approx(rates.std(ddof=1))
    assert (summary.min, summary.max, summary.n_seeds) == (0.42, 0.54, 4)
    assert (summary.low, summary.high) == pytest.approx((low, high), rel=1e-12)


def test_interval_is_wider_than_a_z_interval() -> None:
    summary = seed_summary([0.42, 0.48, 0.54])
    z_half = 1.959963984540054 * summary.sd / math.sqrt(3)
    assert summary.high - summary.mean == pytest.approx(4.302652729911275 / 1.959963984540054 * z_half)


def test_single_seed_has_no_spread() -> None:
    summary = seed_summary([0.3])
    assert (summary.mean, summary.min, summary.max, summary.n_seeds) == (0.3, 0.3, 0.3, 1)
    assert math.isnan(summary.sd) and math.isnan(summary.low) and math.isnan(summary.high)


@pytest.mark.parametrize("rates", [[], [0.2, math.nan], [0.2, 1.2], [[0.1, 0.2]]])
def test_rejects_invalid_rates(rates: list[float]) -> None:
    with pytest.raises(ValueError, match="per_seed_rates"):
        seed_summary(rates)
