"""Harmfulness rate of a run (or of pooled cells) with a Wilson score interval; mean score with a t interval.

Verdicts. With one verdict per prompt the verdicts are independent draws over prompts and the plain Wilson
interval applies. With several verdicts per prompt (samples, re-evaluations, seeds pooled) the verdicts on one
prompt are correlated, and counting them as independent makes the interval too narrow. The interval is then
the Wilson interval at the effective sample size n_eff = rate (1 - rate) / V, where V is the prompt-clustered
variance of the rate (clusters = prompts, G / (G - 1) correction, as in compare.py): the design-effect
adjustment of Korn & Graubard (1998, "Confidence intervals for proportions with small expected number of
positive counts estimated from survey data", Survey Methodology 24:193-201), which Dean & Pagano (2015,
J. Survey Statistics and Methodology 3:484-503) found to cover well with the Wilson form. n_eff is kept
between the number of prompts (every verdict on a prompt the same) and the number of verdicts (independent);
at a rate of 0 or 1, where V is 0, it is the number of prompts.

Scores (graded values in [0, 1], not all 0 or 1). Wilson's interval is built on the binomial variance
p (1 - p) of a 0/1 value, which a score does not have. The mean score m = sum / count gets the same
prompt-clustered variance V (its formula never uses the values being 0/1) and the t interval
m ± t_{G-1} sqrt(V), G = number of prompts, as compare.py's given-checkpoints answer; clipped to [0, 1], where
a mean score lies. Like the Wald interval for a proportion, it is optimistic for a mean near 0 or 1 with few
prompts. When V is 0 (every prompt's mean equal, e.g. every score 0) the t interval would be a point; it is
then the Wilson interval on G values, the widest a mean of [0, 1] values can need (Bhatia & Davis 2000, Amer.
Math. Monthly 107:353-357: a value in [0, 1] with mean m has variance at most m (1 - m)), as the verdicts'
rule does at a rate of 0 or 1. With one prompt there is no spread across prompts to measure: [0, 1]. The
design effect uses the variance of one value, sum_squares / count - m^2, in place of rate (1 - rate) (the two
are equal for 0/1 values).

Degrees of freedom. Wilson's interval uses the normal critical value z; the prompt-clustered variance has
only G - 1 df, which the scores' t interval counts. `prompt_df=True` counts them for verdicts too, with Korn
& Graubard's (1998) degrees-of-freedom-adjusted effective sample size n_eff (z / t_{G-1})^2: Wilson's limits
depend on z and n only through z^2 / n, so this is Wilson's formula with t_{G-1} in place of z. compare.py
builds its given-checkpoints interval for a difference from these intervals, which then agree with its t
interval on G - 1 df in the large-sample limit.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from backend.stats._checks import check_count, check_open_unit
from backend.stats.cells import Cells
from backend.stats.intervals import Interval, t_interval


@dataclass(frozen=True)
class PromptMoments:
    """Per-prompt sums of a set of cells: enough for the prompt-clustered variance of their pooled rate.

    With h_p the sum of the n_p values on prompt p (harmful verdicts of n_p scored ones, or a sum of n_p
    scores): sum_hh = sum h_p^2, sum_hn = sum h_p n_p, sum_nn = sum n_p^2, over the n_prompts prompts with
    n_p > 0.
    """

    n_prompts: int
    sum_hh: float
    sum_hn: float
    sum_nn: float

    @classmethod
    def of(cls, cells: Cells) -> "PromptMoments":
        """Moments of a condition's (or run's) cells, every seed's values on a prompt in one cluster."""
        index = np.unique(cells.prompt, return_inverse=True)[1].reshape(-1)
        harmful = np.bincount(index, weights=cells.harmful)
        scored = np.bincount(index, weights=cells.scored)
        harmful, scored = harmful[scored > 0], scored[scored > 0]
        return cls(
            int(scored.size), float(harmful @ harmful), float(harmful @ scored), float(scored @ scored)
        )


@dataclass(frozen=True)
class RunRate:
    """Harmfulness rate harmful / (harmful + safe), or mean score; its interval, the counts, and the design
    effect. For scores n_scored counts the scores."""

    rate: float
    low: float
    high: float
    n_scored: int
    n_unscored: int
    # Values per effective independent value (1 for one value per prompt).
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


def _prompt_df_adjusted(n: float, n_prompts: int, confidence: float) -> float:
    """n (z / t_{G-1})^2: the sample size at which Wilson's z interval is its t_{G-1} interval at n."""
    if n_prompts < 2:  # no df to count: the normal critical value
        return n
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    t = float(stats.t.ppf(0.5 + confidence / 2, n_prompts - 1))
    return n * (z / t) ** 2


