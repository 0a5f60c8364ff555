"""A condition's rate corrected for its judge's errors (Rogan & Gladen 1978, "Estimating prevalence from the
results of a screening test", American Journal of Epidemiology 107:71-76).

A judge that calls a truly harmful response harmful with probability Se (sensitivity) and a truly safe one
safe with probability Sp (specificity), whatever the response's condition, seed or prompt, turns a true rate
theta into the expected rate of its verdicts p = Se theta + (1 - Sp)(1 - theta). Solved for theta:

    theta = (p + Sp - 1) / (Se + Sp - 1),    clipped to [0, 1].

The rate is linear in the verdicts, so the same holds for a condition's pooled rate and for the mean of its
per-seed rates. Se and Sp come from a finished validation: the judge's verdicts on human-labelled examples
of what its rate measures. The correction assumes those examples resemble the experiment's responses.

The interval carries both uncertainties by drawing both (a parametric bootstrap; the percentiles of the
draws form the interval): Se and Sp from their Jeffreys posteriors, Beta(x + 1/2, n - x + 1/2) for x of n
validation examples, and the raw rate from the pivot of the interval the raw rate already has, so that with
Se and Sp known exactly the corrected interval is the raw interval mapped through the correction:

- given these checkpoints (all verdicts pooled): the Wilson bound at a standard normal draw z, at the
  prompt-clustered effective number of verdicts (backend.stats.rates); its quantiles are the Wilson
  interval's bounds at every level;
- for new seeds (the mean over seeds): mean - T se with T ~ t(seeds - 1) and the continuity-corrected
  standard error of backend.stats.seeds.

Withheld, with the reason, when the validation has fewer than MIN_PER_LABEL scored examples of either human
label, or when the judge is not clearly better than chance: Se + Sp - 1 (Youden's J) is the denominator, and
where its draws come near 0 the corrected rate can be anything.
"""

import math
from dataclasses import dataclass

import numpy as np

from backend.stats._checks import check_count, check_open_unit
from backend.stats.intervals import Interval
from backend.stats.seeds import SeedSummary

# Fewer scored examples of a label than this and its Beta posterior says more about the prior than the judge.
MIN_PER_LABEL = 20
# The judge must be better than chance by at least this much at the lower end (QUANTILE) of Youden's J.
MIN_YOUDEN = 0.1
YOUDEN_QUANTILE = 0.025
# Draws per interval: the 2.5% quantile of 4000 draws moves by a few percent of the interval's width.
DRAWS = 4000


@dataclass(frozen=True)
class ValidationCounts:
    """A judge's scored verdicts on human-labelled examples (unscored verdicts left out, as from rates)."""

    harmful_called_harmful: int
    harmful_called_safe: int
    safe_called_safe: int
    safe_called_harmful: int

    def __post_init__(self) -> None:
        for name in (
            "harmful_called_harmful",
            "harmful_called_safe",
            "safe_called_safe",
            "safe_called_harmful",
        ):
            check_count(getattr(self, name), name)

    @property
    def n_harmful(self) -> int:
        return self.harmful_called_harmful + self.harmful_called_safe

    @property
    def n_safe(self) -> int:
        return self.safe_called_safe + self.safe_called_harmful

    @property
    def sensitivity(self) -> float:
        """Share of the truly harmful examples the judge calls harmful; NaN without any."""
        return self.harmful_called_harmful / self.n_harmful if self.n_harmful else math.nan

    @property
    def specificity(self) -> float:
        """Share of the truly safe examples the judge calls safe; NaN without any."""
        return self.safe_called_safe / self.n_safe if self.n_safe else math.nan


def rogan_gladen(rate: float, sensitivity: float, specificity: float) -> float:
    """(rate + Sp - 1) / (Se + Sp - 1), clipped to [0, 1]; needs Se + Sp > 1 (a judge better than chance)."""
    youden = sensitivity + specificity - 1
    if not youden > 0:
        raise ValueError(f"sensitivity + specificity must exceed 1, got {sensitivity + specificity!r}")
    return float(np.clip((rate + specificity - 1) / youden, 0.0, 1.0))


