"""A grid's factors: each one's main effect, answered given these checkpoints and for new seeds.

A main effect of factor F compares two of its levels averaged over the other factors' levels: with the
grid's conditions c and their rates r_c, it is the contrast sum_c w_c r_c with w_c = +1/k where F is at the
level, -1/k where F is at the reference level (its first), 0 elsewhere, k = the number of combinations of the
other factors. Every condition counts equally, as in a balanced factorial analysis.

Given these checkpoints: the prompt-clustered (CR1) variance of the contrast, as backend.stats.compare does
for two conditions (whose contrast has w = (+1, -1)): cell values contribute w_c (harmful - scored r_c) / N_c,
summed per prompt, V_prompt = G / (G - 1) sum of squared prompt totals; t interval with G - 1 df.

For new seeds: a grid's conditions run the same seeds, and the same seed is the same LoRA init, data order
and subset in every condition, so the contrast is paired on seeds as a two-condition comparison is. Its
seed term comes from the seeds x prompts table of the contrast of cell means, sum_c w_c y_c[s, p], exactly
as the paired difference A - B does (backend.stats.compare._paired_noise): V_new = V_prompt + max(0,
w (MS_seed - MS_interaction) / n_prompts), w = sum_s w_s^2 (w_s: seed s's share of a condition's scored
values, averaged over the conditions), and the interval and p-value are generalized
pivots over V_prompt and the two mean squares (Weerahandi 1993). Only the seeds every condition of the
contrast has finished are used for the seed term (a failed run in one condition would otherwise unpair it),
and only the prompts scored under each of them. Across base models (a `base_model` factor) seed s is not the
same draw in every condition; the paired seed term stays unbiased there (independent seed effects add up in
the contrast's seed mean square), with the one term's fewer df rather than a Welch combination.

An interaction is flagged when a factor's effect (last level against the reference) changes sign across the
levels of another factor: the simple effects at each of the other factor's levels, averaged over the rest,
have opposite signs and each of them is at least one standard error (given these checkpoints) from 0. A
sign change inside the noise is not an interaction.
"""

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from backend.stats._checks import check_open_unit
from backend.stats.cells import Cells
from backend.stats.compare import ForNewSeeds, TrainingNoise, new_seeds_variance_draws, seed_weights_squared
from backend.stats.generalized import PIVOT_DRAWS, normal_with_pivotal_variance
from backend.stats.intervals import Interval, t_interval
from backend.stats.variance import cell_tables, table_mean_squares

Level = Hashable
# A grid condition's levels, by factor, in the order of the grid's factors.
Combination = tuple[Level, ...]


@dataclass(frozen=True)
class GivenCheckpointsInterval:
    """Evaluation noise only, prompt-clustered; no test (the verdict uses the answer for new seeds)."""

    se: float
    df: int
    interval: Interval


@dataclass(frozen=True)
class Contrast:
    estimate: float
    n_prompts: int
    given_checkpoints: GivenCheckpointsInterval
    # Paired on seeds, as a two-condition comparison of fine-tuned arms with the same seeds is.
    new_seeds: ForNewSeeds | None
    # Why there is no answer for new seeds; None when there is one.
    new_seeds_withheld: str | None
    # The seeds the seed term was estimated from (finished in every condition of the contrast).
    seeds: int


@dataclass(frozen=True)
class LevelEffect:
    """A factor's level against its reference level, averaged over the other factors."""

    level: Level
    reference: Level
    contrast: Contrast


@dataclass(frozen=True)
class FactorEffect:
    factor: str
    levels: list[Level]
    # The factor's marginal means: each level's mean rate over the other factors' levels.
    level_means: list[float]
    effects: list[LevelEffect]
    # The other factors across whose levels this factor's effect changes sign.
    interacts_with: list[str]


def _rate(cells: Cells) -> float:
    return float(cells.harmful.sum() / cells.scored.sum())


def _prompt_clustered_variance(arms: Sequence[Cells], weights: Sequence[float]) -> tuple[float, int]:
    """V_prompt of sum_c w_c r_c and the number of prompts (NaN with one prompt)."""
    contributions = np.concatenate(
        [w * (c.harmful - c.scored * _rate(c)) / c.scored.sum() for c, w in zip(arms, weights, strict=True)]
    )
    prompts = np.concatenate([c.prompt for c in arms])
    codes = np.unique(prompts, return_inverse=True)[1].reshape(-1)
    totals = np.bincount(codes, weights=contributions)
    g = totals.size
    return (g / (g - 1) * float(totals @ totals) if g > 1 else math.nan), g


