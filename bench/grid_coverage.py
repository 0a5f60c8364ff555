"""Coverage of a grid's main-effect intervals (backend.stats.factors), by simulation with known truth.

Each replication draws a full factorial experiment: every condition fine-tuned on the same seeds and judged
on the same prompts. A verdict is Binomial(k, expit(mu + condition effect + prompt difficulty + the
condition's own prompt effect + seed shift + seed x prompt)). A seed's shift is shared in part by every
condition (correlation `seed_correlation`: the same seed is the same LoRA init and data order) and in part
the condition's own. Condition effects are additive on the logit scale plus an optional interaction of the
first two factors; a null scenario gives the first factor no effect, so its main effects are exactly 0.

The truths: for new seeds, each condition's population rate (over seeds and prompts) averaged as the main
effect averages them; given these checkpoints, each condition's expected rate over new prompts with its
seeds as drawn. Each main effect's intervals are checked against their truth, and under a null the for-new-
seeds p-value's type-I error at 0.05. Rows print as bench/coverage.py's do, and the same floor and ceiling
apply (`failures`).

    python bench/grid_coverage.py --reps 1000   # every scenario; bench/results/grid-coverage-1000.txt
"""

import argparse
import functools
import itertools
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import special

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.stats.cells import Cells
from backend.stats.factors import factor_effects
from bench.coverage import Tally, mean_expit, report, run_scenarios


@dataclass(frozen=True)
class GridScenario:
    shape: tuple[int, ...]  # levels per factor
    n_seeds: int
    seed_sd: float
    null: bool = False
    n_prompts: int = 48
    samples: int = 1
    seed_correlation: float = 0.5
    interaction: float = 0.0  # added to the logit where the first two factors are both at their last level
    mu: float = -1.5
    prompt_sd: float = 1.5
    effect_sd: float = 0.5
    sxp_sd: float = 0.5

    @property
    def name(self) -> str:
        design = "x".join(map(str, self.shape))
        kind = "null" if self.null else ("interacting" if self.interaction else "additive")
        return f"grid-{design}-{kind}-{self.n_seeds}seeds-sd{self.seed_sd}"

    def condition_effect(self, combination: tuple[int, ...]) -> float:
        """The logit effect of a condition, by its level indices."""
        first = 0.0 if self.null else 0.6 * combination[0]
        rest = sum(-0.4 * level for level in combination[1:])
        last = [level == n - 1 for level, n in zip(combination, self.shape, strict=True)]
        return first + rest + (self.interaction if len(last) > 1 and last[0] and last[1] else 0.0)

    @property
    def within_sd(self) -> float:
        """SD of a verdict's logit around its condition's mean, except the seed shift."""
        return math.sqrt(self.prompt_sd**2 + self.effect_sd**2 + self.sxp_sd**2)


SCENARIOS = {
    s.name: s
    for s in [
        *(GridScenario((2, 2), seeds, sd) for seeds in (2, 3, 5) for sd in (0.3, 0.8)),
        *(GridScenario((3, 2), seeds, sd) for seeds in (2, 3, 5) for sd in (0.3, 0.8)),
        *(GridScenario(shape, seeds, 0.8, null=True) for shape in ((2, 2), (3, 2)) for seeds in (2, 3, 5)),
        GridScenario((2, 2), 3, 0.5, interaction=-1.5),
    ]
}
FAST = ["grid-2x2-null-3seeds-sd0.8", "grid-3x2-additive-2seeds-sd0.8", "grid-2x2-interacting-3seeds-sd0.5"]


