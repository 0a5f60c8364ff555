"""Paired comparison of two conditions evaluated on the same prompts: A - B in harmfulness rate.

Each condition's rate pools its scored verdicts (harmful / scored over all cells), which is the OLS slope
of `verdict ~ condition` on the raw 0/1 verdicts. Its variance is the cluster-robust (sandwich) variance of
that slope, computed from cell counts: cell c contributes u_c = (harmful_c - scored_c * rate_A) / N_A for A
and -(harmful_c - scored_c * rate_B) / N_B for B (N = scored verdicts of the condition), and
V_g = G / (G - 1) * sum over clusters of (sum of u_c in the cluster)^2 with G clusters.

- Prompt-clustered (Miller 2024, "Adding Error Bars to Evals"): clusters = prompts, shared by A and B, so the
  comparison is paired on prompts. With equal counts per prompt this is exactly sd(per-prompt difference,
  ddof=1) / sqrt(n_prompts). The factor G / (G - 1) is the only small-sample correction: statsmodels'
  default (use_correction=True) also multiplies by (N - 1) / (N - 2), N = verdicts of both conditions, so
  our variance = statsmodels' * (N - 2) / (N - 1). t critical value with df = n_prompts - 1.
- Seed-aware: two-way clustering by prompt and training seed (Cameron, Gelbach & Miller 2011):
  V = V_prompt + V_seed - V_prompt∩seed. A and B runs with the same seed label share a seed cluster when
  pair_seeds is True (seeds matched across conditions); otherwise every run is its own seed cluster.
  t critical value with df = min(n_prompts, n_seed_clusters) - 1, as statsmodels. A two-way variance
  below the larger one-way variance (possible in small samples, since a term is subtracted) is raised to
  it, and `seed_aware_floored` says so: counting seed noise should never narrow the interval.
- p-value: sign-flip permutation test on per-prompt rate differences (A's rate on the prompt minus B's),
  which is the randomization counterpart of the prompt-clustered interval. It tests the prompt-level
  difference given these runs and ignores seed noise. Prompts without scored verdicts in A or in B are
  left out of the test; the statistic equals `estimate` when every prompt has equal counts per condition.
"""

import math
from dataclasses import dataclass

import numpy as np

from backend.stats._checks import check_open_unit
from backend.stats.cells import Cells
from backend.stats.intervals import Interval, t_interval
from backend.stats.permutation import SignFlipTest, sign_flip_test


@dataclass(frozen=True)
class Comparison:
    """Difference in harmfulness rate A - B with a prompt-clustered and a seed-aware interval."""

    estimate: float
    rate_a: float
    rate_b: float
    se_prompt: float
    df_prompt: int
    prompt_interval: Interval
    se_seed_aware: float  # NaN with fewer than 2 seed clusters
    df_seed_aware: int
    seed_aware_interval: Interval
    seed_aware_floored: bool
    test: SignFlipTest
    n_prompts: int
    n_seed_clusters: int


def _cluster_codes(clusters: np.ndarray) -> np.ndarray:
    """0..G-1 for the G distinct rows of a label array, one column at a time (1-D unique: much faster
    than np.unique(axis=0), which sorts rows as opaque records)."""
    codes = np.zeros(clusters.shape[0], dtype=np.int64)
    for column in clusters.reshape(clusters.shape[0], -1).T:
        column_codes = np.unique(column, return_inverse=True)[1].reshape(-1)
        codes = np.unique(codes * (column_codes.max() + 1) + column_codes, return_inverse=True)[1].reshape(-1)
    return codes


def _cluster_variance(contributions: np.ndarray, clusters: np.ndarray) -> tuple[float, int]:
    """G / (G - 1) * sum of squared cluster totals (CR1 without the N factor), and G; NaN when G < 2."""
    codes = _cluster_codes(clusters)
    totals = np.bincount(codes, weights=contributions)
    g = totals.size
    return (g / (g - 1) * float(totals @ totals) if g > 1 else math.nan), g


