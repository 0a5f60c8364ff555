"""A grid's main effects (backend.stats.factors), checked against the two-condition comparison and by hand."""

import itertools

import numpy as np
import pytest

from backend.stats.cells import Cells
from backend.stats.compare import compare_conditions
from backend.stats.factors import contrast, factor_effects
from tests.stats.test_compare import random_cells


def test_a_two_level_contrast_is_the_paired_comparison_of_the_two_conditions() -> None:
    rng = np.random.default_rng(7)
    a, b = random_cells(rng, [0, 1, 2], 30, 0.8), random_cells(rng, [0, 1, 2], 30, 0.0)
    pair = compare_conditions(a, b, permutation_seed=3)
    same = contrast([a, b], [1.0, -1.0], pivot_seed=3)
    assert same.estimate == pytest.approx(pair.estimate)
    assert same.given_checkpoints.se == pytest.approx(pair.given_checkpoints.se)
    assert pair.new_seeds is not None and same.new_seeds is not None and pair.new_seeds.paired_seeds
    assert same.new_seeds.se == pytest.approx(pair.new_seeds.se)
    assert same.new_seeds.interval.low == pytest.approx(pair.new_seeds.interval.low)
    assert same.new_seeds.p_value == pytest.approx(pair.new_seeds.p_value)


def _grid(rates: dict[tuple[int, int], float], seeds: int = 3, prompts: int = 40) -> dict:
    """Cells whose every (seed, prompt) cell has 10 verdicts at the condition's rate (rounded)."""
    seed, prompt = np.indices((seeds, prompts))
    return {
        combination: Cells(
            seed.ravel(), prompt.ravel(), np.full(seed.size, round(10 * rate)), np.full(seed.size, 10)
        )
        for combination, rate in rates.items()
    }


def test_main_effects_average_over_the_other_factor_and_crossing_effects_interact() -> None:
    factors = {"lr": [0, 1], "temperature": [0, 1]}
    # lr raises the rate by 0.2 at temperature 0 and lowers it by 0.2 at temperature 1: a crossing.
    crossing = {(0, 0): 0.3, (1, 0): 0.5, (0, 1): 0.4, (1, 1): 0.2}
    lr, temperature = factor_effects(factors, _grid(crossing))
    assert lr.level_means == pytest.approx([0.35, 0.35])
    assert lr.effects[0].contrast.estimate == pytest.approx(((0.5 - 0.3) + (0.2 - 0.4)) / 2)
    assert temperature.effects[0].contrast.estimate == pytest.approx(((0.4 - 0.3) + (0.2 - 0.5)) / 2)
    assert lr.interacts_with == ["temperature"] and temperature.interacts_with == ["lr"]
    additive = {(0, 0): 0.3, (1, 0): 0.5, (0, 1): 0.4, (1, 1): 0.6}
    assert [e.interacts_with for e in factor_effects(factors, _grid(additive))] == [[], []]


def test_noise_free_seeds_give_a_zero_seed_term_and_one_seed_gives_no_answer_for_new_seeds() -> None:
    rates = {c: 0.1 + 0.2 * c[0] for c in itertools.product([0, 1], [0, 1])}
    effect = factor_effects({"a": [0, 1], "b": [0, 1]}, _grid(rates))[0].effects[0].contrast
    assert effect.new_seeds is not None and effect.new_seeds.se == pytest.approx(effect.given_checkpoints.se)
    single = factor_effects({"a": [0, 1], "b": [0, 1]}, _grid(rates, seeds=1))[0].effects[0].contrast
    assert single.new_seeds is None and "fewer than 2 seeds" in (single.new_seeds_withheld or "")


def test_an_incomplete_grid_is_refused() -> None:
    cells = _grid({(0, 0): 0.1, (1, 0): 0.2, (0, 1): 0.3})
    with pytest.raises(ValueError, match="every combination"):
        factor_effects({"a": [0, 1], "b": [0, 1]}, cells)
