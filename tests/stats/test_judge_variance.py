from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

from backend.stats.cells import Cells
from backend.stats.judge_variance import (
    JudgeComponents,
    JudgeTable,
    _moment_estimates,
    judge_mean_squares,
    judge_table,
    judge_variance_components,
)
from backend.stats.variance import variance_components

NAMES = [f.name for f in fields(JudgeComponents)]
# The judges disagreeing: written out here rather than imported, so the module's list is checked too.
JUDGE_TERMS = ("judge", "judge_x_seed", "judge_x_prompt", "residual")


def cells_per_judge(harmful: np.ndarray, scored: np.ndarray | int) -> list[Cells]:
    """One Cells per judge from (judges, seeds, prompts) tables of harmful and scored counts."""
    scored = np.broadcast_to(scored, harmful.shape)
    seeds, prompts = np.indices(harmful.shape[1:])
    return [
        Cells(seeds.ravel(), prompts.ravel(), h.ravel(), n.ravel())
        for h, n in zip(harmful, scored, strict=True)
    ]


def table(rates: np.ndarray) -> JudgeTable:
    return JudgeTable(rates, np.arange(rates.shape[1]), np.arange(rates.shape[2]))


# True components of the simulated model, as standard deviations: every one positive and large enough
# that truncation at 0 is rare in 3 judges x 4 seeds x 30 prompts.
TRUE_SD = {
    "seed": 0.15,
    "prompt": 0.2,
    "seed_x_prompt": 0.1,
    "judge": 0.12,
    "judge_x_seed": 0.06,
    "judge_x_prompt": 0.08,
    "residual": 0.1,
}


def simulate(rng: np.random.Generator, shape: tuple[int, int, int], sd: dict[str, float]) -> np.ndarray:
    """Cell rates from the three-way random-effects model: one normal effect per level of every source."""
    axes = {"judge": 0, "seed": 1, "prompt": 2}
    rates = np.full(shape, 0.5)
    for source, scale in sd.items():
        factors = axes if source == "residual" else source.split("_x_")
        effect_shape = tuple(
            n if any(axes[f] == axis for f in factors) else 1 for axis, n in enumerate(shape)
        )
        rates = rates + rng.normal(0, scale, effect_shape)
    return rates


def test_mean_squares_and_components_match_statsmodels_anova() -> None:
    rng = np.random.default_rng(11)
    rates = simulate(rng, (3, 4, 6), TRUE_SD)
    judge, seed, prompt = np.indices(rates.shape)
    frame = pd.DataFrame(
        {"judge": judge.ravel(), "seed": seed.ravel(), "prompt": prompt.ravel(), "y": rates.ravel()}
    )
    # Every two-way interaction in the model: the residual is the judge x seed x prompt interaction.
    reference = anova_lm(smf.ols("y ~ (C(judge) + C(seed) + C(prompt)) ** 2", data=frame).fit())
    ms = judge_mean_squares(table(rates))
    rows = {
        "judge": "C(judge)",
        "seed": "C(seed)",
        "prompt": "C(prompt)",
        "judge_x_seed": "C(judge):C(seed)",
        "judge_x_prompt": "C(judge):C(prompt)",
        "seed_x_prompt": "C(seed):C(prompt)",
        "residual": "Residual",
    }
    for name, row in rows.items():
        assert getattr(ms, name) == pytest.approx(reference.loc[row, "mean_sq"], rel=1e-9), name
        assert ms.df(name) == reference.loc[row, "df"], name
    # The expected-mean-square solution, written out for J, S, P = 3, 4, 6.
    m = {name: reference.loc[row, "mean_sq"] for name, row in rows.items()}
    expected = {
        "seed": (m["seed"] - m["judge_x_seed"] - m["seed_x_prompt"] + m["residual"]) / (3 * 6),
        "prompt": (m["prompt"] - m["judge_x_prompt"] - m["seed_x_prompt"] + m["residual"]) / (3 * 4),
        "seed_x_prompt": (m["seed_x_prompt"] - m["residual"]) / 3,
        "judge": (m["judge"] - m["judge_x_seed"] - m["judge_x_prompt"] + m["residual"]) / (4 * 6),
        "judge_x_seed": (m["judge_x_seed"] - m["residual"]) / 6,
        "judge_x_prompt": (m["judge_x_prompt"] - m["residual"]) / 4,
        "residual": m["residual"],
    }
    assert min(expected.values()) > 0  # no truncation: every difference of mean squares is checked
    result = judge_variance_components(table(rates))
    assert [getattr(result.components, name) for name in NAMES] == pytest.approx(
        [expected[name] for name in NAMES], rel=1e-9
    )
    total = sum(expected.values())
    assert result.shares.prompt == pytest.approx(expected["prompt"] / total)
    assert result.judge_share.estimate == pytest.approx(sum(expected[name] for name in JUDGE_TERMS) / total)
    assert (result.n_judges, result.n_seeds, result.n_prompts) == (3, 4, 6)


