import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

import backend.stats.variance
from backend.stats.cells import Cells
from backend.stats.variance import (
    BOOTSTRAP_PROMPTS,
    _leave_one_prompt_out,
    table_mean_squares,
    variance_components,
)


def grid_cells(harmful: np.ndarray, scored: np.ndarray | int) -> Cells:
    """Cells from a (seeds, prompts) table of harmful counts and scored counts."""
    seeds, prompts = np.indices(harmful.shape)
    return Cells(
        seeds.ravel(), prompts.ravel(), harmful.ravel(), np.broadcast_to(scored, harmful.shape).ravel()
    )


def test_hand_computed_balanced_example() -> None:
    # 2 seeds x 2 prompts x 2 verdicts; cell rates [[1, .5], [.5, 0]], grand mean .5.
    # MS_seed = MS_prompt = 2 * 2 * 2 * .25^2 = .5; no interaction: MS_sxp = 0;
    # MS_within = SS (0 + .5 + .5 + 0) / df 4 = .25. seed = (.5 - 0) / (2 * 2) = .125,
    # seed_x_prompt = (0 - .25) / 2 < 0 -> truncated to 0.
    result = variance_components(grid_cells(np.array([[2, 1], [1, 0]]), 2))
    c = result.components
    assert (c.seed, c.prompt, c.seed_x_prompt, c.sampling) == pytest.approx((0.125, 0.125, 0.0, 0.25))
    assert (result.shares.seed, result.shares.sampling, result.icc_seed) == pytest.approx((0.25, 0.5, 0.25))
    assert result.mean_squares.balanced and not result.interaction_confounded
    ms = result.mean_squares
    assert (ms.n_seeds, ms.n_prompts, ms.cell_size) == (2, 2, 2.0)


def test_hand_computed_interaction_example() -> None:
    # Cell rates [[1, 1/3], [1/3, 1/3]] with 3 verdicts each: interaction residuals ±1/6, so
    # MS_sxp = 3 * 4 / 36 = 1/3 = MS_seed = MS_prompt; MS_within = (0 + 3 * 2/3) / 8 = .25;
    # seed_x_prompt = (1/3 - 1/4) / 3 = 1/36, seed = prompt = 0.
    c = variance_components(grid_cells(np.array([[3, 1], [1, 1]]), 3)).components
    assert (c.seed, c.prompt, c.seed_x_prompt, c.sampling) == pytest.approx((0.0, 0.0, 1 / 36, 0.25))


def ems_estimates(mean_sq: pd.Series, seeds: int, prompts: int, n: int) -> tuple[float, ...]:
    """Balanced two-way random-effects expected-mean-square solution, truncated at 0."""
    seed, prompt, interaction, residual = mean_sq
    return (
        max(0.0, (seed - interaction) / (prompts * n)),
        max(0.0, (prompt - interaction) / (seeds * n)),
        max(0.0, (interaction - residual) / n),
        residual,
    )


def test_balanced_matches_statsmodels_anova(expand: Callable[[Cells], pd.DataFrame]) -> None:
    rng = np.random.default_rng(3)
    effects = rng.normal(0, 0.2, (5, 1)) + rng.normal(0, 0.2, (1, 8)) + rng.normal(0, 0.15, (5, 8))
    cells = grid_cells(rng.binomial(4, np.clip(0.5 + effects, 0.05, 0.95)), 4)
    table = anova_lm(smf.ols("y ~ C(seed) * C(prompt)", data=expand(cells)).fit())
    expected = ems_estimates(table["mean_sq"], seeds=5, prompts=8, n=4)
    c = variance_components(cells).components
    assert min(expected) > 0  # no truncation: every expected-mean-square difference is checked
    assert (c.seed, c.prompt, c.seed_x_prompt, c.sampling) == pytest.approx(expected, rel=1e-9)


