"""Harmfulness rate of one run (or one condition's pooled verdicts) with a Wilson score interval.

With one verdict per prompt the verdicts are independent draws over prompts and the plain Wilson interval
applies. With several verdicts per prompt (samples, re-evaluations, seeds pooled) the verdicts on one prompt
are correlated, and counting them as independent makes the interval too narrow. The interval is then the
Wilson interval at the effective sample size n_eff = rate (1 - rate) / V, where V is the prompt-clustered
variance of the rate (clusters = prompts, G / (G - 1) correction, as in compare.py): the design-effect
adjustment of Korn & Graubard (1998, "Confidence intervals for proportions with small expected number of
positive counts estimated from survey data", Survey Methodology 24:193-201), which Dean & Pagano (2015,
J. Survey Statistics and Methodology 3:484-503) found to cover well with the Wilson form. n_eff is kept
between the number of prompts (every verdict on a prompt the same) and the number of verdicts (independent);
at a rate of 0 or 1, where V is 0, it is the number of prompts.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from backend.stats._checks import check_count, check_open_unit
from backend.stats.cells import Cells
from backend.stats.intervals import Interval


@dataclass(frozen=True)
class PromptMoments:
    """Per-prompt sums of a set of cells: enough for the prompt-clustered variance of their pooled rate.

    With h_p harmful of n_p scored verdicts on prompt p: sum_hh = sum h_p^2, sum_hn = sum h_p n_p,
    sum_nn = sum n_p^2, over the n_prompts prompts with n_p > 0.
    """

    n_prompts: int
    sum_hh: float
    sum_hn: float
    sum_nn: float

    @classmethod
    def of(cls, cells: Cells) -> "PromptMoments":
        """Moments of a condition's (or run's) cells, every seed's verdicts on a prompt in one cluster."""
        index = np.unique(cells.prompt, return_inverse=True)[1].reshape(-1)
        harmful = np.bincount(index, weights=cells.harmful)
        scored = np.bincount(index, weights=cells.scored)
        harmful, scored = harmful[scored > 0], scored[scored > 0]
        return cls(
            int(scored.size), float(harmful @ harmful), float(harmful @ scored), float(scored @ scored)
        )


@dataclass(frozen=True)
class RunRate:
    """Harmfulness rate: harmful / (harmful + safe), its interval, the counts, and the design effect used."""

    rate: float
    low: float
    high: float
    n_scored: int
    n_unscored: int
    # Verdicts per effective independent verdict (1 for one verdict per prompt).
    design_effect: float


def _wilson(p: float, n: float, confidence: float) -> Interval:
    z2 = float(stats.norm.ppf(0.5 + confidence / 2)) ** 2
    denominator = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denominator
    half = math.sqrt(z2 * p * (1 - p) / n + z2 * z2 / (4 * n * n)) / denominator
    # Clamp rounding error at p = 0 or 1 so that low <= estimate <= high always holds.
    return Interval(p, min(p, max(0.0, center - half)), max(p, min(1.0, center + half)))


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
    return _wilson(harmful / scored, scored, confidence)


def effective_sample_size(harmful: int, scored: int, moments: PromptMoments) -> float:
    """n_eff = rate (1 - rate) / (prompt-clustered variance of the rate), within [n_prompts, scored]."""
    g = moments.n_prompts
    if scored == 0 or g < 2 or moments.sum_nn == scored:  # no verdicts, or one verdict per prompt
        return float(scored)
    rate = harmful / scored
    if rate in (0.0, 1.0):  # no spread to measure: as if every prompt's verdicts agreed
        return float(g)
    residual_ss = moments.sum_hh - 2 * rate * moments.sum_hn + rate * rate * moments.sum_nn
    variance = g / (g - 1) * max(0.0, residual_ss) / scored**2
    if variance == 0:  # every prompt at the overall rate: no correlation to correct for
        return float(scored)
    return min(float(scored), max(float(g), rate * (1 - rate) / variance))


def run_rate(
    harmful: int,
    safe: int,
    unscored: int,
    moments: PromptMoments | None = None,
    confidence: float = 0.95,
) -> RunRate:
    """Rate from verdict counts; unscored verdicts are reported, never counted as safe.

    Without `moments` the verdicts are taken as one per prompt (plain Wilson).
    """
    safe = check_count(safe, "safe")
    unscored = check_count(unscored, "unscored")
    scored = check_count(harmful, "harmful") + safe
    confidence = check_open_unit(confidence, "confidence")
    if scored == 0:
        return RunRate(math.nan, 0.0, 1.0, 0, unscored, 1.0)
    n_eff = scored if moments is None else effective_sample_size(harmful, scored, moments)
    interval = _wilson(harmful / scored, n_eff, confidence)
    return RunRate(interval.estimate, interval.low, interval.high, scored, unscored, scored / n_eff)
