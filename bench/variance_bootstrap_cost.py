"""What the bootstrap over prompts costs a graded score's variance components:
`PYTHONPATH=. python bench/variance_bootstrap_cost.py [--repeats 5]`.

What it measures: the wall-clock time of backend.stats.variance.variance_components on one condition's
table of refusal-prefix-like scores (expit of a normal, one value per seed and prompt) at 48 to 1,000
prompts x 3 and 5 seeds, two ways: as the dashboard computes it (prompt-level pivots from the studentized
bootstrap over prompts, BOOTSTRAP_RESAMPLES resamples) and the baseline, the matched chi-square pivots that
verdicts get (the bootstrap switched off for the run). Each is timed --repeats times, alternating; the
medians and their ratio are printed. Past 1,000 prompts the dashboard takes the chi-square
(BOOTSTRAP_PROMPTS): the last row shows what the bootstrap would cost there. Nothing here asserts on time.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import special

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import backend.stats.variance as variance
from backend.stats.cells import Cells

SHAPES = [(3, 48), (5, 48), (5, 200), (5, 1000), (5, 5000)]


def score_cells(n_seeds: int, n_prompts: int, rng: np.random.Generator) -> Cells:
    logit = -2 + rng.normal(0, 0.9, (1, n_prompts)) + rng.normal(0, 0.1, (n_seeds, n_prompts))
    values = special.expit(logit).ravel()
    seeds, prompts = np.indices((n_seeds, n_prompts)).reshape(2, -1)
    return Cells(seeds, prompts, values, np.ones(values.size, int), values**2)


def seconds(cells: Cells, bootstrap: bool) -> float:
    variance.BOOTSTRAP_PROMPTS = range(10, 10**9) if bootstrap else range(0)
    start = time.perf_counter()
    variance.variance_components(cells)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'seeds x prompts':>16} | {'bootstrap (ms)':>14} | {'chi-square (ms)':>15} | ratio")
    for n_seeds, n_prompts in SHAPES:
        cells = score_cells(n_seeds, n_prompts, rng)
        timings: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.repeats):
            for bootstrap in (True, False):
                timings[bootstrap].append(seconds(cells, bootstrap))
        with_bootstrap, chi_square = (statistics.median(timings[b]) for b in (True, False))
        print(
            f"{n_seeds:>7} x {n_prompts:<6} | {1000 * with_bootstrap:>14.1f} | {1000 * chi_square:>15.1f} | "
            f"{with_bootstrap / chi_square:.1f}x"
        )


if __name__ == "__main__":
    main()