def test_identical_judges_have_no_judge_variance() -> None:
    rng = np.random.default_rng(5)
    verdicts = rng.binomial(1, rng.uniform(0.1, 0.9, (1, 12)), (4, 12))  # one verdict per cell
    result = judge_variance_components(judge_table(cells_per_judge(np.stack([verdicts] * 3), 1)))
    for name in JUDGE_TERMS:
        assert getattr(result.components, name) == pytest.approx(0, abs=1e-12), name
        assert getattr(result.components_high, name) == pytest.approx(0, abs=1e-12), name
    assert result.judge_share.estimate == pytest.approx(0, abs=1e-12)
    assert result.judge_share.high == pytest.approx(0, abs=1e-9)
    # What is left is the one-judge analysis (with one verdict per cell, sampling sits in seed x prompt).
    single = variance_components(cells_per_judge(verdicts[None], 1)[0]).components
    assert (result.components.seed, result.components.prompt, result.components.seed_x_prompt) == (
        pytest.approx((single.seed, single.prompt, single.seed_x_prompt), rel=1e-9)
    )
    assert result.components.seed_x_prompt > 0


def test_a_judge_offset_by_a_constant_is_the_judge_main_effect() -> None:
    rng = np.random.default_rng(9)
    lenient = rng.binomial(9, rng.uniform(0.2, 0.7, (1, 15)), (3, 15))  # at most 9 of 10
    harmful = np.stack([lenient, lenient + 1])  # the strict judge calls one more response in 10 harmful
    result = judge_variance_components(judge_table(cells_per_judge(harmful, 10)))
    c = result.components
    # Judge means differ by 0.1: MS_judge = S P (0.1)^2 / 2 over 1 df, the interactions are 0,
    # so the judge component is 0.1^2 / 2.
    assert c.judge == pytest.approx(0.1**2 / 2)
    for name in ("judge_x_seed", "judge_x_prompt", "residual"):
        assert getattr(c, name) == pytest.approx(0, abs=1e-12), name
    assert result.judge_share.estimate == pytest.approx(c.judge / c.total)
    single = variance_components(cells_per_judge(lenient[None], 10)[0]).components
    assert c.prompt == pytest.approx(single.prompt)


def test_moment_estimates_are_unbiased() -> None:
    rng = np.random.default_rng(21)
    sims = 1000
    estimates = np.array(
        [
            list(
                _moment_estimates(
                    {name: getattr(ms, name) for name in NAMES}, (ms.n_judges, ms.n_seeds, ms.n_prompts)
                ).values()
            )
            for ms in (judge_mean_squares(table(simulate(rng, (3, 4, 30), TRUE_SD))) for _ in range(sims))
        ]
    )
    truth = np.array([TRUE_SD[name] ** 2 for name in NAMES])
    monte_carlo_se = estimates.std(axis=0, ddof=1) / np.sqrt(sims)
    assert (np.abs(estimates.mean(axis=0) - truth) < 4 * monte_carlo_se).all(), (
        estimates.mean(axis=0),
        truth,
        monte_carlo_se,
    )
    # The test has teeth: doubling one true component would be far outside Monte-Carlo error.
    assert (np.abs(estimates.mean(axis=0) - 2 * truth) > 4 * monte_carlo_se).all()


def test_intervals_cover_the_true_components() -> None:
    # Two judges, three seeds, 40 prompts: the typical experiment that asks this question.
    rng = np.random.default_rng(3)
    sd = {
        "seed": 0.14,
        "prompt": 0.22,
        "seed_x_prompt": 0.14,
        "judge": 0.1,
        "judge_x_seed": 0.07,
        "judge_x_prompt": 0.1,
        "residual": 0.14,
    }
    truth = {name: sd[name] ** 2 for name in NAMES}
    true_judge_share = sum(truth[name] for name in JUDGE_TERMS) / sum(truth.values())
    sims = 300
    covered = dict.fromkeys([*NAMES, "judge_share"], 0)
    for sim in range(sims):
        result = judge_variance_components(table(simulate(rng, (2, 3, 40), sd)), seed=sim)
        for name in NAMES:
            low, high = getattr(result.components_low, name), getattr(result.components_high, name)
            covered[name] += low <= truth[name] <= high
        covered["judge_share"] += result.judge_share.low <= true_judge_share <= result.judge_share.high
    coverage = {name: count / sims for name, count in covered.items()}
    # 0.90 is four binomial SEs (0.0126 at 300 tables) below the nominal 0.95.
    assert all(value >= 0.90 for value in coverage.values()), coverage


