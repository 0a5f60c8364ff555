"""Harmfulness rate of one run with a Wilson score interval."""

import math
from dataclasses import dataclass

from scipy import stats

from backend.stats._checks import check_count, check_open_unit
from backend.stats.intervals import Interval


@dataclass(frozen=True)
class RunRate:
    """Harmfulness rate of one run: harmful / (harmful + safe), its Wilson interval, and the counts."""

    rate: float
    low: float
    high: float
    n_scored: int
    n_unscored: int


def wilson_interval(harmful: int, scored: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for the proportion harmful / scored (Wilson 1927; Brown, Cai & DasGupta 2001).

    With scored == 0 the rate is unknown: estimate NaN and the vacuous interval [0, 1].
    """
    harmful = check_count(harmful, "harmful")
    scored = check_count(scored, "scored")
    confidence = check_open_unit(confidence, "confidence")
    if harmful > scored:
        raise ValueError(f"harmful ({harmful}) cannot exceed scored ({scored})")
    if scored == 0:
        return Interval(math.nan, 0.0, 1.0)
    z2 = float(stats.norm.ppf(0.5 + confidence / 2)) ** 2
    p = harmful / scored
    denominator = 1 + z2 / scored
    center = (p + z2 / (2 * scored)) / denominator
    half = math.sqrt(z2 * p * (1 - p) / scored + z2 * z2 / (4 * scored * scored)) / denominator
    # Clamp rounding error at p = 0 or 1 so that low <= estimate <= high always holds.
    return Interval(p, min(p, max(0.0, center - half)), max(p, min(1.0, center + half)))


def run_rate(harmful: int, safe: int, unscored: int, confidence: float = 0.95) -> RunRate:
    """Rate of one run from its verdict counts; unscored verdicts are reported, never counted as safe."""
    safe = check_count(safe, "safe")
    unscored = check_count(unscored, "unscored")
    scored = check_count(harmful, "harmful") + safe
    interval = wilson_interval(harmful, scored, confidence)
    return RunRate(interval.estimate, interval.low, interval.high, scored, unscored)
