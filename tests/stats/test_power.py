import math

import numpy as np
import pytest
from scipy import stats

from backend.stats.cells import Cells
from backend.stats.compare import compare_conditions
from backend.stats.power import (
    Design,
    Noise,
    Rates,
    Sizing,
    Undetectable,
    detection_multiplier,
    detection_power,
    minimum_detectable_difference,
    noise_of,
    seeds_needed,
    sizing,
)


def one(prompt_level: float, seed: float, run_noise: float) -> Noise:
    return Noise(np.array([prompt_level]), [(np.array([seed]), np.array([run_noise]))])


def grid(harmful: np.ndarray, samples: int) -> Cells:
    seeds, prompts = np.indices(harmful.shape)
    return Cells(seeds.ravel(), prompts.ravel(), harmful.ravel(), np.full(harmful.size, samples))


def comparison_with_seed_noise(seed_sd: float, seeds: int = 4, prompts: int = 40):
    rng = np.random.default_rng(7)
    p = np.clip(0.3 + rng.normal(0, 0.15, (1, prompts)) + rng.normal(0, seed_sd, (seeds, 1)), 0.01, 0.99)
    baseline = np.clip(0.2 + rng.normal(0, 0.15, (1, prompts)), 0.01, 0.99)
    return compare_conditions(
        grid(rng.binomial(4, p), 4), grid(rng.binomial(4, baseline), 4), trained=(True, False)
    )


@pytest.mark.parametrize("df", [2, 4.5, 30, 1e5])
def test_the_multiplier_gives_the_target_power(df: float) -> None:
    multiplier = detection_multiplier(df)
    assert detection_power(multiplier, df) == pytest.approx(0.8, abs=1e-6)
    assert detection_power(0.0, df) == pytest.approx(0.05, abs=1e-9)


def test_many_df_approach_the_normal_approximation() -> None:
    assert detection_multiplier(1e5) == pytest.approx(stats.norm.ppf(0.975) + stats.norm.ppf(0.8), rel=1e-3)
    # Few df need more: the t's heavier tails and its noncentral spread.
    assert detection_multiplier(2) > detection_multiplier(5) > detection_multiplier(50)


def test_variance_of_a_design_by_hand() -> None:
    # prompt_level / P + run_noise / (S P) + seed / S = .2/40 + .1/(4*40) + .01/4
    noise = one(prompt_level=0.2, seed=0.01, run_noise=0.1)
    assert noise.variance(Design(4, 40))[0] == pytest.approx(0.005 + 0.000625 + 0.0025)
    # A negative (estimated) seed term counts as 0.
    assert one(0.2, -0.01, 0.1).variance(Design(4, 40))[0] == pytest.approx(0.005 + 0.000625)


def test_without_training_noise_the_mdd_is_the_multiplier_times_the_prompt_se() -> None:
    noise = one(prompt_level=0.2, seed=0.0, run_noise=0.0)
    design = Design(5, 200)
    mdd = minimum_detectable_difference(noise, design)
    se = math.sqrt(0.2 / 200)
    # No seed term: the test is a t with n_prompts - 1 df.
    assert mdd == pytest.approx(detection_multiplier(199) * se, rel=0.02)


def test_more_seeds_detect_smaller_differences_with_training_noise() -> None:
    noise = one(prompt_level=0.2, seed=0.01, run_noise=0.1)
    mdds = [minimum_detectable_difference(noise, Design(s, 100)) for s in (2, 3, 5, 10, 30)]
    assert mdds == sorted(mdds, reverse=True)
    # Training noise does not average out over prompts: with many prompts the seed term is the floor.
    floor = detection_multiplier(29) * math.sqrt(0.01 / 30)
    assert minimum_detectable_difference(noise, Design(30, 100_000)) == pytest.approx(floor, rel=0.05)


def test_noise_of_a_comparison_rebuilds_its_variance() -> None:
    comparison = comparison_with_seed_noise(seed_sd=0.08)
    assert comparison.new_seeds is not None
    noise = noise_of(comparison)
    design = Design(comparison.seeds_a, comparison.n_prompts)
    # The same design as ran: the noise's variance is the for-new-seeds variance.
    assert math.sqrt(noise.variance(design)[0]) == pytest.approx(comparison.new_seeds.se, rel=1e-9)


def test_sizing_has_a_range_and_shrinks_with_more_seeds() -> None:
    comparison = comparison_with_seed_noise(seed_sd=0.08)
    now, more = sizing(comparison, Design(4, 40)), sizing(comparison, Design(10, 40))
    assert now is not None and more is not None
    assert now.low < now.minimum_detectable_difference < now.high
    assert more.minimum_detectable_difference < now.minimum_detectable_difference
    one_seed = compare_conditions(
        grid(np.array([[1, 0, 2]]), 2), grid(np.array([[0, 0, 1]]), 2), trained=(True, False)
    )
    assert sizing(one_seed, Design(4, 3)) is None