def test_one_verdict_per_cell_confounds_interaction_and_sampling(
    expand: Callable[[Cells], pd.DataFrame],
) -> None:
    rng = np.random.default_rng(2)
    cells = grid_cells(rng.binomial(1, 0.4, (5, 8)), 1)
    # Without replication the additive model's residual mean square is the interaction mean square.
    ms_seed, _, ms_residual = anova_lm(smf.ols("y ~ C(seed) + C(prompt)", data=expand(cells)).fit())[
        "mean_sq"
    ]
    result = variance_components(cells)
    assert result.interaction_confounded
    assert math.isnan(result.components.sampling) and math.isnan(result.shares.sampling)
    assert result.components.seed_x_prompt == pytest.approx(ms_residual)
    assert result.components.seed == pytest.approx(max(0.0, (ms_seed - ms_residual) / 8))
    assert result.components.total == pytest.approx(
        result.components.seed + result.components.prompt + result.components.seed_x_prompt
    )


def test_unbalanced_cells_use_unweighted_means(expand: Callable[[Cells], pd.DataFrame]) -> None:
    rng = np.random.default_rng(1)
    scored = rng.integers(1, 6, (5, 8))
    effects = rng.normal(0, 0.2, (5, 1)) + rng.normal(0, 0.2, (1, 8)) + rng.normal(0, 0.15, (5, 8))
    cells = grid_cells(rng.binomial(scored, np.clip(0.5 + effects, 0.05, 0.95)), scored)
    # Reference: the additive ANOVA of the cell-rate table, plus the pooled within-cell mean square.
    seeds, prompts = np.indices(scored.shape)
    rates = pd.DataFrame(
        {"seed": seeds.ravel(), "prompt": prompts.ravel(), "y": cells.harmful / cells.scored}
    )
    ms_seed, ms_prompt, ms_interaction = anova_lm(smf.ols("y ~ C(seed) + C(prompt)", data=rates).fit())[
        "mean_sq"
    ]
    raw = expand(cells)
    raw["cell"] = raw["seed"] * 100 + raw["prompt"]
    ms_within = smf.ols("y ~ C(cell)", data=raw).fit().mse_resid
    harmonic = scored.size / (1 / scored).sum()
    result = variance_components(cells)
    c = result.components
    assert not result.mean_squares.balanced and result.mean_squares.cell_size == pytest.approx(harmonic)
    expected = (
        (ms_seed - ms_interaction) / 8,
        (ms_prompt - ms_interaction) / 5,
        ms_interaction - ms_within / harmonic,
        ms_within,
    )
    assert min(expected) > 0  # no truncation
    assert (c.seed, c.prompt, c.seed_x_prompt, c.sampling) == pytest.approx(expected, rel=1e-9)


def test_prompts_missing_under_some_seed_are_dropped() -> None:
    harmful = np.array([[2, 1, 1], [1, 0, 0]])
    scored = np.array([[2, 2, 2], [2, 2, 0]])  # prompt 2 has no scored verdict under seed 1
    full = grid_cells(harmful, scored)
    keep = full.scored > 0
    partial = Cells(full.seed[keep], full.prompt[keep], full.harmful[keep], full.scored[keep])
    for cells in (full, partial):
        result = variance_components(cells)
        assert (result.mean_squares.n_prompts, result.mean_squares.n_prompts_dropped) == (2, 1)
        assert result.components.seed == pytest.approx(0.125)


@pytest.mark.parametrize("unbalanced", [False, True])
def test_recovers_known_components_on_average(uniform_model: type, unbalanced: bool) -> None:
    # Components large enough that truncation at 0 rarely bites (its upward bias stays under 3%).
    model = uniform_model(mean=0.5, seed=0.15, prompt=0.15, interaction=0.15)
    rng = np.random.default_rng(4)
    sims, seeds, prompts = 300, 8, 40
    samples = rng.integers(4, 13, (seeds, prompts)) if unbalanced else 8
    harmful = model.harmful(rng, model.prompt_effects(rng, sims, prompts), seeds, samples)
    estimates = np.array(
        [
            [
                getattr(variance_components(grid_cells(h, samples)).components, name)
                for name in ("seed", "prompt", "seed_x_prompt", "sampling")
            ]
            for h in harmful
        ]
    )
    np.testing.assert_allclose(estimates.mean(axis=0), model.variances, rtol=0.12)


