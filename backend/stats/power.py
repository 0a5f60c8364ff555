"""How many seeds a comparison needs, sized for the test the dashboard shows.

The test is the "for new seeds" comparison of backend.stats.compare. For S seeds per fine-tuned condition
and P prompts its variance is
    V = prompt_level / P + sum over seed terms of run_noise / (S P) + max(0, sum of seed) / S
where
- prompt_level: the per-prompt variance of the difference that no number of seeds removes (the prompt by
  condition interaction, and an untuned reference's evaluation noise);
- run_noise: per seed term, the per-prompt noise inside one fine-tuned run (seed x prompt and sampling);
- seed: per seed term, the training-seed variance of the arm's rate (of the paired difference when two
  fine-tuned conditions share their seeds; one term per arm otherwise).
They are estimated from a comparison that ran, through the mean squares the test itself uses: V_prompt
(P - 1 df) and every seed term's seed and interaction mean squares, each replaced by its chi-square pivot
(backend.stats.generalized; Weerahandi 1993). The 95% range of the minimum detectable difference is the
MDDs at every ingredient's 2.5% and 97.5% quantiles (the MDD grows with every ingredient).

The test's critical value for a design is its generalized interval's half-width over its SE when the mean
squares equal their expectations; `df` is the t df with that critical value. Power at a difference delta is
the two-sided rejection probability of a noncentral t with that df and noncentrality delta / SE, so at one
value of the noise the MDD is SE times a multiplier of the df alone. Three things keep the MDD's promise:
- the noise at the alternative: a difference is sized where it would be seen, with A's rate moved from B's
  by it and the noise scaled to that rate (`Rates`); measured at the pilot's rates after a null result, the
  MDD was detected 53-80% of the time, not 80%;
- expected power: the MDD is the difference whose power, averaged over the noise's pivot draws, is 80%
  (assurance; O'Hagan & Stevens 2001). The noise comes from a few seeds; an MDD sized at one value of it
  (the median draw, as before) is detected less often than promised when that value is low by chance;
- the values' range: no MDD or range above the largest difference B's rate allows (to 1, or to 0 when B is
  above 1/2). When nothing reachable has 80% power, and always with 2 seeds per fine-tuned condition
  (a 1-df seed term; an MDD sized for them was detected about 60% of the time), sizing says so
  (`Undetectable`, with the reason) instead of showing a number.
bench/coverage.py measures the power at each reported MDD by simulating it as the true difference.

Nothing here assumes 0/1 verdicts: the noise comes from the comparison's mean squares, which hold for scores
in [0, 1] as for verdicts (backend.stats.compare). Differences, MDDs and noise are in the comparison's units:
proportions for a harmfulness rate, score points for a mean score.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
from scipy import optimize, special, stats

from backend.stats._checks import check_count, check_finite, check_open_unit
from backend.stats.compare import Comparison, TrainingNoise, new_seeds_variance_draws, seed_variance
from backend.stats.generalized import normal_with_pivotal_variance, pivot_draws

# Past this many df the t is the normal for every purpose here (scipy's nct fails at huge df).
_NORMAL_DF = 1e4
SIZING_DRAWS = 1000
# Pivot draws behind a design's critical value: it sets the multiplier, where 1% moves the MDD by 1%.
_DESIGN_DRAWS = 1000
# With 2 seeds per fine-tuned condition a seed term has 1 df and no reachable difference has 80% power: an
# MDD sized as for 3 or more seeds was detected about 60% of the time (a pilot simulation of
# bench/coverage.py's model), its 95% range reached the largest possible difference.
FEWEST_SIZED_SEEDS = 3


@dataclass(frozen=True)
class Design:
    """Seeds per fine-tuned condition and prompts (shared by both conditions)."""

    n_seeds: int
    n_prompts: int

    def __post_init__(self) -> None:
        check_count(self.n_seeds, "n_seeds", minimum=2)
        check_count(self.n_prompts, "n_prompts", minimum=2)


@dataclass(frozen=True)
class Sizing:
    """The minimum detectable difference of a design and its 95% range.

    The MDD at each noise ingredient's median pivot draw, the range at their 2.5% and 97.5% quantiles (the
    MDD grows with each ingredient, so the range is at least as wide as the joint one), each at most the
    largest possible difference.
    """

    minimum_detectable_difference: float
    low: float
    high: float
    largest_possible: float


@dataclass(frozen=True)
class Undetectable:
    """No difference the values can reach has the target power with this design; `reason` says so."""

    reason: str
    largest_possible: float


@dataclass(frozen=True)
class Rates:
    """Where the noise was measured: A's and B's mean values, in [0, 1], and which of them carry a training
    seed term.

    A difference is sized where it would be seen: A moved from B by the difference toward 1/2 (the
    direction in which the noise grows, so the sizing errs on the safe side). A value in [0, 1] with mean m
    has variance at most m (1 - m) = v(m), exactly that for a 0/1 verdict: the evaluation noise (sampling
    above all) is scaled by (v(A') + v(B)) / (v(A) + v(B)), A' = B + difference. A seed's shift moves a rate
    by about v(m) times its shift on the logit scale (the delta method), so the seed term's variance is
    scaled by the sum of v^2 over the arms that carry it, at A' over at A. Sized at the pilot's own rates
    instead, after a null pilot the MDD detected 53-80% of the time, not 80% (bench/coverage.py, power at
    each reported MDD).
    """

    a: float
    b: float
    seeded: tuple[bool, bool] = (True, False)

    @property
    def direction(self) -> float:
        return 1.0 if self.b <= 0.5 else -1.0

    @property
    def largest_possible(self) -> float:
        """The largest difference from B's mean in that direction: to 1 or to 0."""
        return max(self.b, 1.0 - self.b)

    def factors(self, difference: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """(evaluation noise, seed term) at A = B + direction * difference over as measured; inf when the
        measured values did not vary."""
        moved = self.b + self.direction * np.asarray(difference, dtype=float)
        evaluation = _ratio(
            _value_variance(moved) + _value_variance(self.b),
            _value_variance(self.a) + _value_variance(self.b),
        )
        seed_a, seed_b = (float(flag) for flag in self.seeded)
        seed = _ratio(
            seed_a * _value_variance(moved) ** 2 + seed_b * _value_variance(self.b) ** 2,
            seed_a * _value_variance(self.a) ** 2 + seed_b * _value_variance(self.b) ** 2,
        )
        return evaluation, seed


def _ratio(alternative: np.ndarray, measured: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(measured > 0, alternative / measured, math.inf)


def _value_variance(mean: np.ndarray | float) -> np.ndarray:
    mean = np.clip(mean, 0.0, 1.0)
    return np.asarray(mean * (1 - mean), dtype=float)


@dataclass(frozen=True)
class Noise:
    """A comparison's noise: prompt_level, and (seed, run_noise) per seed term, as arrays of equal length:
    one entry for an estimate, many for pivot draws. In the metric's units squared (proportion^2 for a
    rate), per prompt or per seed. `rates`: where it was measured (None: the noise does not move with the
    difference, which is then unbounded)."""

    prompt_level: np.ndarray
    terms: list[tuple[np.ndarray, np.ndarray]]
    rates: Rates | None = None

    def variance(self, design: Design) -> np.ndarray:
        """V of the design per draw; negative (estimated) parts count as 0."""
        evaluation, seed = self.parts(design)
        return evaluation + seed

    def parts(self, design: Design) -> tuple[np.ndarray, np.ndarray]:
        """V's evaluation noise (prompt level and run noise) and its training-seed term, per draw."""
        s, p = design.n_seeds, design.n_prompts
        run_noise = sum(np.maximum(0.0, noise) for _, noise in self.terms)
        seed = np.maximum(0.0, sum(seed for seed, _ in self.terms))
        return np.maximum(0.0, self.prompt_level) / p + run_noise / (s * p), seed / s

    def quantile(self, q: float) -> "Noise":
        """Each ingredient at its q-quantile over the draws (one entry)."""
        return Noise(
            np.quantile(self.prompt_level, q, keepdims=True),
            [
                (np.quantile(seed, q, keepdims=True), np.quantile(noise, q, keepdims=True))
                for seed, noise in self.terms
            ],
            self.rates,
        )


def _noise(
    comparison: Comparison, v_prompt: np.ndarray, mean_squares: list[tuple[np.ndarray, np.ndarray]]
) -> Noise:
    """The noise from V_prompt and each seed term's (seed, interaction) mean squares per prompt.

    V_prompt holds each term's run noise divided by the seeds it ran with; what remains is prompt level.
    """
    p = comparison.n_prompts
    prompt_level = p * v_prompt
    terms = []
    for n, (seed_ms, interaction_ms) in zip(comparison.training_noise, mean_squares, strict=True):
        prompt_level = prompt_level - p * interaction_ms / (n.df_seed + 1)
        terms.append((seed_ms - interaction_ms, p * interaction_ms))
    return Noise(prompt_level, terms, Rates(comparison.rate_a, comparison.rate_b, comparison.trained))


def noise_of(comparison: Comparison) -> Noise:
    """The comparison's estimated noise (method of moments: unbiased, negative parts kept)."""
    return _noise(
        comparison,
        np.array([comparison.given_checkpoints.se**2]),
        [
            (np.array([n.seed_mean_square]), np.array([n.interaction_mean_square]))
            for n in comparison.training_noise
        ],
    )


def _noise_draws(comparison: Comparison, n_draws: int, seed: int) -> Noise:
    """Draws of the noise: every mean square replaced by its chi-square pivot."""
    rng = np.random.default_rng(seed)
    v_prompt = pivot_draws(comparison.given_checkpoints.se**2, comparison.n_prompts - 1, n_draws, rng)
    mean_squares = [
        (
            pivot_draws(n.seed_mean_square, n.df_seed, n_draws, rng),
            pivot_draws(n.interaction_mean_square, n.df_interaction, n_draws, rng),
        )
        for n in comparison.training_noise
    ]
    return _noise(comparison, v_prompt, mean_squares)


def minimum_detectable_difference(
    noise: Noise, design: Design, alpha: float = 0.05, target_power: float = 0.8
) -> float:
    """The MDD of a design: the smallest d at which the shown test has the target power, its SE(d) taken
    with the noise at the alternative (`Rates`); inf when no difference up to the largest possible has it.

    With one entry of noise this is d = multiplier(df) * SE(d). With pivot draws it is the d whose power,
    averaged over the draws, is the target (expected power, or assurance: O'Hagan & Stevens 2001): the
    noise is known from a few seeds, and a difference sized at one value of it is detected less often than
    promised when that value is low by chance, more often (but at most always) when high. Power at a draw
    is the normal approximation Phi(d / SE - (multiplier - z_power)), which equals the target exactly at
    d = multiplier * SE; the df come from the draws' median.
    """
    if design.n_seeds < FEWEST_SIZED_SEEDS:
        return math.inf
    multiplier = detection_multiplier(_design_df(noise.quantile(0.5), design), alpha, target_power)
    evaluation, seed = (part[None, :] for part in noise.parts(design))
    rates = noise.rates
    if rates is None:
        return multiplier * float(np.sqrt(evaluation + seed).mean())
    shortfall = multiplier - stats.norm.ppf(target_power)

    def surplus(difference: np.ndarray | float) -> np.ndarray:
        """Power at d averaged over the draws minus the target: >= 0 once d is detectable."""
        d = np.atleast_1d(np.asarray(difference, dtype=float))[:, None]
        evaluation_factor, seed_factor = rates.factors(d)
        with np.errstate(invalid="ignore", divide="ignore"):
            se = np.sqrt(evaluation * evaluation_factor + seed * seed_factor)
            # No noise at the alternative: a positive difference is always seen, no difference never (at a
            # baseline of 0% the noise vanishes at d = 0, which is no detectable difference).
            power = np.where(se > 0, special.ndtr(d / se - shortfall), (d > 0).astype(float))
        return np.nan_to_num(power, nan=0.0).mean(axis=1) - target_power

    # The scaled noise need not grow monotonically with d: the MDD is the first crossing on a fine grid.
    grid = np.linspace(0.0, rates.largest_possible, 257)
    crossed = np.flatnonzero(surplus(grid) >= 0)
    if crossed.size == 0:
        return math.inf
    if crossed[0] == 0:
        return 0.0
    return float(optimize.brentq(lambda d: float(surplus(d)[0]), grid[crossed[0] - 1], grid[crossed[0]]))


def _design_df(noise: Noise, design: Design) -> float:
    """The t df of the shown test's critical value for a design whose estimates equal `noise` (one draw)."""
    s, p = design.n_seeds, design.n_prompts
    terms = [
        TrainingNoise(
            seed_mean_square=float(np.maximum(0.0, seed[0]) + np.maximum(0.0, run_noise[0]) / p),
            interaction_mean_square=float(np.maximum(0.0, run_noise[0]) / p),
            df_seed=s - 1,
            df_interaction=(s - 1) * (p - 1),
            seed_weight=1 / s,
        )
        for seed, run_noise in noise.terms
    ]
    v_prompt = float(
        np.maximum(0.0, noise.prompt_level[0]) / p + sum(t.interaction_mean_square for t in terms) / s
    )
    draws = new_seeds_variance_draws(v_prompt, p, terms, _DESIGN_DRAWS, np.random.default_rng(0))
    added = float(
        seed_variance(terms, [t.seed_mean_square for t in terms], [t.interaction_mean_square for t in terms])
    )
    return normal_with_pivotal_variance(0.0, v_prompt + added, draws).df


def detection_multiplier(df: float, alpha: float = 0.05, target_power: float = 0.8) -> float:
    """delta / SE at which a two-sided level-alpha t-test with df degrees of freedom has target_power."""
    # df is a continuous function of the design: two decimals are plenty, and they keep the cache small.
    return _detection_multiplier(round(min(df, _NORMAL_DF), 2), alpha, target_power)


@lru_cache(maxsize=4096)
def _detection_multiplier(df: float, alpha: float, target_power: float) -> float:
    alpha = check_open_unit(alpha, "alpha")
    target_power = check_open_unit(target_power, "target_power")
    if target_power <= alpha:
        raise ValueError(f"target_power ({target_power}) must exceed alpha ({alpha})")
    if not df > 0:
        raise ValueError(f"df must be positive, got {df}")

    def shortfall(ncp: float) -> float:
        return detection_power(ncp, df, alpha) - target_power

    high = 1.0
    while shortfall(high) < 0:
        high *= 2
    return float(optimize.brentq(shortfall, 0.0, high))


def detection_power(noncentrality: float, df: float, alpha: float = 0.05) -> float:
    """Two-sided level-alpha t-test's rejection probability at noncentrality delta / SE with df df."""
    alpha = check_open_unit(alpha, "alpha")
    noncentrality = abs(check_finite(noncentrality, "noncentrality"))
    if df >= _NORMAL_DF:
        critical = stats.norm.ppf(1 - alpha / 2)
        return float(stats.norm.sf(critical - noncentrality) + stats.norm.cdf(-critical - noncentrality))
    critical = stats.t.ppf(1 - alpha / 2, df)
    # scipy's nct.cdf can answer NaN deep in the far tail (non-integer df): that tail is 0 for our purpose.
    far_tail = float(np.nan_to_num(stats.nct.cdf(-critical, df, noncentrality)))
    return float(stats.nct.sf(critical, df, noncentrality)) + far_tail


def sizing(
    comparison: Comparison,
    design: Design,
    confidence: float = 0.95,
    alpha: float = 0.05,
    target_power: float = 0.8,
    n_draws: int = SIZING_DRAWS,
    seed: int = 0,
) -> Sizing | Undetectable | None:
    """MDD of `design` from a comparison with a for-new-seeds answer (None without one); Undetectable, with
    the reason, when no difference up to the largest possible has the target power at the median noise.

    Draws come from numpy's default_rng(seed): the same comparison sizes the same way every time.
    """
    if comparison.new_seeds is None:
        return None
    draws = _noise_draws(comparison, n_draws, seed)
    tail = (1 - check_open_unit(confidence, "confidence")) / 2
    low, high = (
        minimum_detectable_difference(draws.quantile(q), design, alpha, target_power)
        for q in (tail, 1 - tail)
    )
    median = minimum_detectable_difference(draws, design, alpha, target_power)
    largest = Rates(comparison.rate_a, comparison.rate_b).largest_possible
    if design.n_seeds < FEWEST_SIZED_SEEDS:
        return Undetectable(
            f"with {design.n_seeds} seeds per fine-tuned condition the training noise has "
            f"{design.n_seeds - 1} degree of freedom: no reachable difference has {target_power:.0%} power; "
            "add seeds",
            largest,
        )
    if math.isinf(median):
        return Undetectable(
            f"with {design.n_seeds} seeds and {design.n_prompts} prompts no difference up to the largest "
            f"possible ({largest:.3g}, from B's {comparison.rate_b:.3g} to "
            f"{'1' if comparison.rate_b <= 0.5 else '0'}) has {target_power:.0%} power; add seeds",
            largest,
        )
    return Sizing(median, low, min(high, largest), largest)


def seeds_needed(
    comparison: Comparison,
    differences: Sequence[float],
    n_prompts: int,
    alpha: float = 0.05,
    target_power: float = 0.8,
    max_seeds: int = 50,
    seed: int = 0,
) -> list[int | None]:
    """For each difference, the fewest seeds per fine-tuned condition (>= 2) whose MDD (as sizing) reaches it.

    None past max_seeds (or for every difference when the comparison has no for-new-seeds answer).
    """
    if any(check_finite(d, "difference") <= 0 for d in differences):
        raise ValueError("differences must be positive")
    if comparison.new_seeds is None:
        return [None] * len(differences)
    draws = _noise_draws(comparison, SIZING_DRAWS, seed)
    max_seeds = check_count(max_seeds, "max_seeds", minimum=2)

    @cache
    def mdd(n_seeds: int) -> float:  # inf when nothing reachable is detectable
        return minimum_detectable_difference(draws, Design(n_seeds, n_prompts), alpha, target_power)

    def fewest(difference: float) -> int | None:
        """Bisection: the MDD falls as seeds are added, so the fewest sufficient count is a boundary."""
        if mdd(max_seeds) > difference:
            return None
        low, high = 2, max_seeds  # mdd(high) <= difference throughout
        while low < high:
            middle = (low + high) // 2
            low, high = (low, middle) if mdd(middle) <= difference else (middle + 1, high)
        return high

    return [fewest(d) for d in differences]
