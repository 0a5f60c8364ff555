import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.proportion import proportion_confint

from backend.stats.cells import Cells
from backend.stats.compare import compare_conditions, mover_interval, welch_df
from backend.stats.intervals import Interval
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
    given = result.given_checkpoints
    n = len(data)
    assert result.estimate == pytest.approx(slope, rel=1e-12)
    # statsmodels' default factor is G/(G-1) * (N-1)/(N-2); ours is G/(G-1) alone.
    assert given.se == pytest.approx(se_default * math.sqrt((n - 2) / (n - 1)), rel=1e-10)
    assert given.se == pytest.approx(se_uncorrected * math.sqrt(12 / 11), rel=1e-10)
    assert (given.df, result.n_prompts) == (df, 12)


def test_mover_interval_by_hand() -> None:
    # d = 0.90 - 0.95; below: A's 0.10 to its low and B's 0.04 to its high; above: A's 0.05 and B's 0.10.
    interval = mover_interval(Interval(0.9, 0.8, 0.95), Interval(0.95, 0.85, 0.99), 0.5)
    assert interval.estimate == pytest.approx(-0.05)
    assert interval.low == pytest.approx(-0.05 - math.sqrt(0.1**2 - 2 * 0.5 * 0.1 * 0.04 + 0.04**2))
    assert interval.high == pytest.approx(-0.05 + math.sqrt(0.05**2 - 2 * 0.5 * 0.05 * 0.1 + 0.1**2))
    # Uncorrelated rates with symmetric intervals: the half-widths add in quadrature.
    independent = mover_interval(Interval(0.5, 0.4, 0.6), Interval(0.3, 0.25, 0.35), 0.0)
    assert (independent.low, independent.high) == pytest.approx(
        (0.2 - math.hypot(0.1, 0.05), 0.2 + math.hypot(0.1, 0.05))
    )


def test_one_verdict_per_prompt_gives_newcombes_paired_interval() -> None:
    # Newcombe (1998) method 10 on a 2 x 2 table of 20 prompts (A right / B right): 11 both, 1 only A,
    # 5 only B, 3 neither; Wilson intervals at the t_19 critical value (prompt df), phi from the table.
    both, only_a, only_b, neither = 11, 1, 5, 3
    a_right = [1] * both + [1] * only_a + [0] * only_b + [0] * neither
    b_right = [1] * both + [0] * only_a + [1] * only_b + [0] * neither
    a = Cells(np.zeros(20, int), np.arange(20), a_right, np.ones(20, int))
    b = Cells(np.zeros(20, int), np.arange(20), b_right, np.ones(20, int))
    alpha = 2 * stats.norm.sf(stats.t.ppf(0.975, 19))  # Wilson's z set to t_19
    (low_a, high_a), (low_b, high_b) = (
        proportion_confint(sum(right), 20, alpha=alpha, method="wilson") for right in (a_right, b_right)
    )
    p_a, p_b = 12 / 20, 16 / 20
    phi = (both * neither - only_a * only_b) / math.sqrt(12 * 8 * 16 * 4)
    given = compare_conditions(a, b, n_permutations=99).given_checkpoints.interval
    below = math.sqrt((p_a - low_a) ** 2 - 2 * phi * (p_a - low_a) * (high_b - p_b) + (high_b - p_b) ** 2)
    above = math.sqrt((high_a - p_a) ** 2 - 2 * phi * (high_a - p_a) * (p_b - low_b) + (p_b - low_b) ** 2)
    assert (given.low, given.high) == pytest.approx((p_a - p_b - below, p_a - p_b + above), rel=1e-10)


def test_mean_scores_away_from_the_bounds_keep_the_symmetric_t_interval() -> None:
    # Each rate's interval is its t interval, so MOVER's square roots are t sqrt(V_A + V_B - 2 C) exactly.
    rng = np.random.default_rng(5)
    seed, prompt = (x.ravel() for x in np.indices((3, 30)))
    values_a, values_b = rng.beta(4, 4, 90), rng.beta(3, 5, 90)
    a = Cells(seed, prompt, values_a, np.ones(90, int), sum_squares=values_a**2)
    b = Cells(seed, prompt, values_b, np.ones(90, int), sum_squares=values_b**2)
    result = compare_conditions(a, b, n_permutations=99)
    given = result.given_checkpoints
    half = stats.t.ppf(0.975, 29) * given.se
    assert (given.interval.low, given.interval.high) == pytest.approx(
        (result.estimate - half, result.estimate + half), rel=1e-10
    )


