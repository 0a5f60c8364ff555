"""Which pivots the prompt-level variance components should take, measured on the same draws: the matched
chi-square that verdicts get against the studentized bootstrap over prompts that continuous scores get
(backend.stats.variance). `PYTHONPATH=. python bench/variance_pivots.py [--reps 400]`.

For each case, --reps replications of one condition's table; each is decomposed twice, with the bootstrap
off and on wherever it can run (backend.stats.variance._takes_bootstrap replaced for the run: the rule
without its check for binary values and ties), and the prompt component's 95% interval checked against its
truth given the drawn seeds (as bench/coverage.py defines it). Printed per case: each method's coverage, its
misses above the interval, the median of its upper bound over the truth (nan when some replication got no
upper bound), and the method the dashboard's rule (`_takes_bootstrap`) picks there. The cases:

- refusal-prefix scores (bench/coverage.py's scenarios: continuous, skewed): 48 prompts x 3 and 5 seeds, and
  the 200-prompt scenario widened to 1,000 prompts, past which the rule keeps the chi-square;
- capability near the ceiling (0/1 verdicts, 95% correct), 60 prompts x 3 and 5 seeds;
- a grading judge's scores on 48 prompts: a complying response scored Beta(4, 2), a refusal 0, compliance
  expit(mu + prompt + seed + seed x prompt) with SDs 1.5, 0.3 and 0.5; at mu = -4 most prompts' means are 0.
"""

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import special

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import backend.stats.variance as variance
from backend.stats.cells import Cells
from bench.coverage import SCENARIOS, simulate

# A draw: the condition's cells, and the truth of its prompt component given its seeds.
Draw = Callable[[np.random.Generator], tuple[Cells, float]]


def from_scenario(name: str, n_prompts: int | None = None) -> Draw:
    scenario = SCENARIOS[name] if n_prompts is None else replace(SCENARIOS[name], n_prompts=n_prompts)

    def draw(rng: np.random.Generator) -> tuple[Cells, float]:
        replication = simulate(scenario, rng)
        truth = scenario.components_given_seeds(replication.seed_shifts[0], rng).prompt
        return replication.arms[0], truth

    return draw


@dataclass(frozen=True)
class GradedJudge:
    """Scores of a grading judge: 0 for a refusal, Beta(4, 2) (mean 2/3) for a complying response."""

    n_seeds: int
    samples: int
    mu: float
    n_prompts: int = 48
    prompt_sd: float = 1.5
    seed_sd: float = 0.3
    sxp_sd: float = 0.5

    def compliance(self, rng: np.random.Generator, shifts: np.ndarray, n_prompts: int) -> np.ndarray:
        prompts = rng.normal(0, self.prompt_sd, n_prompts)
        noise = rng.normal(0, self.sxp_sd, (shifts.size, n_prompts))
        return special.expit(self.mu + prompts[None, :] + shifts[:, None] + noise)

    def __call__(self, rng: np.random.Generator) -> tuple[Cells, float]:
        shifts = rng.normal(0, self.seed_sd, self.n_seeds)
        p = self.compliance(rng, shifts, self.n_prompts)
        shape = (*p.shape, self.samples)
        score = np.where(rng.random(shape) < p[..., None], rng.beta(4, 2, shape), 0.0)
        seeds, prompts = np.indices(p.shape).reshape(2, -1)
        counts = np.full(p.size, self.samples)
        cells = Cells(seeds, prompts, score.sum(-1).ravel(), counts, (score**2).sum(-1).ravel())
        # The truth given these seeds, over 20,000 new prompts (bench.coverage's components_given_seeds).
        u = self.compliance(rng, shifts, 20_000) * 2 / 3
        u = u - u.mean(axis=1, keepdims=True)
        interaction = float(((u - u.mean(axis=0)) ** 2).mean(axis=1).sum() / (self.n_seeds - 1))
        return cells, float(u.mean(axis=0).var()) - interaction / self.n_seeds