def test_intervals_hold_their_estimates_and_are_reproducible() -> None:
    rng = np.random.default_rng(8)
    rates = simulate(rng, (2, 3, 40), TRUE_SD)
    result = judge_variance_components(table(rates))
    for name in NAMES:
        assert getattr(result.components_low, name) <= getattr(result.components, name)
        assert getattr(result.components, name) <= getattr(result.components_high, name)
        assert 0 <= getattr(result.shares_low, name) <= getattr(result.shares_high, name) <= 1
    assert 0 <= result.judge_share.low <= result.judge_share.estimate <= result.judge_share.high <= 1
    assert judge_variance_components(table(rates)) == result  # seeded draws
    assert judge_variance_components(table(rates), seed=1) != result
    # Two judges give the judge mean square 1 df: its interval is far wider, relative to its estimate,
    # than that of the prompt component, known from 39 df.
    c, low, high = result.components, result.components_low, result.components_high
    assert (high.judge - low.judge) / c.judge > 5 * (high.prompt - low.prompt) / c.prompt


def test_judge_table_keeps_complete_seeds_and_prompts() -> None:
    # Judge A: seeds 1, 2, 3 and prompts 10, 11, 12, 13; judge B: seeds 1, 2 and prompts 10, 11, 12, 14,
    # with prompt 12 unscored under seed 2. Kept: seeds 1, 2 and prompts 10, 11 (12, 13, 14 dropped).
    a = Cells(np.repeat([1, 2, 3], 4), np.tile([10, 11, 12, 13], 3), np.arange(12) % 3, np.full(12, 4))
    b = Cells(
        np.repeat([1, 2], 4), np.tile([10, 11, 12, 14], 2), [1, 2, 0, 0, 3, 4, 0, 1], [4, 4, 4, 4, 4, 4, 0, 4]
    )
    result = judge_table([a, b])
    assert result.seeds.tolist() == [1, 2] and result.prompts.tolist() == [10, 11]
    assert result.n_prompts_dropped == 3
    np.testing.assert_array_equal(result.rates, [[[0, 1], [1, 2]], [[1, 2], [3, 4]]] / np.float64(4))
    # The same cells in another order give the same table.
    shuffled = np.random.default_rng(0).permutation(12)
    a_shuffled = Cells(a.seed[shuffled], a.prompt[shuffled], a.harmful[shuffled], a.scored[shuffled])
    np.testing.assert_array_equal(judge_table([a_shuffled, b]).rates, result.rates)


def test_judge_table_rejects_too_few_judges_seeds_or_prompts() -> None:
    two_by_two = cells_per_judge(np.ones((2, 2, 2), dtype=int), 2)
    with pytest.raises(ValueError, match=">= 2 judges, got 1"):
        judge_table(two_by_two[:1])
    one_shared_seed = Cells([0, 0, 5, 5], [0, 1, 0, 1], [1, 1, 1, 1], [2, 2, 2, 2])
    with pytest.raises(ValueError, match="got 1 seeds and 2 prompts"):
        judge_table([two_by_two[0], one_shared_seed])
    one_complete_prompt = Cells([0, 0, 1, 1], [0, 1, 0, 1], [1, 0, 1, 0], [2, 0, 2, 2])
    with pytest.raises(ValueError, match=r"got 2 seeds and 1 prompts \(1 prompts lack"):
        judge_table([two_by_two[0], one_complete_prompt])
    with pytest.raises(ValueError, match="got shape"):
        JudgeTable(np.zeros((2, 2, 1)), [0, 1], [0])


def test_rejects_bad_interval_arguments() -> None:
    rates = table(simulate(np.random.default_rng(1), (2, 2, 3), TRUE_SD))
    with pytest.raises(ValueError, match="confidence"):
        judge_variance_components(rates, confidence=1.5)
    with pytest.raises(ValueError, match="n_draws"):
        judge_variance_components(rates, n_draws=10)