@dataclass(frozen=True)
class JudgeDraws:
    """Draws of the judge's sensitivity and specificity from their Jeffreys posteriors."""

    sensitivity: np.ndarray
    specificity: np.ndarray

    @classmethod
    def of(cls, counts: ValidationCounts, rng: np.random.Generator, n_draws: int = DRAWS) -> "JudgeDraws":
        return cls(
            rng.beta(counts.harmful_called_harmful + 0.5, counts.harmful_called_safe + 0.5, n_draws),
            rng.beta(counts.safe_called_safe + 0.5, counts.safe_called_harmful + 0.5, n_draws),
        )

    @property
    def youden(self) -> np.ndarray:
        return self.sensitivity + self.specificity - 1


def withheld_reason(counts: ValidationCounts, judge: JudgeDraws) -> str | None:
    """Why no corrected rate can be given with this validation, or None when it can."""
    if min(counts.n_harmful, counts.n_safe) < MIN_PER_LABEL:
        return (
            f"the validation is too small: {counts.n_harmful} harmful and {counts.n_safe} safe scored "
            f"examples (at least {MIN_PER_LABEL} of each are needed to measure sensitivity and specificity)"
        )
    low = float(np.quantile(judge.youden, YOUDEN_QUANTILE))
    if low < MIN_YOUDEN:
        return (
            f"the judge is not clearly better than chance: sensitivity {counts.sensitivity:.2f} + "
            f"specificity {counts.specificity:.2f} - 1 could be as low as {low:.2f} on this validation "
            f"(at least {MIN_YOUDEN} is needed); the corrected rate could be anything"
        )
    return None


def wilson_pivot(rate: float, n_effective: float, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Draws whose quantiles are the Wilson interval's bounds: the bound at z for z ~ N(0, 1)."""
    z = rng.standard_normal(n_draws)
    z2 = z * z
    spread = np.sqrt(rate * (1 - rate) / n_effective + z2 / (4 * n_effective**2))
    bound = (rate + z2 / (2 * n_effective) + z * spread) / (1 + z2 / n_effective)
    return np.clip(bound, 0.0, 1.0)  # rounding error at a rate of 0 or 1


def t_pivot(mean: float, se: float, df: int, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Draws whose quantiles are the t interval's bounds: mean - T se, T ~ t(df)."""
    return mean - rng.standard_t(df, n_draws) * se


def corrected_interval(
    raw_estimate: float,
    raw_draws: np.ndarray,
    counts: ValidationCounts,
    judge: JudgeDraws,
    confidence: float = 0.95,
) -> Interval:
    """The corrected estimate and the percentile interval of the corrected draws (raw rate and judge drawn
    together), widened if need be to hold the estimate."""
    confidence = check_open_unit(confidence, "confidence")
    estimate = rogan_gladen(raw_estimate, counts.sensitivity, counts.specificity)
    # Draws with J <= 0 (rare once the judge passes withheld_reason) flip sign: their 0 or 1 is honest enough.
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = (raw_draws + judge.specificity - 1) / judge.youden
    draws = np.clip(np.nan_to_num(draws, nan=0.5), 0.0, 1.0)
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return Interval(estimate, min(estimate, float(low)), max(estimate, float(high)))


@dataclass(frozen=True)
class CorrectedRate:
    """A condition's rate corrected for its judge's errors, both answers; or why it is withheld."""

    # All verdicts pooled, given these checkpoints.
    pooled: Interval | None
    # The mean over seeds, for new seeds: NaN bounds with one seed.
    mean: Interval | None
    withheld: str | None


def corrected_rate(
    counts: ValidationCounts,
    pooled_rate: float,
    n_effective: float,
    seeds: SeedSummary | None,
    confidence: float = 0.95,
    seed: int = 0,
) -> CorrectedRate:
    """Correct a condition's pooled rate (with its effective number of verdicts, the Wilson interval's n)
    and its mean over seeds (None without seeds). Draws from numpy's default_rng(seed): reproducible."""
    rng = np.random.default_rng(seed)
    judge = JudgeDraws.of(counts, rng)
    reason = withheld_reason(counts, judge)
    if reason is not None:
        return CorrectedRate(None, None, reason)
    pooled = corrected_interval(
        pooled_rate, wilson_pivot(pooled_rate, n_effective, DRAWS, rng), counts, judge, confidence
    )
    mean = None
    if seeds is not None:
        if seeds.n_seeds < 2:
            point = rogan_gladen(seeds.mean, counts.sensitivity, counts.specificity)
            mean = Interval(point, math.nan, math.nan)
        else:
            draws = t_pivot(seeds.mean, seeds.se, seeds.n_seeds - 1, DRAWS, rng)
            mean = corrected_interval(seeds.mean, draws, counts, judge, confidence)
    return CorrectedRate(pooled, mean, None)