@pytest.mark.parametrize(
    ("harmful", "scored"),
    [
        (np.array([[1, 0, 1]]), 2),
        (np.array([[1], [0]]), 2),
        (np.array([[1, 1], [0, 0]]), np.array([[2, 2], [0, 0]])),
    ],
)
def test_rejects_designs_without_two_seeds_and_prompts(harmful: np.ndarray, scored: np.ndarray | int) -> None:
    with pytest.raises(ValueError, match=">= 2 seeds and >= 2 prompts"):
        variance_components(grid_cells(harmful, scored))


def test_leave_one_prompt_out_mean_squares_equal_a_fresh_anova() -> None:
    rng = np.random.default_rng(6)
    scored = rng.integers(1, 5, (3, 9)).astype(float)
    harmful = rng.binomial(scored.astype(int), 0.4).astype(float)
    prompt, interaction, sampling = _leave_one_prompt_out(harmful, scored)
    for left in range(9):
        keep = np.arange(9) != left
        h, n = harmful[:, keep], scored[:, keep]
        _, expected_prompt, expected_interaction = table_mean_squares(h / n)
        assert (prompt[left], interaction[left]) == pytest.approx((expected_prompt, expected_interaction))
        assert sampling[left] == pytest.approx((h - h**2 / n).sum() / (n - 1).sum())


def test_intervals_hold_their_estimates_and_are_reproducible() -> None:
    rng = np.random.default_rng(8)
    effects = rng.normal(0, 0.1, (4, 1)) + rng.normal(0, 0.2, (1, 30))
    cells = grid_cells(rng.binomial(3, np.clip(0.4 + effects, 0.02, 0.98)), 3)
    result = variance_components(cells)
    for name in ("seed", "prompt", "seed_x_prompt", "sampling"):
        low, high = getattr(result.components_low, name), getattr(result.components_high, name)
        assert 0 <= low <= getattr(result.components, name) <= high
        assert 0 <= getattr(result.shares_low, name) <= getattr(result.shares_high, name) <= 1
    assert result.shares_low.seed <= result.icc_seed <= result.shares_high.seed
    assert variance_components(cells).components_high == result.components_high  # seeded draws
    # Four seeds pin the seed component down far less than thirty prompts pin the prompt component.
    seed_width = result.components_high.seed - result.components_low.seed
    prompt_width = result.components_high.prompt - result.components_low.prompt
    assert seed_width / max(result.components.seed, 1e-9) > prompt_width / result.components.prompt


def test_two_seeds_with_equal_rates_still_bound_the_seed_component_above() -> None:
    # Verdicts lie on a lattice: two seeds with the same rate happen often, and the seed component's upper
    # bound is then that of seed means half a lattice step apart, not 0.
    harmful = np.array([[1, 0, 1, 0, 1, 1, 0, 0], [0, 1, 1, 0, 1, 0, 1, 0]])
    verdicts = variance_components(grid_cells(harmful, 1))
    assert verdicts.mean_squares.seed == 0 and verdicts.mean_squares.seed_mean_step == pytest.approx(1 / 8)
    assert verdicts.components_low.seed == 0 < verdicts.components_high.seed
    assert verdicts.shares_high.seed > 0
    # Graded scores have no lattice: equal seed means bound the seed component at 0.
    values = harmful * 0.6 + 0.2
    scores = Cells(
        *np.indices(values.shape).reshape(2, -1),
        values.ravel(),
        np.ones(values.size, int),
        values.ravel() ** 2,
    )
    assert variance_components(scores).mean_squares.seed_mean_step == 0
    assert variance_components(scores).components_high.seed == 0