def test_many_verdicts_away_from_the_bounds_approach_the_symmetric_t_interval() -> None:
    rng = np.random.default_rng(6)
    a, b = random_cells(rng, [0, 1, 2], 3000, 0.15), random_cells(rng, [0, 1, 2], 3000, 0.0)
    result = compare_conditions(a, b, n_permutations=99)
    given = result.given_checkpoints
    half = stats.t.ppf(0.975, 2999) * given.se
    assert given.interval.high - result.estimate == pytest.approx(half, rel=0.01)
    assert result.estimate - given.interval.low == pytest.approx(half, rel=0.01)


def test_a_rate_at_the_ceiling_still_counts_its_uncertainty() -> None:
    # B answers all 40 prompts right: its variance is 0 and the sandwich is A's alone, but 40 answers
    # leave B's true rate anywhere down to Wilson's lower limit; the interval reaches that far above.
    a_right = np.ones(40, int)
    a_right[:4] = 0
    a = Cells(np.zeros(40, int), np.arange(40), a_right, np.ones(40, int))
    b = Cells(np.zeros(40, int), np.arange(40), np.ones(40, int), np.ones(40, int))
    result = compare_conditions(a, b, n_permutations=99)
    given = result.given_checkpoints
    t = stats.t.ppf(0.975, 39)
    alpha = 2 * stats.norm.sf(t)
    low_a, high_a = proportion_confint(36, 40, alpha=alpha, method="wilson")
    low_b, _ = proportion_confint(40, 40, alpha=alpha, method="wilson")
    assert given.interval.low == pytest.approx(-0.1 - (0.9 - low_a))
    assert given.interval.high == pytest.approx(-0.1 + math.hypot(high_a - 0.9, 1 - low_b))
    assert given.interval.high > result.estimate + t * given.se


def anova_mean_squares(table: np.ndarray) -> tuple[float, float]:
    """Seed and residual mean squares of a seeds x prompts table from statsmodels' two-way ANOVA."""
    seeds, prompts = np.indices(table.shape)
    frame = pd.DataFrame({"seed": seeds.ravel(), "prompt": prompts.ravel(), "y": table.ravel()})
    mean_sq = anova_lm(smf.ols("y ~ C(seed) + C(prompt)", data=frame).fit())["mean_sq"]
    return float(mean_sq.iloc[0]), float(mean_sq.iloc[2])


def test_new_seeds_adds_the_fine_tuned_arm_seed_term_to_the_prompt_variance() -> None:
    rng = np.random.default_rng(3)
    a, b = random_cells(rng, [0, 1, 2, 3], 10, 0.2), random_cells(rng, [0], 10, 0.0)
    table = (a.harmful / a.scored).reshape(4, 10)
    ms_seed, ms_residual = anova_mean_squares(table)
    weights = np.bincount(a.seed, weights=a.scored) / a.scored.sum()
    expected = max(0.0, (ms_seed - ms_residual) / 10 * float(weights @ weights))
    result = compare_conditions(a, b, trained=(True, False))
    new = result.new_seeds
    assert new is not None and not new.paired_seeds
    assert new.seed_variance == pytest.approx(expected, rel=1e-10) and expected > 0
    assert new.se == pytest.approx(math.sqrt(result.given_checkpoints.se**2 + expected))
    # Training noise makes the interval wider than the checkpoints' one, centred on the same estimate.
    assert new.interval.high - new.interval.low > (
        result.given_checkpoints.interval.high - result.given_checkpoints.interval.low
    )
    assert new.interval.high - result.estimate == pytest.approx(result.estimate - new.interval.low)
    (noise,) = result.training_noise
    assert (noise.df_seed, noise.df_interaction) == (3, 27)