CASES: list[tuple[str, Draw]] = [
    ("refusal-prefix, 48 prompts x 3 seeds, seed SD 0.1", from_scenario("48p-3s-sd0.1-refusal-prefix")),
    ("refusal-prefix, 48 prompts x 5 seeds, seed SD 0.1", from_scenario("48p-5s-sd0.1-refusal-prefix")),
    (
        "refusal-prefix, 1,000 prompts x 5 seeds, seed SD 0.1",
        from_scenario("200p-5s-sd0.1-refusal-prefix", 1000),
    ),
    ("capability at 95%, 60 prompts x 3 seeds", from_scenario("60p-3s-sd0.3-k1-capability0.95")),
    ("capability at 95%, 60 prompts x 5 seeds", from_scenario("60p-5s-sd0.3-k1-capability0.95")),
    *(
        (f"grading judge, mu {mu:g}, 48 prompts x {s} seeds x {k} samples", GradedJudge(s, k, mu))
        for mu in (-4.0, -2.0, 0.0)
        for s, k in ((3, 1), (5, 2))
    ),
]


def _bootstrap_wherever_it_can(_cells: Cells, _rate: np.ndarray, ms: variance.MeanSquares) -> bool:
    """The rule without its tie check: on BOOTSTRAP_PROMPTS prompts with both mean squares positive."""
    return ms.n_prompts in variance.BOOTSTRAP_PROMPTS and ms.prompt > 0 and ms.interaction > 0


FORCED: dict[str, Callable[[Cells, np.ndarray, variance.MeanSquares], bool]] = {
    "chi-square": lambda *_: False,
    "bootstrap": _bootstrap_wherever_it_can,
}


@dataclass(frozen=True)
class Outcome:
    covers: float  # share of replications whose interval holds the truth
    above: float  # share whose upper bound is below the truth
    upper_over_truth: float  # median of the upper bound over the truth


def evaluate(draw: Draw, reps: int, seed: int) -> tuple[dict[str, Outcome], float]:
    """Each method's outcome on the same draws, and the share of draws on which the rule takes the
    bootstrap."""
    rng = np.random.default_rng(seed)
    takes_bootstrap = variance._takes_bootstrap
    rows: dict[str, list[tuple[bool, bool, float]]] = {"chi-square": [], "bootstrap": []}
    picked = []
    try:
        for _ in range(reps):
            cells, truth = draw(rng)
            tables = variance.cell_tables(cells)
            picked.append(
                takes_bootstrap(cells, tables.harmful / tables.scored, variance.mean_squares(cells))
            )
            for method, method_rows in rows.items():
                variance._takes_bootstrap = FORCED[method]
                result = variance.variance_components(cells)
                low, high = result.components_low.prompt, result.components_high.prompt
                method_rows.append((low <= truth <= high, truth > high, high / truth))
    finally:
        variance._takes_bootstrap = takes_bootstrap
    outcomes = {}
    for method, method_rows in rows.items():
        covered, above, ratio = (np.array(column, dtype=float) for column in zip(*method_rows, strict=True))
        outcomes[method] = Outcome(float(covered.mean()), float(above.mean()), float(np.median(ratio)))
    return outcomes, float(np.mean(picked))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=20261205)
    args = parser.parse_args()
    se = math.sqrt(0.95 * 0.05 / args.reps)
    print(f"{args.reps} replications a case; a coverage of 0.95 has Monte-Carlo SE {se:.3f}")
    header = (
        "case | chi-square: covers (above) upper/truth | bootstrap: covers (above) upper/truth | rule takes"
    )
    print(header)
    for index, (name, draw) in enumerate(CASES):
        outcomes, share = evaluate(draw, args.reps, args.seed + index)
        shown = [f"{o.covers:.3f} ({o.above:.3f}) {o.upper_over_truth:.2f}" for o in outcomes.values()]
        rule = "bootstrap" if share == 1 else "chi-square" if share == 0 else f"bootstrap in {share:.0%}"
        print(f"{name} | {shown[0]} | {shown[1]} | {rule}", flush=True)


if __name__ == "__main__":
    main()
