import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from backend.stats.cells import Cells
from backend.stats.compare import compare_conditions
from backend.stats.permutation import sign_flip_test


def random_cells(rng: np.random.Generator, seeds: list[int], prompts: int, shift: float) -> Cells:
    """Seed-dependent rates (so seed clustering matters) with 1-4 scored verdicts per cell."""
    seed, prompt = (a.ravel() for a in np.meshgrid(seeds, np.arange(prompts), indexing="ij"))
    p = np.clip(
        0.3 + shift + rng.normal(0, 0.15, len(seeds))[:, None] + rng.normal(0, 0.1, (1, prompts)), 0, 1
    )
    scored = rng.integers(1, 5, seed.size)
    return Cells(seed, prompt, rng.binomial(scored, p.ravel()), scored)


def stacked(expand: Callable[[Cells], pd.DataFrame], a: Cells, b: Cells, pair_seeds: bool) -> pd.DataFrame:
    """Raw verdicts of both conditions; condition = 1 for A; seed clusters coded as integers."""
    data = pd.concat([expand(a).assign(condition=1), expand(b).assign(condition=0)], ignore_index=True)
    keys = data["seed"] if pair_seeds else data["seed"] * 2 + data["condition"]
    data["seed_cluster"] = np.unique(keys, return_inverse=True)[1]
    data["prompt_cluster"] = np.unique(data["prompt"], return_inverse=True)[1]
    return data


def cluster_fit(
    data: pd.DataFrame, groups: np.ndarray, use_correction: bool = True
) -> tuple[float, float, int]:
    """Slope, its cluster-robust SE and the inference df from statsmodels OLS y ~ condition."""
    fit = smf.ols("y ~ condition", data=data).fit(
        cov_type="cluster", cov_kwds={"groups": groups, "use_correction": use_correction}, use_t=True
    )
    return fit.params["condition"], fit.bse["condition"], fit.df_resid_inference


