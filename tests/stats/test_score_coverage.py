"""Do the comparison's intervals keep ~95% coverage when the values are graded scores? A simulation with a
known truth (bench/coverage.py does the same, at scale, for 0/1 verdicts).

Model, per prompt p, training seed s and sample k: the cell mean
    mu = m_c + a_p + d_cp + b_cs + e_csp
with a_p (prompt difficulty, shared by the arms), d_cp (the arm's effect varying by prompt), b_cs (the
training seed's shift) and e_csp (seed x prompt) uniform around 0, so mu stays inside (0, 1) and the truths
are exact: an untuned baseline has no seed and one run. A score is Beta(mu phi, (1 - mu) phi) around mu, or
("refusals") 0 with probability 1 - mu / q and Beta with mean q otherwise: a StrongREJECT-like pile at 0.
Truths: for new seeds m_A - m_B; given these checkpoints m_A - m_B + (mean of the drawn seed shifts of A)
- (those of B), the checkpoints' expected difference over new prompts and samples (cells are balanced, so
each seed weighs 1 / S).
"""

from dataclasses import dataclass

import numpy as np
import pytest

from backend.stats.cells import Cells
from backend.stats.compare import compare_conditions
from backend.stats.rates import pooled_rate

REPLICATIONS = 200
PROMPTS = 30
SAMPLES = 2


@dataclass(frozen=True)
class Arm:
    mean: float
    seeds: int  # 0: an untuned baseline, one run without a seed effect
    effect_by_prompt: float = 0.06
    seed_shift: float = 0.12
    seed_x_prompt: float = 0.05


def draw_scores(rng: np.random.Generator, mu: np.ndarray, refusals: bool) -> np.ndarray:
    """SAMPLES scores per cell mean (last axis: samples)."""
    mu = np.repeat(mu[..., None], SAMPLES, axis=-1)
    if not refusals:
        return rng.beta(4 * mu, 4 * (1 - mu))
    complied_mean = 0.8  # a compliant answer's mean score; P(comply) = mu / 0.8
    scores = rng.beta(4 * complied_mean, 4 * (1 - complied_mean), mu.shape)
    return np.where(rng.random(mu.shape) < mu / complied_mean, scores, 0.0)


def arm_cells(
    rng: np.random.Generator, arm: Arm, prompt_effects: np.ndarray, refusals: bool
) -> tuple[Cells, float]:
    """The arm's score cells and the mean of its drawn seed shifts."""
    runs = max(arm.seeds, 1)
    shifts = rng.uniform(-arm.seed_shift, arm.seed_shift, (runs, 1)) if arm.seeds else np.zeros((1, 1))
    noise = rng.uniform(-arm.seed_x_prompt, arm.seed_x_prompt, (runs, PROMPTS)) if arm.seeds else 0.0
    by_prompt = rng.uniform(-arm.effect_by_prompt, arm.effect_by_prompt, (1, PROMPTS))
    scores = draw_scores(rng, arm.mean + prompt_effects + by_prompt + shifts + noise, refusals)
    seeds, prompts = np.indices((runs, PROMPTS))
    cells = Cells(
        seeds.ravel(),
        prompts.ravel(),
        scores.sum(axis=-1).ravel(),
        np.full(runs * PROMPTS, SAMPLES),
        sum_squares=(scores**2).sum(axis=-1).ravel(),
    )
    return cells, float(shifts.mean())


def coverage(a: Arm, b: Arm, prompt_spread: float, refusals: bool) -> dict[str, float]:
    rng = np.random.default_rng(2024)
    covered = {"given": 0, "new_seeds": 0, "given_of_new_seeds_truth": 0, "pooled_a": 0}
    for _ in range(REPLICATIONS):
        prompt_effects = rng.uniform(-prompt_spread, prompt_spread, (1, PROMPTS))
        (cells_a, shift_a), (cells_b, shift_b) = (
            arm_cells(rng, arm, prompt_effects, refusals) for arm in (a, b)
        )
        result = compare_conditions(cells_a, cells_b, trained=(a.seeds > 0, b.seeds > 0), n_permutations=200)
        assert result.new_seeds is not None
        given, new = result.given_checkpoints.interval, result.new_seeds.interval
        new_truth = a.mean - b.mean
        covered["given"] += given.low <= new_truth + shift_a - shift_b <= given.high
        covered["new_seeds"] += new.low <= new_truth <= new.high
        covered["given_of_new_seeds_truth"] += given.low <= new_truth <= given.high
        pooled = pooled_rate(cells_a)
        covered["pooled_a"] += pooled.low <= a.mean + shift_a <= pooled.high
    return {name: count / REPLICATIONS for name, count in covered.items()}


# 200 replications: a true 95% interval covers at least 0.91 with probability 0.99.
FLOOR = 0.91


@pytest.mark.parametrize(
    ("a", "b", "prompt_spread", "refusals"),
    [
        (Arm(mean=0.45, seeds=3, seed_shift=0.15), Arm(mean=0.35, seeds=0), 0.1, False),
        # Most scores 0: mu in [0.02, 0.5], P(0) = 1 - mu / 0.8.
        (
            Arm(mean=0.26, seeds=3, effect_by_prompt=0.03, seed_x_prompt=0.03),
            Arm(mean=0.22, seeds=3, effect_by_prompt=0.03, seed_x_prompt=0.03),
            0.05,
            True,
        ),
    ],
    ids=["beta-vs-baseline", "refusal-pile-fine-tuned-pair"],
)
def test_intervals_cover_with_beta_scores(a: Arm, b: Arm, prompt_spread: float, refusals: bool) -> None:
    rates = coverage(a, b, prompt_spread, refusals)
    assert rates["given"] >= FLOOR, rates
    assert rates["new_seeds"] >= FLOOR, rates
    assert rates["pooled_a"] >= FLOOR, rates
    # The check has teeth: the given-checkpoints interval, which leaves out training noise, misses the
    # new-seeds truth far more often than 5%.
    assert rates["given_of_new_seeds_truth"] < 0.8, rates