def _clustered_variance(harmful: float, scored: int, moments: PromptMoments) -> float:
    """G / (G - 1) * sum_p (h_p - n_p m)^2 / N^2: the prompt-clustered variance of the pooled mean
    m = harmful / scored (N = scored), for verdicts and scores alike; needs G >= 2 and N > 0."""
    g = moments.n_prompts
    rate = harmful / scored
    residual_ss = moments.sum_hh - 2 * rate * moments.sum_hn + rate * rate * moments.sum_nn
    return g / (g - 1) * max(0.0, residual_ss) / scored**2


def effective_sample_size(
    harmful: float, scored: int, moments: PromptMoments, sum_squares: float | None = None
) -> float:
    """n_eff = (variance of one value) / (prompt-clustered variance of the mean), within [n_prompts, scored].

    The variance of one value is rate (1 - rate) for verdicts (sum_squares None, or equal to harmful) and
    sum_squares / scored - rate^2 = rate (1 - rate) - (harmful - sum_squares) / scored for scores.
    """
    g = moments.n_prompts
    if scored == 0 or g < 2 or moments.sum_nn == scored:  # no values, or one value per prompt
        return float(scored)
    rate = harmful / scored
    spread = rate * (1 - rate) - (0.0 if sum_squares is None else (harmful - sum_squares) / scored)
    if spread <= 0:  # every value the same (a rate of 0 or 1): as if every prompt's values agreed
        return float(g)
    variance = _clustered_variance(harmful, scored, moments)
    if variance == 0:  # every prompt at the overall rate: no correlation to correct for
        return float(scored)
    return min(float(scored), max(float(g), spread / variance))


def run_rate(
    harmful: int,
    safe: int,
    unscored: int,
    moments: PromptMoments | None = None,
    confidence: float = 0.95,
    prompt_df: bool = False,
) -> RunRate:
    """Rate from verdict counts; unscored verdicts are reported, never counted as safe.

    Without `moments` the verdicts are taken as one per prompt (plain Wilson). `prompt_df`: the critical
    value is t with the prompts' G - 1 df (module docstring); the design effect stays n_scored / n_eff.
    """
    safe = check_count(safe, "safe")
    unscored = check_count(unscored, "unscored")
    scored = check_count(harmful, "harmful") + safe
    confidence = check_open_unit(confidence, "confidence")
    if scored == 0:
        return RunRate(math.nan, 0.0, 1.0, 0, unscored, 1.0)
    n_eff = scored if moments is None else effective_sample_size(harmful, scored, moments)
    n_prompts = scored if moments is None else moments.n_prompts
    n_wilson = _prompt_df_adjusted(n_eff, n_prompts, confidence) if prompt_df else n_eff
    interval = _wilson(harmful / scored, n_wilson, confidence)
    return RunRate(interval.estimate, interval.low, interval.high, scored, unscored, scored / n_eff)


def pooled_rate(
    cells: Cells, unscored: int = 0, confidence: float = 0.95, prompt_df: bool = False
) -> RunRate:
    """The pooled rate of a set of cells (a run's, a seed's, a condition's), clustered by prompt.

    Verdicts (cells.binary): run_rate at the cells' counts, a Wilson interval. Scores: the mean score with the
    clipped t interval of the module docstring. `unscored` is reported, never counted. `prompt_df`: Wilson
    intervals (of verdicts, and of constant scores) with the t_{G-1} critical value (module docstring).
    """
    scored = int(cells.scored.sum())
    moments = PromptMoments.of(cells)
    if cells.binary:
        harmful = int(cells.harmful.sum())
        return run_rate(harmful, scored - harmful, unscored, moments, confidence, prompt_df)
    unscored = check_count(unscored, "unscored")
    confidence = check_open_unit(confidence, "confidence")
    if scored == 0:
        return RunRate(math.nan, 0.0, 1.0, 0, unscored, 1.0)
    total, sum_squares = float(cells.harmful.sum()), float(cells.sum_squares.sum())
    mean = total / scored
    n_eff = effective_sample_size(total, scored, moments, sum_squares)
    if moments.n_prompts < 2:
        interval = Interval(mean, 0.0, 1.0)
    elif (variance := _clustered_variance(total, scored, moments)) == 0:
        g = moments.n_prompts
        interval = _wilson(mean, _prompt_df_adjusted(g, g, confidence) if prompt_df else g, confidence)
    else:
        interval = t_interval(mean, math.sqrt(variance), moments.n_prompts - 1, confidence)
    low, high = max(0.0, interval.low), min(1.0, interval.high)
    return RunRate(mean, low, high, scored, unscored, scored / n_eff)