@pytest.mark.parametrize("seed", [0, 1])
def test_prompt_clustered_se_matches_statsmodels(expand: Callable[[Cells], pd.DataFrame], seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = random_cells(rng, [0, 1, 2], 12, 0.15), random_cells(rng, [0, 1, 2], 12, 0.0)
    data = stacked(expand, a, b, pair_seeds=True)
    groups = data["prompt_cluster"].to_numpy()
    slope, se_default, df = cluster_fit(data, groups)
    _, se_uncorrected, _ = cluster_fit(data, groups, use_correction=False)
    result = compare_conditions(a, b)
    n = len(data)
    assert result.estimate == pytest.approx(slope, rel=1e-12)
    # statsmodels' default factor is G/(G-1) * (N-1)/(N-2); ours is G/(G-1) alone.
    assert result.se_prompt == pytest.approx(se_default * math.sqrt((n - 2) / (n - 1)), rel=1e-10)
    assert result.se_prompt == pytest.approx(se_uncorrected * math.sqrt(12 / 11), rel=1e-10)
    assert (result.df_prompt, result.n_prompts) == (df, 12)
    half = result.prompt_interval.high - result.estimate
    assert half == pytest.approx(2.200985160082949 * result.se_prompt)  # t_{11, 0.975}
    assert result.estimate - result.prompt_interval.low == pytest.approx(half)


@pytest.mark.parametrize("pair_seeds", [True, False])
def test_two_way_se_matches_statsmodels(expand: Callable[[Cells], pd.DataFrame], pair_seeds: bool) -> None:
    rng = np.random.default_rng(5)
    a, b = random_cells(rng, [0, 1, 2, 3], 10, 0.1), random_cells(rng, [0, 1, 2, 3], 10, 0.0)
    data = stacked(expand, a, b, pair_seeds)
    groups = data[["prompt_cluster", "seed_cluster"]].to_numpy()
    _, se, df = cluster_fit(data, groups)
    result = compare_conditions(a, b, pair_seeds=pair_seeds)
    n = len(data)
    assert not result.seed_aware_floored
    assert result.n_seed_clusters == (4 if pair_seeds else 8)
    assert result.se_seed_aware == pytest.approx(se * math.sqrt((n - 2) / (n - 1)), rel=1e-10)
    assert result.df_seed_aware == df == result.n_seed_clusters - 1
    assert result.se_seed_aware > result.se_prompt


def test_balanced_design_reduces_to_paired_per_prompt_differences() -> None:
    # Miller 2024: with equal counts the clustered SE is sd(per-prompt difference) / sqrt(n_prompts).
    rng = np.random.default_rng(2)
    seed, prompt = (x.ravel() for x in np.meshgrid([0, 1], np.arange(9), indexing="ij"))
    harmful_a, harmful_b = rng.binomial(3, 0.5, 18), rng.binomial(3, 0.3, 18)
    a, b = Cells(seed, prompt, harmful_a, np.full(18, 3)), Cells(seed, prompt, harmful_b, np.full(18, 3))
    d = (harmful_a - harmful_b).reshape(2, 9).sum(axis=0) / 6
    result = compare_conditions(a, b, n_permutations=512)
    assert result.estimate == pytest.approx(d.mean())
    assert result.se_prompt == pytest.approx(d.std(ddof=1) / 3)
    reference = sign_flip_test(d, n_permutations=512)
    assert result.test.exact and result.test.n_pairs == 9
    assert result.test.p_value == pytest.approx(reference.p_value)
    assert result.test.statistic == pytest.approx(result.estimate)


def test_seed_aware_variance_is_floored_at_the_larger_one_way_variance() -> None:
    # Every seed has exactly its condition's rate, so the seed-cluster variance is 0 and
    # V_prompt + V_seed - V_prompt∩seed falls below V_prompt.
    seed = np.array([0, 0, 1, 1])
    prompt = np.array([0, 1, 0, 1])
    a = Cells(seed, prompt, [2, 0, 0, 2], [2, 2, 2, 2])
    b = Cells(seed, prompt, [1, 0, 0, 1], [2, 2, 2, 2])
    result = compare_conditions(a, b)
    assert result.seed_aware_floored
    assert result.se_seed_aware == result.se_prompt
    assert result.df_seed_aware == 1


def test_single_seed_cluster_has_no_seed_aware_interval() -> None:
    a = Cells([0, 0, 0], [0, 1, 2], [1, 2, 0], [2, 2, 2])
    b = Cells([0, 0, 0], [0, 1, 2], [0, 1, 0], [2, 2, 2])
    result = compare_conditions(a, b)
    assert result.n_seed_clusters == 1 and not result.seed_aware_floored
    assert math.isnan(result.se_seed_aware) and math.isnan(result.seed_aware_interval.low)
    assert result.se_prompt > 0 and result.prompt_interval.low < result.estimate
    assert compare_conditions(a, b, pair_seeds=False).n_seed_clusters == 2


def test_rejects_different_prompt_sets() -> None:
    a = Cells([0, 0], [0, 1], [1, 1], [2, 2])
    b = Cells([0, 0], [0, 2], [1, 1], [2, 2])
    with pytest.raises(
        ValueError, match=r"same prompts: 1 prompt\(s\) only in A \(e.g. \[1\]\), 1 only in B"
    ):
        compare_conditions(a, b)


def test_rejects_conditions_without_scored_verdicts() -> None:
    a = Cells([0, 0], [0, 1], [0, 0], [0, 0])
    b = Cells([0, 0], [0, 1], [1, 1], [2, 2])
    with pytest.raises(ValueError, match="at least one scored verdict"):
        compare_conditions(a, b)
    with pytest.raises(ValueError, match="both conditions"):
        compare_conditions(Cells([0, 0], [0, 1], [1, 0], [1, 0]), Cells([0, 0], [0, 1], [0, 1], [0, 2]))