def _simulate(
    scenario: GridScenario, rng: np.random.Generator
) -> tuple[dict[tuple[int, ...], Cells], dict[tuple[int, ...], np.ndarray]]:
    """Each condition's cells and its seeds' shifts."""
    s, p, k = scenario.n_seeds, scenario.n_prompts, scenario.samples
    difficulty = rng.normal(0, scenario.prompt_sd, p)
    common = rng.normal(0, scenario.seed_sd, s)
    seeds, prompts = np.indices((s, p))
    cells, shifts = {}, {}
    for combination in itertools.product(*(range(n) for n in scenario.shape)):
        own = rng.normal(0, scenario.seed_sd, s)
        rho = scenario.seed_correlation
        shifts[combination] = math.sqrt(rho) * common + math.sqrt(1 - rho) * own
        location = scenario.mu + scenario.condition_effect(combination) + difficulty
        logit = (
            location[None, :]
            + rng.normal(0, scenario.effect_sd, p)[None, :]
            + shifts[combination][:, None]
            + rng.normal(0, scenario.sxp_sd, (s, p))
        )
        harmful = rng.binomial(k, special.expit(logit))
        cells[combination] = Cells(seeds.ravel(), prompts.ravel(), harmful.ravel(), np.full(harmful.size, k))
    return cells, shifts


def _main_effect(
    scenario: GridScenario, factor: int, level: int, rate_of: Callable[[tuple[int, ...]], float]
) -> float:
    """Level minus level 0 of `factor`, averaged over the other factors, of the rates `rate_of` gives."""
    others = [range(n) for i, n in enumerate(scenario.shape) if i != factor]
    differences = []
    for rest in itertools.product(*others):
        at = list(rest)
        differences.append(
            rate_of((*at[:factor], level, *at[factor:])) - rate_of((*at[:factor], 0, *at[factor:]))
        )
    return float(np.mean(differences))


def evaluate(scenario: GridScenario, reps: int, seed: int) -> Tally:
    rng = np.random.default_rng(seed)
    tally = Tally()
    factors = {f"f{i}": list(range(n)) for i, n in enumerate(scenario.shape)}
    sd_new = math.hypot(scenario.within_sd, scenario.seed_sd)

    def population(combination: tuple[int, ...]) -> float:
        return float(mean_expit(scenario.mu + scenario.condition_effect(combination), sd_new))

    for rep in range(reps):
        cells, shifts = _simulate(scenario, rng)

        def checkpoints(combination: tuple[int, ...], shifts: dict = shifts) -> float:
            location = scenario.mu + scenario.condition_effect(combination) + shifts[combination]
            return float(np.mean(mean_expit(location, scenario.within_sd)))

        for effect in factor_effects(factors, cells, pivot_seed=rep):
            index = int(effect.factor[1:])
            for level_effect in effect.effects:
                contrast = level_effect.contrast
                quantity = f"main effect of factor {index}"
                given = contrast.given_checkpoints.interval
                truth = _main_effect(scenario, index, int(level_effect.level), checkpoints)
                tally.add(f"{quantity} given checkpoints", "coverage", given.low <= truth <= given.high)
                assert contrast.new_seeds is not None, contrast.new_seeds_withheld
                new = contrast.new_seeds.interval
                truth = _main_effect(scenario, index, int(level_effect.level), population)
                tally.add(f"{quantity} for new seeds", "coverage", new.low <= truth <= new.high)
                if index == 0 and scenario.null:
                    rejected = contrast.new_seeds.p_value < 0.05
                    tally.add(f"{quantity} for new seeds, p < 0.05", "type I", rejected)
            if index == 0 and scenario.interaction:
                tally.add("interaction of factors 0 and 1 flagged", "rejects", "f1" in effect.interacts_with)
    return tally


def _evaluate_named(name: str, seed: int, reps: int) -> Tally:
    return evaluate(SCENARIOS[name], reps, seed)


def run(names: list[str], reps: int, seed: int) -> list[tuple[str, str, str, float, float, int]]:
    return run_scenarios(functools.partial(_evaluate_named, reps=reps), names, seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=1000, help="replications per scenario")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--fast", action="store_true", help="the slice make test runs")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable")
    args = parser.parse_args()
    return report(run(args.scenario or (FAST if args.fast else list(SCENARIOS)), args.reps, args.seed))


if __name__ == "__main__":
    raise SystemExit(main())
