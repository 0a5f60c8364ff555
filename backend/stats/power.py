"""How many seeds / prompts / samples a comparison of two conditions needs.

Design: each condition is fine-tuned with its own n_seeds seeds (independent across conditions) and
evaluated on the same n_prompts prompts with n_samples scored verdicts per (seed, prompt) cell. Under the
variance-components model (see variance.py) a condition's mean rate over seeds has variance
    v = var_seed / S + var_seed_x_prompt / (S * P) + var_sampling / (S * P * K)
plus the prompt term var_prompt / P, which is the same draw of prompts in both conditions and cancels in the
difference. So SE(A - B) = sqrt(2 v), assuming both conditions share the components and the effect does not
vary by prompt (a prompt x condition interaction would add to the SE).

The analysis sized for is the two-sample t-test on per-seed rates (df = 2 * (n_seeds - 1)); power is computed
exactly from the noncentral t distribution with noncentrality delta / SE, two-sided. When `sampling` is NaN
(one verdict per cell, interaction and sampling confounded) the lumped `seed_x_prompt` is treated as pure
interaction, which does not shrink with more samples: conservative.
"""

import math
from dataclasses import dataclass

from scipy import optimize, stats

from backend.stats._checks import check_count, check_finite, check_open_unit
from backend.stats.variance import Components


@dataclass(frozen=True)
class Design:
    """Seeds per condition, prompts (shared by both conditions) and scored samples per cell."""

    n_seeds: int
    n_prompts: int
    n_samples: int

    def __post_init__(self) -> None:
        check_count(self.n_seeds, "n_seeds", minimum=2)
        check_count(self.n_prompts, "n_prompts", minimum=1)
        check_count(self.n_samples, "n_samples", minimum=1)


def difference_se(components: Components, design: Design) -> float:
    """Standard error of the difference between two conditions' mean harmfulness rates."""
    seed, interaction = components.seed, components.seed_x_prompt
    sampling = 0.0 if math.isnan(components.sampling) else components.sampling
    for name, value in (("seed", seed), ("seed_x_prompt", interaction), ("sampling", sampling)):
        if check_finite(value, f"components.{name}") < 0:
            raise ValueError(f"components.{name} must be >= 0, got {value}")
    s, p, k = design.n_seeds, design.n_prompts, design.n_samples
    se = math.sqrt(2 * (seed / s + interaction / (s * p) + sampling / (s * p * k)))
    if se == 0:
        raise ValueError("seed, seed_x_prompt and sampling components are all 0: nothing to size")
    return se


def detection_power(components: Components, delta: float, design: Design, alpha: float = 0.05) -> float:
    """Probability that a two-sided level-alpha t-test on per-seed rates detects a true difference delta."""
    alpha = check_open_unit(alpha, "alpha")
    noncentrality = abs(check_finite(delta, "delta")) / difference_se(components, design)
    df = 2 * (design.n_seeds - 1)
    critical = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(critical, df, noncentrality) + stats.nct.cdf(-critical, df, noncentrality))


def minimum_detectable_difference(
    components: Components, design: Design, alpha: float = 0.05, target_power: float = 0.8
) -> float:
    """Smallest |A - B| (a proportion) detected with probability target_power at two-sided level alpha."""
    target_power = check_open_unit(target_power, "target_power")
    if target_power <= check_open_unit(alpha, "alpha"):
        raise ValueError(f"target_power ({target_power}) must exceed alpha ({alpha})")
    se = difference_se(components, design)
    high = se
    while detection_power(components, high, design, alpha) < target_power:
        high *= 2
    return float(
        optimize.brentq(lambda d: detection_power(components, d, design, alpha) - target_power, 0.0, high)
    )


def seeds_needed(
    components: Components,
    delta: float,
    n_prompts: int,
    n_samples: int,
    alpha: float = 0.05,
    target_power: float = 0.8,
    max_seeds: int = 100,
) -> int | None:
    """Smallest seeds per condition (>= 2) giving target_power for difference delta; None past max_seeds."""
    if check_finite(delta, "delta") == 0:
        raise ValueError("delta must be non-zero")
    target_power = check_open_unit(target_power, "target_power")
    for n_seeds in range(2, check_count(max_seeds, "max_seeds", minimum=2) + 1):
        if detection_power(components, delta, Design(n_seeds, n_prompts, n_samples), alpha) >= target_power:
            return n_seeds
    return None
