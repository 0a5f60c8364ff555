"""The interval result type and the one t-interval helper every module shares."""

import math
from dataclasses import dataclass

from scipy import stats

from backend.stats._checks import check_open_unit


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval [low, high] (proportions, not points)."""

    estimate: float
    low: float
    high: float


def t_interval(estimate: float, se: float, df: int, confidence: float = 0.95) -> Interval:
    """estimate ± t_{df, 1-(1-confidence)/2} · se.

    NaN bounds when `se` is NaN or df < 1 (no degrees of freedom left to estimate the spread).
    Not clipped to [0, 1]: a bound past 0 or 1 says the t approximation is poor, which the caller may show.
    """
    confidence = check_open_unit(confidence, "confidence")
    if df < 1 or math.isnan(se):
        return Interval(float(estimate), math.nan, math.nan)
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return Interval(float(estimate), float(estimate - half), float(estimate + half))