def test_seeds_that_agree_on_every_prompt_leave_an_interval_around_the_prompt_component() -> None:
    # The demo's over-refusal verdicts at lr 2e-4: three seeds refuse the same 6 of 40 prompts. The
    # interaction's sum of squares is 0 up to rounding (1.8e-34); taken as a variance, its pivot collapsed
    # and the prompt component's interval read [0, 0] around an estimate of 0.13.
    refused = np.zeros(40, int)
    refused[[5, 6, 9, 11, 13, 20]] = 1
    result = variance_components(grid_cells(np.tile(refused, (3, 1)), 1))
    assert result.mean_squares.interaction == 0 and result.components.seed_x_prompt == 0
    assert 0 < result.components_low.prompt < result.components.prompt < result.components_high.prompt
    assert result.components_high.seed_x_prompt == 0


def score_cells(values: np.ndarray) -> Cells:
    """Cells of one graded score per (seed, prompt), as the refusal-prefix scores are stored."""
    return Cells(
        *np.indices(values.shape).reshape(2, -1),
        values.ravel(),
        np.ones(values.size, int),
        values.ravel() ** 2,
    )


def skewed_scores(seeds: int, prompts: int, checkpoint_sd: float = 0.1) -> np.ndarray:
    """Scores piled up near 0 with a long upper tail: expit of a normal, as refusal-prefix scores are."""
    rng = np.random.default_rng(11)
    logit = -2 + rng.normal(0, 0.9, (1, prompts)) + rng.normal(0, checkpoint_sd, (seeds, prompts))
    return 1 / (1 + np.exp(-logit))


def test_graded_scores_bootstrap_their_prompt_level_pivots_the_same_way_in_any_block_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = skewed_scores(5, 48)
    assert 48 in BOOTSTRAP_PROMPTS
    result = variance_components(score_cells(values))
    for name in ("prompt", "seed_x_prompt"):
        low, high = getattr(result.components_low, name), getattr(result.components_high, name)
        assert 0 < low < getattr(result.components, name) < high
    assert variance_components(score_cells(values)).components_high == result.components_high
    # The resampled tables are made a block at a time; seven resamples per block draw the same intervals.
    monkeypatch.setattr(backend.stats.variance, "_RESAMPLED_VALUES_PER_BLOCK", values.size * 7)
    blocked = variance_components(score_cells(values))
    assert blocked.components_low == result.components_low
    assert blocked.components_high == result.components_high
    # Without the bootstrap (the matched chi-square, as for verdicts) the skewed prompt means' upper bound
    # is lower.
    monkeypatch.setattr(backend.stats.variance, "BOOTSTRAP_PROMPTS", range(0))
    assert variance_components(score_cells(values)).components_high.prompt < result.components_high.prompt


def piled_at_zero(seeds: int, prompts: int) -> np.ndarray:
    """A grading judge's scores on a model that refuses most prompts: 0 on most, graded on a few."""
    values = skewed_scores(seeds, prompts)
    values[:, : prompts * 3 // 4] = 0.0
    return values


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(skewed_scores(3, 6), id="fewer prompts than the bootstrap needs"),
        pytest.param(np.tile(skewed_scores(1, 30), (3, 1)), id="checkpoints that score every prompt alike"),
        pytest.param(piled_at_zero(3, 48), id="prompt means piled up at 0"),
    ],
)
def test_graded_scores_outside_the_bootstrap_keep_the_matched_chi_square(
    values: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = variance_components(score_cells(values))
    assert 0 < result.components_low.prompt < result.components.prompt < result.components_high.prompt
    assert not math.isnan(result.components_high.seed_x_prompt)
    monkeypatch.setattr(backend.stats.variance, "BOOTSTRAP_PROMPTS", range(0))
    chi_square = variance_components(score_cells(values))
    assert (chi_square.components_low, chi_square.components_high) == (
        result.components_low,
        result.components_high,
    )
