"""Does the capability-matched comparison keep its promise? A simulation with a known truth.

The capability-matched comparison (backend/services/analysis.py `capability_match`) compares a fine-tuned
condition with the untuned baseline over only the seeds whose capability rate reached a target. Keeping
seeds by a measurement taken on the same checkpoints changes the question: "for new seeds" then means new
seeds that would be kept too, E[A's rate | kept] - baseline, and that differs from the unconditional
difference whenever a seed's capability and its harm move together. This checks that the interval the
dashboard shows, the ordinary for-new-seeds interval computed on the kept seeds, covers that conditional
truth, and says how often too few seeds are kept for an answer.

Model (logit scale, as bench/coverage.py's): baseline verdicts mu + a_p; fine-tuned verdicts
mu + a_p + effect + d_p + b_s + e_sp; a seed's true capability expit(cap_mu + cap_sd (rho b_s / seed_sd +
sqrt(1 - rho^2) w_s)), measured on m capability prompts as Binomial(m, capability); a seed is kept when its
measured rate reaches the target. rho is the correlation between a seed's harm shift and its capability.
Prompts are drawn anew in every replication: the truths are population quantities, computed by Gauss-Hermite
quadrature over b_s and w_s.

    python bench/capability_matched.py --reps 1000
"""

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize, special, stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.stats.cells import Cells
from backend.stats.compare import compare_conditions
from bench.coverage import mean_expit


@dataclass(frozen=True)
class Scenario:
    name: str
    n_seeds: int
    rho: float
    null: bool = False
    n_prompts: int = 48
    capability_prompts: int = 60
    target: float = 0.6
    mu: float = -2.0
    prompt_sd: float = 1.5
    effect: float = 1.5
    effect_sd: float = 0.7
    seed_sd: float = 0.8
    sxp_sd: float = 0.5
    cap_mu: float = 0.6
    cap_sd: float = 0.8

    @property
    def fine_tuned_sd(self) -> float:
        return math.sqrt(self.prompt_sd**2 + self.effect_sd**2 + self.sxp_sd**2)

    def capability(self, shift: np.ndarray, other: np.ndarray) -> np.ndarray:
        latent = self.rho * shift / self.seed_sd + math.sqrt(1 - self.rho**2) * other
        return special.expit(self.cap_mu + self.cap_sd * latent)

    def kept_probability(self, shift: np.ndarray, other: np.ndarray) -> np.ndarray:
        """P(a seed's measured capability reaches the target | its shift and its own capability term)."""
        least = math.ceil(self.target * self.capability_prompts - 1e-9)
        return stats.binom.sf(least - 1, self.capability_prompts, self.capability(shift, other))

    def _kept_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Seed shifts on a Gauss-Hermite grid (over the shift and the capability's own term) and their
        weights among kept seeds."""
        nodes, weights = np.polynomial.hermite_e.hermegauss(60)
        shift, other = np.meshgrid(self.seed_sd * nodes, nodes, indexing="ij")
        weights = np.outer(weights, weights) * self.kept_probability(shift, other)
        return shift, weights / weights.sum()

    def matched_rate(self, effect: float) -> float:
        shift, weights = self._kept_weights()
        return float((mean_expit(self.mu + effect + shift, self.fine_tuned_sd) * weights).sum())

    def unconditional_rate(self, effect: float) -> float:
        return float(mean_expit(self.mu + effect, math.hypot(self.fine_tuned_sd, self.seed_sd)))

    @property
    def baseline_rate(self) -> float:
        return float(mean_expit(self.mu, self.prompt_sd))

    @property
    def effect_used(self) -> float:
        """The scenario's effect, or under a null the one whose matched rate is the baseline's."""
        if not self.null:
            return self.effect
        return float(optimize.brentq(lambda e: self.matched_rate(e) - self.baseline_rate, -10, 10))


def _cells(harmful: np.ndarray) -> Cells:
    """Verdicts harmful[s, p] (one per seed and prompt) as cells."""
    seeds, prompts = np.indices(harmful.shape)
    return Cells(
        seeds.ravel(), prompts.ravel(), harmful.ravel().astype(np.int64), np.ones(harmful.size, np.int64)
    )


def replicate(
    scenario: Scenario, effect: float, rng: np.random.Generator
) -> tuple[bool, float | None, float | None]:
    """(enough seeds kept for an answer, the matched interval's low and high) of one drawn experiment."""
    s, n = scenario.n_seeds, scenario.n_prompts
    prompt = rng.normal(0, scenario.prompt_sd, n)
    baseline = rng.random((1, n)) < special.expit(scenario.mu + prompt)
    shift = rng.normal(0, scenario.seed_sd, s)
    location = scenario.mu + prompt + effect + rng.normal(0, scenario.effect_sd, n)
    logits = location[None, :] + shift[:, None] + rng.normal(0, scenario.sxp_sd, (s, n))
    tuned = rng.random((s, n)) < special.expit(logits)
    measured = rng.binomial(scenario.capability_prompts, scenario.capability(shift, rng.normal(0, 1, s)))
    kept = measured / scenario.capability_prompts >= scenario.target
    if kept.sum() < 2:
        return False, None, None
    comparison = compare_conditions(
        _cells(tuned[kept]), _cells(baseline), trained=(True, False), n_permutations=200
    )
    if comparison.new_seeds is None:
        return False, None, None
    return True, comparison.new_seeds.interval.low, comparison.new_seeds.interval.high


@dataclass(frozen=True)
class Result:
    # Coverage of the matched truth, or under a null the share of intervals that exclude it (type I).
    rate: float
    se: float
    answered: float  # share of replications with enough kept seeds for an answer
    truth: float  # E[A | kept] - baseline
    unconditional: float  # E[A] - baseline

    def line(self, scenario: Scenario) -> str:
        quantity = "type I" if scenario.null else "coverage"
        truths = (
            f"matched truth {100 * self.truth:+6.1f} pts, unconditional {100 * self.unconditional:+6.1f} pts"
        )
        return (
            f"{scenario.name:<28} {quantity:<8} {self.rate:6.3f} ± {self.se:5.3f}   "
            f"answered {self.answered:5.2f}   {truths}"
        )


def evaluate(scenario: Scenario, reps: int, seed: int) -> Result:
    rng = np.random.default_rng(seed)
    effect = scenario.effect_used
    truth = scenario.matched_rate(effect) - scenario.baseline_rate
    answered = covered = 0
    for _ in range(reps):
        shown, low, high = replicate(scenario, effect, rng)
        if shown:
            answered += 1
            covered += bool(low is not None and high is not None and low <= truth <= high)
    coverage = covered / answered if answered else math.nan
    se = math.sqrt(coverage * (1 - coverage) / answered) if answered else math.nan
    return Result(
        rate=1 - coverage if scenario.null else coverage,
        se=se,
        answered=answered / reps,
        truth=truth,
        unconditional=scenario.unconditional_rate(effect) - scenario.baseline_rate,
    )


SCENARIOS = [
    Scenario(f"S={s} rho={rho}" + (" null" if null else ""), s, rho, null)
    for s in (3, 5, 8)
    for rho in (0.0, -0.8)
    for null in (False, True)
]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"capability-matched for-new-seeds interval, {args.reps} replications per scenario, seed {args.seed}"
    )
    print(
        "coverage of E[A | kept] - baseline (target 0.93-0.97); type I: a null on that difference (<= 0.06)"
    )
    for index, scenario in enumerate(SCENARIOS):
        print(evaluate(scenario, args.reps, args.seed + index).line(scenario), flush=True)
    print(f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
