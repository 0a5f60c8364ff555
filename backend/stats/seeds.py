"""Spread of a condition's harmfulness rate (or mean score) across training seeds.

The t interval assumes the per-seed rates are roughly normal across seeds; it uses nothing of how each rate
was made, so a per-seed mean score in [0, 1] is summarised the same way. Verdict rates lie on a lattice
(one verdict flipped moves a seed's rate by 1 / its count), and with 2 seeds equal rates happen far more
often than a normal spread allows: the interval then had width 0 and covered 0.905 (bench/coverage.py,
48p-2s-sd0.3-k1). Given the lattice `step`, the SD is that of rates whose spread is widened by half a step
(sqrt(sum of squared deviations) + step / 2), a continuity correction.
"""

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from backend.stats.intervals import t_interval


@dataclass(frozen=True)
class SeedSummary:
    """Per-seed rates (or mean scores) of one condition: mean, SD (ddof=1), range, and a t-interval for the
    mean.

    With one seed, `sd`, `low`, `high` and `se` are NaN: one seed says nothing about seed-to-seed spread.
    """

    mean: float
    sd: float
    min: float
    max: float
    low: float
    high: float
    n_seeds: int
    # The interval's standard error of the mean, sd_c / sqrt(n) (continuity-corrected on a lattice).
    se: float


def seed_summary(per_seed_rates: ArrayLike, confidence: float = 0.95, step: float = 0.0) -> SeedSummary:
    """Summarize one rate per training seed; the interval is mean ± t_{n-1} · sd_c / sqrt(n), not z, with
    sd_c the continuity-corrected SD for rates on a lattice with this step (0: no lattice, sd_c = sd).

    Rates must be finite proportions (or mean scores) in [0, 1]: drop runs without scored values first.
    """
    rates = np.asarray(per_seed_rates, dtype=float)
    if rates.ndim != 1 or rates.size == 0:
        raise ValueError(f"per_seed_rates must be a non-empty 1-D array, got shape {rates.shape}")
    if not np.isfinite(rates).all() or (rates < 0).any() or (rates > 1).any():
        raise ValueError("per_seed_rates must be finite proportions in [0, 1]")
    n = rates.size
    mean = float(rates.mean())
    sd = float(rates.std(ddof=1)) if n > 1 else math.nan
    corrected = (math.sqrt((n - 1) * sd**2) + step / 2) / math.sqrt(n - 1) if n > 1 else math.nan
    se = corrected / math.sqrt(n)
    interval = t_interval(mean, se, n - 1, confidence)
    return SeedSummary(mean, sd, float(rates.min()), float(rates.max()), interval.low, interval.high, n, se)