def test_fine_tuned_conditions_with_the_same_seeds_are_paired() -> None:
    rng = np.random.default_rng(4)
    a, b = random_cells(rng, [0, 1, 2], 8, 0.2), random_cells(rng, [0, 1, 2], 8, 0.0)
    difference = ((a.harmful / a.scored) - (b.harmful / b.scored)).reshape(3, 8)
    ms_seed, ms_residual = anova_mean_squares(difference)
    result = compare_conditions(a, b)
    assert result.new_seeds is not None and result.new_seeds.paired_seeds
    (noise,) = result.training_noise
    assert noise.seed_component == pytest.approx((ms_seed - ms_residual) / 8, rel=1e-10)
    # Different seeds: one seed term per arm, each with its own seed df.
    unpaired = compare_conditions(a, random_cells(rng, [5, 6, 7], 8, 0.0))
    assert unpaired.new_seeds is not None and not unpaired.new_seeds.paired_seeds
    assert [n.df_seed for n in unpaired.training_noise] == [2, 2]


def test_p_value_and_interval_agree() -> None:
    rng = np.random.default_rng(9)
    for shift in (0.0, 0.1, 0.3):
        a, b = random_cells(rng, [0, 1, 2], 20, shift), random_cells(rng, [0], 20, 0.0)
        new = compare_conditions(a, b, trained=(True, False)).new_seeds
        assert new is not None
        excludes_zero = not new.interval.low <= 0 <= new.interval.high
        assert excludes_zero == (new.p_value < 0.05)


def test_untuned_or_single_seed_arms_have_no_answer_for_new_seeds() -> None:
    a = Cells([0, 0, 0], [0, 1, 2], [1, 2, 0], [2, 2, 2])
    b = Cells([0, 0, 0], [0, 1, 2], [0, 1, 0], [2, 2, 2])
    result = compare_conditions(a, b)
    assert result.new_seeds is None and result.training_noise == []
    assert result.new_seeds_withheld is not None and "one training seed" in result.new_seeds_withheld
    assert result.given_checkpoints.se > 0 and result.given_checkpoints.interval.low < result.estimate
    untuned = compare_conditions(a, b, trained=(False, False))
    assert untuned.new_seeds is None and "neither condition is fine-tuned" in str(untuned.new_seeds_withheld)


def test_balanced_design_reduces_to_paired_per_prompt_differences() -> None:
    # Miller 2024: with equal counts the clustered SE is sd(per-prompt difference) / sqrt(n_prompts).
    rng = np.random.default_rng(2)
    seed, prompt = (x.ravel() for x in np.meshgrid([0, 1], np.arange(9), indexing="ij"))
    harmful_a, harmful_b = rng.binomial(3, 0.5, 18), rng.binomial(3, 0.3, 18)
    a, b = Cells(seed, prompt, harmful_a, np.full(18, 3)), Cells(seed, prompt, harmful_b, np.full(18, 3))
    d = (harmful_a - harmful_b).reshape(2, 9).sum(axis=0) / 6
    result = compare_conditions(a, b, n_permutations=512)
    assert result.estimate == pytest.approx(d.mean())
    assert result.given_checkpoints.se == pytest.approx(d.std(ddof=1) / 3)
    reference = sign_flip_test(d, n_permutations=512)
    test = result.given_checkpoints.test
    assert test.exact and test.n_pairs == 9
    assert test.p_value == pytest.approx(reference.p_value)
    assert test.statistic == pytest.approx(result.estimate)


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


def test_welch_df_of_the_seed_terms() -> None:
    assert welch_df([0.3], [2]) == pytest.approx(2)  # one term keeps its df
    assert welch_df([0.3, 0.3], [2, 2]) == pytest.approx(4)  # equal terms: the summed df
    assert welch_df([0.3, 0.0], [2, 4]) == pytest.approx(2)  # one term carries it all
    assert welch_df([0.0, 0.0], [2, 4]) == pytest.approx(6)


def test_unpaired_fine_tuned_arms_pool_their_seed_terms() -> None:
    # Two fine-tuned arms with different seeds and much training noise: a seed term per arm, and an
    # interval as wide as a t with about their summed seed df (4), not as one with 2.
    rng = np.random.default_rng(3)
    a = random_cells(rng, [0, 1, 2], 200, 0.1)
    b = random_cells(rng, [10, 11, 12], 200, 0.0)
    c = compare_conditions(a, b, trained=(True, True), n_permutations=99)
    assert c.new_seeds is not None and not c.new_seeds.paired_seeds and len(c.training_noise) == 2
    parts = [n.seed_weight * n.seed_mean_square for n in c.training_noise]
    assert 2 <= c.new_seeds.df <= welch_df(parts, [2, 2]) + 0.5
    assert c.trained == (True, True)
