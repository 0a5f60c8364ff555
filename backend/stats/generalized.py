"""Generalized pivotal quantities: intervals and p-values when a variance is a sum of estimated terms.

Weerahandi (1993, "Generalized confidence intervals", JASA 88:899-905; 1995, "Exact Statistical Methods for
Data Analysis"). A mean square MS with df degrees of freedom estimates its expectation sigma^2; the pivot
df * MS / W, W ~ chi-square(df), is a draw from sigma^2's fiducial distribution. A quantity computed from
several mean squares (a variance component, a share, a standard error) is recomputed from their pivots, and
its percentiles form the interval. For an estimate D ~ N(theta, V) whose variance V is such a quantity,
theta's pivot is D - Z sqrt(V*) with Z ~ N(0, 1): the interval solves E[Phi((x - D) / sqrt(V*))] = tail, and
the two-sided p-value of theta = 0 is 2 E[Phi(-|D| / sqrt(V*))]. With a single term this is the t interval
(Z / sqrt(W / df) is t with df degrees of freedom); with several it weighs each term by how well it is
estimated, as the Welch-Satterthwaite df would, but without plugging in the estimated terms to choose the df,
which is what makes Satterthwaite intervals too narrow when a term with few df comes out small by chance.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from backend.stats._checks import check_open_unit
from backend.stats.intervals import Interval

# Pivot draws per quantity: the 2.5% quantile of 4000 draws moves by a few percent of the interval's width.
PIVOT_DRAWS = 4000


def pivot_draws(mean_square: float, df: float, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """df * MS / W, W ~ chi-square(df): draws of the mean square's expectation; NaN draws for NaN."""
    if math.isnan(mean_square):
        return np.full(n_draws, math.nan)
    return df * mean_square / rng.chisquare(df, n_draws)


@dataclass(frozen=True)
class GeneralizedTest:
    """The generalized interval and two-sided p-value of an estimate with a pivotal variance."""

    interval: Interval
    p_value: float
    # The t degrees of freedom that would give the same interval with SE = sqrt(V estimated); inf when
    # the interval is no wider than the normal one.
    df: float


def normal_with_pivotal_variance(
    estimate: float, variance: float, variance_draws: np.ndarray, confidence: float = 0.95
) -> GeneralizedTest:
    """Interval and p-value of theta from D = estimate ~ N(theta, V), V's pivot drawn as `variance_draws`."""
    confidence = check_open_unit(confidence, "confidence")
    sd = np.sqrt(np.maximum(variance_draws, 0.0))
    if not (sd > 0).any():  # no variance at all: the estimate is the value
        return GeneralizedTest(
            Interval(estimate, estimate, estimate), 1.0 if estimate == 0 else 0.0, math.inf
        )
    sd = sd[sd > 0]
    tail = (1 - confidence) / 2

    def below(x: float) -> float:
        """P(theta's pivot <= x) - tail; monotone in x."""
        return float(special.ndtr((x - estimate) / sd).mean()) - tail

    reach = 50 * float(sd.max())
    half = estimate - optimize.brentq(below, estimate - reach, estimate)
    p_value = float(2 * special.ndtr(-abs(estimate) / sd).mean())
    se = math.sqrt(variance)
    return GeneralizedTest(
        Interval(estimate, estimate - half, estimate + half),
        min(1.0, p_value),
        _equivalent_df(half, se, tail),
    )


def _equivalent_df(half_width: float, se: float, tail: float) -> float:
    """df such that t_{df, 1 - tail} * se = half_width (the interval's width in t terms)."""
    # scipy.special's quantiles, not scipy.stats': the same functions without the per-call argument checks,
    # which took most of the time of these root searches (the coverage harness calls them thousands of
    # times a scenario).
    if se == 0 or half_width <= special.ndtri(1 - tail) * se:
        return math.inf
    ratio = half_width / se
    if ratio >= special.stdtrit(0.5, 1 - tail):
        return 0.5
    return float(optimize.brentq(lambda df: special.stdtrit(df, 1 - tail) - ratio, 0.5, 1e7))