def test_seeds_needed_is_the_smallest_sufficient_count() -> None:
    comparison = comparison_with_seed_noise(seed_sd=0.08)
    (needed,) = seeds_needed(comparison, [0.15], comparison.n_prompts)
    assert needed is not None and needed > 2
    at = sizing(comparison, Design(needed, comparison.n_prompts))
    before = sizing(comparison, Design(needed - 1, comparison.n_prompts))
    assert at is not None and before is not None
    assert at.minimum_detectable_difference <= 0.15 < before.minimum_detectable_difference
    assert seeds_needed(comparison, [0.001], comparison.n_prompts, max_seeds=5) == [None]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Design(1, 10), "n_seeds"),
        (lambda: Design(2, 1), "n_prompts"),
        (lambda: detection_multiplier(5, 0.05, 0.04), "must exceed"),
        (lambda: detection_multiplier(0), "df must be positive"),
        (lambda: detection_power(math.inf, 3), "noncentrality"),
        (lambda: seeds_needed(comparison_with_seed_noise(0.05), [0.0], 10), "positive"),
        (lambda: seeds_needed(comparison_with_seed_noise(0.05), [0.1], 10, max_seeds=1), "max_seeds"),
    ],
)
def test_rejects_invalid_input(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_the_noise_is_scaled_to_the_alternative() -> None:
    rates = Rates(0.2, 0.2, (True, False))
    evaluation, seed = rates.factors(np.array([0.0, 0.1, 0.3]))
    assert evaluation[0] == seed[0] == pytest.approx(1.0)
    # A at 0.3: v = 0.21 against 0.16; the seed term (A's only) as v squared.
    assert evaluation[1] == pytest.approx((0.21 + 0.16) / 0.32)
    assert seed[1] == pytest.approx((0.21 / 0.16) ** 2)
    assert evaluation[2] == pytest.approx((0.25 + 0.16) / 0.32)
    # The alternative moves toward 1/2, as far as the values reach.
    assert (rates.direction, rates.largest_possible) == (1.0, pytest.approx(0.8))
    assert (Rates(0.9, 0.7).direction, Rates(0.9, 0.7).largest_possible) == (-1.0, pytest.approx(0.7))


def test_the_mdd_grows_with_the_noise_at_the_alternative() -> None:
    at_pilot = one(prompt_level=0.2, seed=0.004, run_noise=0.1)
    scaled = Noise(at_pilot.prompt_level, at_pilot.terms, Rates(0.2, 0.2, (True, False)))
    design = Design(3, 48)
    plug_in = minimum_detectable_difference(at_pilot, design)
    mdd = minimum_detectable_difference(scaled, design)
    assert mdd > plug_in
    # mdd = multiplier * SE at the noise of A = 0.2 + mdd.
    evaluation, seed = (float(part[0]) for part in at_pilot.parts(design))
    evaluation_factor, seed_factor = scaled.rates.factors(mdd)  # type: ignore[union-attr]
    se = math.sqrt(evaluation * float(evaluation_factor) + seed * float(seed_factor))
    assert mdd == pytest.approx(plug_in / math.sqrt(evaluation + seed) * se, rel=1e-6)


def test_a_baseline_at_zero_has_a_positive_mdd() -> None:
    # B never harmful: the noise at A' = B + d vanishes as d -> 0, but a zero difference is never detected.
    at_zero = Noise(np.array([0.05]), [(np.array([0.002]), np.array([0.05]))], Rates(0.25, 0.0))
    mdd = minimum_detectable_difference(at_zero, Design(3, 8))
    assert 0 < mdd < 1


def test_no_reachable_difference_is_said_so() -> None:
    huge = Noise(np.array([50.0]), [(np.array([1.0]), np.array([1.0]))], Rates(0.5, 0.5))
    assert math.isinf(minimum_detectable_difference(huge, Design(3, 10)))
    # Seeds at 100%, 0% and 50% against a baseline at 50%: nothing up to 0.5 is detectable with 3 seeds.
    seeds = grid(np.array([[4, 4, 4, 4], [0, 0, 0, 0], [4, 0, 4, 0]]), 4)
    comparison = compare_conditions(seeds, grid(np.array([[2, 2, 2, 2]]), 4), trained=(True, False))
    size = sizing(comparison, Design(3, 4))
    assert isinstance(size, Undetectable) and "no difference up to the largest possible" in size.reason
    two = sizing(comparison_with_seed_noise(seed_sd=0.08), Design(2, 40))
    assert isinstance(two, Undetectable) and "2 seeds" in two.reason


def test_the_range_is_capped_at_the_largest_possible_difference() -> None:
    comparison = comparison_with_seed_noise(seed_sd=0.08, seeds=3, prompts=40)
    size = sizing(comparison, Design(3, 40))
    assert isinstance(size, Sizing)
    assert size.largest_possible == pytest.approx(1 - comparison.rate_b)
    assert size.low <= size.minimum_detectable_difference <= size.high <= size.largest_possible