def _per_prompt_differences(a: Cells, b: Cells, prompts: np.ndarray) -> np.ndarray:
    """A's rate minus B's rate on each prompt that has scored verdicts in both conditions."""

    def per_prompt(cells: Cells) -> tuple[np.ndarray, np.ndarray]:
        index = np.searchsorted(prompts, cells.prompt)
        return (
            np.bincount(index, weights=cells.harmful, minlength=prompts.size),
            np.bincount(index, weights=cells.scored, minlength=prompts.size),
        )

    (harmful_a, scored_a), (harmful_b, scored_b) = per_prompt(a), per_prompt(b)
    both = (scored_a > 0) & (scored_b > 0)
    return harmful_a[both] / scored_a[both] - harmful_b[both] / scored_b[both]


def compare_conditions(
    a: Cells,
    b: Cells,
    *,
    confidence: float = 0.95,
    pair_seeds: bool = True,
    n_permutations: int = 10_000,
    permutation_seed: int = 0,
) -> Comparison:
    """Compare condition A with condition B (e.g. fine-tuned vs baseline) on the same prompts.

    Set pair_seeds=False when equal seed labels do not mean a shared seed (e.g. an untuned baseline).
    """
    check_open_unit(confidence, "confidence")
    prompts = np.unique(a.prompt)
    prompts_b = np.unique(b.prompt)
    if not np.array_equal(prompts, prompts_b):
        only_a, only_b = np.setdiff1d(prompts, prompts_b), np.setdiff1d(prompts_b, prompts)
        raise ValueError(
            "conditions must be evaluated on the same prompts: "
            f"{only_a.size} prompt(s) only in A (e.g. {only_a[:5].tolist()}), "
            f"{only_b.size} only in B (e.g. {only_b[:5].tolist()})"
        )
    n_a, n_b = int(a.scored.sum()), int(b.scored.sum())
    if n_a == 0 or n_b == 0:
        raise ValueError("each condition needs at least one scored verdict")
    differences = _per_prompt_differences(a, b, prompts)
    if differences.size == 0:
        raise ValueError("no prompt has scored verdicts in both conditions")
    rate_a, rate_b = a.harmful.sum() / n_a, b.harmful.sum() / n_b
    estimate = float(rate_a - rate_b)

    contributions = np.concatenate(
        [(a.harmful - a.scored * rate_a) / n_a, -(b.harmful - b.scored * rate_b) / n_b]
    )
    prompt = np.concatenate([a.prompt, b.prompt])
    condition = np.repeat([0, 1], [a.seed.size, b.seed.size])
    seed = np.concatenate([a.seed, b.seed])
    seed_cluster = seed[:, None] if pair_seeds else np.column_stack([condition, seed])

    v_prompt, g_prompt = _cluster_variance(contributions, prompt)
    v_seed, g_seed = _cluster_variance(contributions, seed_cluster)
    v_both, _ = _cluster_variance(contributions, np.column_stack([prompt, seed_cluster]))
    v_two_way = v_prompt + v_seed - v_both
    floor = max(v_prompt, v_seed)
    floored = bool(v_two_way < floor)  # False when NaN (fewer than 2 seed clusters)
    v_seed_aware = floor if floored else v_two_way

    se_prompt, se_seed_aware = math.sqrt(v_prompt), math.sqrt(v_seed_aware)  # NaN stays NaN
    df_seed_aware = min(g_prompt, g_seed) - 1
    return Comparison(
        estimate=estimate,
        rate_a=float(rate_a),
        rate_b=float(rate_b),
        se_prompt=se_prompt,
        df_prompt=g_prompt - 1,
        prompt_interval=t_interval(estimate, se_prompt, g_prompt - 1, confidence),
        se_seed_aware=se_seed_aware,
        df_seed_aware=df_seed_aware,
        seed_aware_interval=t_interval(estimate, se_seed_aware, df_seed_aware, confidence),
        seed_aware_floored=floored,
        test=sign_flip_test(differences, n_permutations=n_permutations, seed=permutation_seed),
        n_prompts=g_prompt,
        n_seed_clusters=g_seed,
    )
