import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from backend.stats.power import (
    Design,
    detection_power,
    difference_se,
    minimum_detectable_difference,
    seeds_needed,
)
from backend.stats.variance import Components

COMPONENTS = Components(seed=0.01, prompt=0.02, seed_x_prompt=0.02, sampling=0.2)


def test_hand_computed_se() -> None:
    # 2 (.01 / 4 + .02 / (4 * 50) + .2 / (4 * 50 * 2)) = 2 (.0025 + .0001 + .0005); prompt cancels.
    assert difference_se(COMPONENTS, Design(4, 50, 2)) == pytest.approx(math.sqrt(0.0062))
    assert difference_se(dataclasses.replace(COMPONENTS, prompt=5.0), Design(4, 50, 2)) == pytest.approx(
        math.sqrt(0.0062)
    )


def test_power_is_alpha_at_zero_and_target_at_the_minimum_detectable_difference() -> None:
    design = Design(4, 50, 2)
    assert detection_power(COMPONENTS, 0.0, design) == pytest.approx(0.05)
    mdd = minimum_detectable_difference(COMPONENTS, design)
    assert detection_power(COMPONENTS, mdd, design) == pytest.approx(0.8)
    assert detection_power(COMPONENTS, -mdd, design) == pytest.approx(0.8)
    # With 6 df the t-test needs more than the normal approximation's (z_.975 + z_.8) SE.
    assert mdd > 2.8015 * difference_se(COMPONENTS, design)


def test_many_seeds_approach_the_normal_approximation() -> None:
    design = Design(400, 50, 2)
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    expected = z * difference_se(COMPONENTS, design)
    assert minimum_detectable_difference(COMPONENTS, design) == pytest.approx(expected, rel=0.005)


def test_seeds_needed_is_the_smallest_sufficient_count() -> None:
    n = seeds_needed(COMPONENTS, 0.1, n_prompts=50, n_samples=2)
    assert n is not None and n > 2
    assert detection_power(COMPONENTS, 0.1, Design(n, 50, 2)) >= 0.8
    assert detection_power(COMPONENTS, 0.1, Design(n - 1, 50, 2)) < 0.8
    assert seeds_needed(COMPONENTS, 0.01, n_prompts=50, n_samples=2, max_seeds=10) is None


def test_confounded_sampling_is_sized_as_interaction() -> None:
    lumped = Components(seed=0.01, prompt=0.02, seed_x_prompt=0.22, sampling=math.nan)
    design = Design(4, 50, 2)
    assert difference_se(lumped, design) == pytest.approx(math.sqrt(2 * (0.01 / 4 + 0.22 / 200)))
    assert difference_se(lumped, design) > difference_se(COMPONENTS, design)


def test_simulated_power_at_the_returned_design_is_near_target(uniform_model: type) -> None:
    model = uniform_model(mean=0.5, seed=0.1, prompt=0.15, interaction=0.05)
    seed, prompt, interaction, sampling = model.variances
    design = Design(5, 30, 2)
    delta = 0.0
    for _ in range(3):  # conditions sit at .5 ± delta / 2, where E[p (1 - p)] is lower by delta^2 / 4
        components = Components(seed, prompt, interaction, sampling - delta**2 / 4)
        delta = minimum_detectable_difference(components, design)
    assert seeds_needed(components, delta * (1 + 1e-6), n_prompts=30, n_samples=2) == 5

    rng = np.random.default_rng(11)
    sims = 4000
    prompt_effects = model.prompt_effects(rng, sims, 30)  # the same prompts in both conditions
    per_seed = [
        dataclasses.replace(model, mean=mean).harmful(rng, prompt_effects, 5, 2).sum(axis=2) / 60
        for mean in (0.5 + delta / 2, 0.5 - delta / 2)
    ]
    power = np.mean(stats.ttest_ind(*per_seed, axis=1).pvalue < 0.05)
    assert power == pytest.approx(0.8, abs=0.03)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Design(1, 10, 1), "n_seeds"),
        (lambda: Design(2, 0, 1), "n_prompts"),
        (lambda: difference_se(Components(-0.1, 0, 0, 0.1), Design(2, 1, 1)), "components.seed"),
        (lambda: difference_se(Components(0, 0.1, 0, 0), Design(2, 1, 1)), "nothing to size"),
        (lambda: detection_power(COMPONENTS, math.inf, Design(2, 1, 1)), "delta"),
        (lambda: minimum_detectable_difference(COMPONENTS, Design(2, 1, 1), 0.05, 0.04), "must exceed"),
        (lambda: seeds_needed(COMPONENTS, 0.0, 10, 1), "non-zero"),
        (lambda: seeds_needed(COMPONENTS, 0.1, 10, 1, max_seeds=1), "max_seeds"),
    ],
)
def test_rejects_invalid_input(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
