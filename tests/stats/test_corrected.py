import math

import numpy as np
import pytest
from scipy import stats

from backend.stats.corrected import (
    MIN_PER_LABEL,
    JudgeDraws,
    ValidationCounts,
    corrected_rate,
    rogan_gladen,
    t_pivot,
    wilson_pivot,
    withheld_reason,
)
from backend.stats.rates import wilson_interval
from backend.stats.seeds import seed_summary

# Se = 45 / 50 = 0.9, Sp = 40 / 50 = 0.8: Se + Sp - 1 = 0.7.
MIDDLING = ValidationCounts(45, 5, 40, 10)
# The same Se and Sp measured on a million examples: the judge's uncertainty all but gone.
EXACT = ValidationCounts(450_000, 50_000, 400_000, 100_000)


def test_counts_give_sensitivity_and_specificity() -> None:
    assert (MIDDLING.sensitivity, MIDDLING.specificity) == (0.9, 0.8)
    assert (MIDDLING.n_harmful, MIDDLING.n_safe) == (50, 50)
    assert math.isnan(ValidationCounts(0, 0, 3, 1).sensitivity)
    with pytest.raises(ValueError, match="safe_called_harmful"):
        ValidationCounts(1, 1, 1, -1)


def test_rogan_gladen_by_hand() -> None:
    # (0.4 + 0.8 - 1) / (0.9 + 0.8 - 1) = 0.2 / 0.7
    assert rogan_gladen(0.4, 0.9, 0.8) == pytest.approx(2 / 7, abs=1e-15)
    # A perfect judge changes nothing; a rate below the false-positive rate 0.2 is clipped to 0, one above
    # Se (0.9) to 1.
    assert rogan_gladen(0.37, 1.0, 1.0) == pytest.approx(0.37)
    assert rogan_gladen(0.1, 0.9, 0.8) == 0.0
    assert rogan_gladen(0.95, 0.9, 0.8) == 1.0
    with pytest.raises(ValueError, match="must exceed 1"):
        rogan_gladen(0.4, 0.5, 0.5)


def test_wilson_pivot_quantiles_are_the_wilson_bounds() -> None:
    draws = wilson_pivot(0.3, 80.0, 400_000, np.random.default_rng(1))
    expected = wilson_interval(24, 80)
    assert np.quantile(draws, [0.025, 0.975]) == pytest.approx([expected.low, expected.high], abs=2e-3)
    # At a rate of 0 the pivot never goes below 0, and its upper quantile is Wilson's upper bound.
    at_zero = wilson_pivot(0.0, 50.0, 400_000, np.random.default_rng(2))
    assert at_zero.min() == 0.0
    assert np.quantile(at_zero, 0.975) == pytest.approx(wilson_interval(0, 50).high, abs=2e-3)


def test_t_pivot_quantiles_are_the_t_bounds() -> None:
    draws = t_pivot(0.4, 0.05, 2, 400_000, np.random.default_rng(3))
    half = stats.t.ppf(0.975, 2) * 0.05
    assert np.quantile(draws, [0.025, 0.975]) == pytest.approx([0.4 - half, 0.4 + half], abs=3e-3)


def test_with_a_judge_known_exactly_the_intervals_are_the_raw_ones_corrected() -> None:
    seeds = seed_summary([0.35, 0.40, 0.45], step=1 / 48)
    result = corrected_rate(EXACT, 0.4, 200.0, seeds)
    assert result.withheld is None and result.pooled is not None and result.mean is not None
    raw = wilson_interval(80, 200)
    assert result.pooled.estimate == pytest.approx(2 / 7)
    # By hand: (bound + 0.8 - 1) / 0.7 for each Wilson bound at n = 200 and each t bound with 2 df.
    assert result.pooled.low == pytest.approx((raw.low - 0.2) / 0.7, abs=0.006)
    assert result.pooled.high == pytest.approx((raw.high - 0.2) / 0.7, abs=0.006)
    assert result.mean.estimate == pytest.approx(2 / 7)
    assert result.mean.low == pytest.approx((seeds.low - 0.2) / 0.7, abs=0.02)
    assert result.mean.high == pytest.approx((seeds.high - 0.2) / 0.7, abs=0.02)


def test_the_judges_uncertainty_widens_the_interval() -> None:
    known = corrected_rate(EXACT, 0.4, 200.0, None).pooled
    measured = corrected_rate(MIDDLING, 0.4, 200.0, None).pooled
    assert known is not None and measured is not None
    assert measured.estimate == pytest.approx(known.estimate)
    assert measured.high - measured.low > 1.5 * (known.high - known.low)
    assert 0.0 <= measured.low <= measured.estimate <= measured.high <= 1.0


def test_reproducible_for_a_seed() -> None:
    assert corrected_rate(MIDDLING, 0.3, 100.0, None) == corrected_rate(MIDDLING, 0.3, 100.0, None)


def test_one_seed_has_a_corrected_mean_without_interval() -> None:
    result = corrected_rate(MIDDLING, 0.4, 48.0, seed_summary([0.4]))
    assert result.mean is not None
    assert result.mean.estimate == pytest.approx(2 / 7)
    assert math.isnan(result.mean.low) and math.isnan(result.mean.high)


def test_withheld_when_the_validation_is_too_small() -> None:
    small = ValidationCounts(MIN_PER_LABEL - 2, 1, 40, 10)
    result = corrected_rate(small, 0.4, 200.0, None)
    assert result.pooled is None and result.mean is None
    assert result.withheld is not None and "too small" in result.withheld
    assert f"{MIN_PER_LABEL - 1} harmful and 50 safe" in result.withheld


def test_withheld_when_the_judge_is_not_clearly_better_than_chance() -> None:
    # Se 0.6, Sp 0.56 on 100 examples: Se + Sp - 1 = 0.16, but its 2.5% quantile is below 0.
    near_chance = ValidationCounts(30, 20, 28, 22)
    reason = withheld_reason(near_chance, JudgeDraws.of(near_chance, np.random.default_rng(0)))
    assert reason is not None and "not clearly better than chance" in reason
    assert "sensitivity 0.60 + specificity 0.56" in reason
    # The same judge measured on 40 times as many examples is clearly better than chance.
    larger = ValidationCounts(1200, 800, 1120, 880)
    assert withheld_reason(larger, JudgeDraws.of(larger, np.random.default_rng(0))) is None