def _paired_seed_noise(
    arms: Sequence[Cells], weights: Sequence[float]
) -> tuple[TrainingNoise | None, int, str]:
    """The seed term from the table of weighted cell means, on the seeds and prompts all arms have."""
    seeds = set.intersection(*(set(np.unique(c.seed).tolist()) for c in arms))
    if len(seeds) < 2:
        return (
            None,
            len(seeds),
            "fewer than 2 seeds finished in every condition: training noise cannot be estimated",
        )
    tables = [cell_tables(c) for c in arms]
    prompts = np.unique(np.concatenate([c.prompt for c in arms]))
    chosen = np.array(sorted(seeds))
    contrast = np.zeros((chosen.size, prompts.size))
    complete = np.ones(prompts.size, dtype=bool)
    for table, weight in zip(tables, weights, strict=True):
        rows = np.searchsorted(table.seeds, chosen)
        columns = np.searchsorted(table.prompts, prompts)
        present = np.isin(prompts, table.prompts)
        harmful = np.zeros_like(contrast)
        scored = np.zeros_like(contrast)
        harmful[:, present] = table.harmful[np.ix_(rows, columns[present])]
        scored[:, present] = table.scored[np.ix_(rows, columns[present])]
        complete &= (scored > 0).all(axis=0)
        contrast += weight * np.divide(harmful, scored, out=np.zeros_like(harmful), where=scored > 0)
    if complete.sum() < 2:
        return None, chosen.size, "needs >= 2 prompts scored under every seed of every condition"
    seed_ms, _, interaction_ms = table_mean_squares(contrast[:, complete])
    n_prompts, n_seeds = int(complete.sum()), chosen.size
    noise = TrainingNoise(
        seed_mean_square=seed_ms / n_prompts,
        interaction_mean_square=interaction_ms / n_prompts,
        df_seed=n_seeds - 1,
        df_interaction=(n_seeds - 1) * (n_prompts - 1),
        seed_weight=float(np.mean([seed_weights_squared(c) for c in arms])),
    )
    return noise, n_seeds, ""


def contrast(
    arms: Sequence[Cells], weights: Sequence[float], *, confidence: float = 0.95, pivot_seed: int = 0
) -> Contrast:
    """sum_c w_c r_c over fine-tuned conditions run on the same seeds and prompts (module docstring)."""
    check_open_unit(confidence, "confidence")
    if any(c.scored.sum() == 0 for c in arms):
        raise ValueError("each condition needs at least one scored verdict (or score)")
    estimate = float(sum(w * _rate(c) for c, w in zip(arms, weights, strict=True)))
    v_prompt, g = _prompt_clustered_variance(arms, weights)
    se = math.sqrt(v_prompt)
    given = GivenCheckpointsInterval(se=se, df=g - 1, interval=t_interval(estimate, se, g - 1, confidence))
    noise, seeds, withheld = _paired_seed_noise(arms, weights)
    if noise is None:
        return Contrast(estimate, g, given, None, withheld, seeds)
    added = max(0.0, noise.seed_weight * noise.seed_component)
    draws = new_seeds_variance_draws(v_prompt, g, [noise], PIVOT_DRAWS, np.random.default_rng(pivot_seed))
    test = normal_with_pivotal_variance(estimate, v_prompt + added, draws, confidence)
    new = ForNewSeeds(
        se=math.sqrt(v_prompt + added),
        df=test.df,
        interval=test.interval,
        p_value=test.p_value,
        seed_variance=added,
        paired_seeds=True,
    )
    return Contrast(estimate, g, given, new, None, seeds)


def _weights(
    cells: Mapping[Combination, Cells], index: int, level: Level, reference: Level, fixed: Mapping[int, Level]
) -> tuple[list[Cells], list[float]]:
    """The conditions and weights of level - reference of factor `index`, averaged over the factors not in
    `fixed` (factor index -> level)."""

    def chosen(combination: Combination, at: Level) -> bool:
        return combination[index] == at and all(combination[i] == value for i, value in fixed.items())

    plus = [c for c in cells if chosen(c, level)]
    minus = [c for c in cells if chosen(c, reference)]
    return (
        [cells[c] for c in plus] + [cells[c] for c in minus],
        [1 / len(plus)] * len(plus) + [-1 / len(minus)] * len(minus),
    )


def factor_effects(
    factors: Mapping[str, Sequence[Level]],
    cells: Mapping[Combination, Cells],
    *,
    confidence: float = 0.95,
    pivot_seed: int = 0,
) -> list[FactorEffect]:
    """Each factor's main effects (every level against the first) and the factors it interacts with.

    `cells` holds every combination of the factors' levels (in the factors' order) with its condition's cells.
    """
    names = list(factors)
    expected = set(itertools.product(*factors.values()))
    if set(cells) != expected:
        raise ValueError(
            f"the grid needs every combination of its levels: {len(cells)} of {len(expected)} given"
        )
    effects = []
    for index, name in enumerate(names):
        levels = list(factors[name])
        reference = levels[0]
        level_means = [
            float(np.mean([_rate(c) for combination, c in cells.items() if combination[index] == level]))
            for level in levels
        ]
        level_effects = [
            LevelEffect(
                level,
                reference,
                contrast(
                    *_weights(cells, index, level, reference, {}),
                    confidence=confidence,
                    pivot_seed=pivot_seed,
                ),
            )
            for level in levels[1:]
        ]
        interacts = [
            other
            for other_index, other in enumerate(names)
            if other_index != index and _changes_sign(cells, index, levels, other_index, factors[other])
        ]
        effects.append(FactorEffect(name, levels, level_means, level_effects, interacts))
    return effects


def _changes_sign(
    cells: Mapping[Combination, Cells],
    index: int,
    levels: Sequence[Level],
    other_index: int,
    other_levels: Sequence[Level],
) -> bool:
    """Whether the effect of factor `index` (last level - reference) has opposite signs, each at least one
    standard error from 0, at two levels of factor `other_index`."""
    signs = set()
    for other_level in other_levels:
        arms, weights = _weights(cells, index, levels[-1], levels[0], {other_index: other_level})
        estimate = sum(w * _rate(c) for c, w in zip(arms, weights, strict=True))
        se = math.sqrt(_prompt_clustered_variance(arms, weights)[0])
        if abs(estimate) >= se:
            signs.add(estimate > 0)
    return len(signs) == 2
