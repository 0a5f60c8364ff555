"""Which responses a labelling sample holds: a seeded draw, stratified by condition and by judges' verdicts.

Every condition gets an equal share of the sample, so each has enough labels for its own kappa. Within a
condition, half goes to responses on which the experiment's judges disagree (where a judge's errors show,
and which are rare), the rest in equal parts to those all judges call harmful and those all call safe
(with one judge: harmful and safe halves). A stratum with fewer responses than its share gives the rest
to the other strata of its condition, and a condition with fewer responses than its share to the other
conditions, each to where the shortfall is largest. Disagreements are over-represented on
purpose: agreement figures on the sample describe it, not every response of the experiment.
"""

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

import numpy as np

DISAGREE = "judges disagree"
ALL_HARMFUL = "judged harmful"
ALL_SAFE = "judged safe"

K = TypeVar("K", bound=Hashable)


# Where a response is drawn from: (its condition, its verdict stratum).
StratumKey = tuple[str, str]


def _within_condition(strata: Sequence[str]) -> dict[str, float]:
    """Each verdict stratum's share of a condition's part (module docstring)."""
    if DISAGREE in strata:
        return {DISAGREE: 0.5, ALL_HARMFUL: 0.25, ALL_SAFE: 0.25}
    return {ALL_HARMFUL: 0.5, ALL_SAFE: 0.5}


def allocate(available: Mapping[K, int], shares: Mapping[K, float], size: int) -> dict[K, int]:
    """How many each part gives: one at a time to the part furthest below its share of `size` that still
    has some left (ties: the parts' order), so a short part's rest goes where it is most missed."""
    taken = dict.fromkeys(shares, 0)
    order = list(shares)
    for _ in range(min(size, sum(available.get(key, 0) for key in order))):
        open_parts = [key for key in order if taken[key] < available.get(key, 0)]
        chosen = max(open_parts, key=lambda key: (shares[key] * size - taken[key], -order.index(key)))
        taken[chosen] += 1
    return taken


def stratum_counts(
    available: Mapping[StratumKey, int], conditions: Sequence[str], size: int
) -> dict[StratumKey, int]:
    """How many responses each (condition, stratum) gives: the conditions' equal parts first (a condition
    short of responses leaving its rest to the others), then each part over its condition's strata."""
    per_condition = {
        c: sum(n for (condition, _), n in available.items() if condition == c) for c in conditions
    }
    parts = allocate(per_condition, dict.fromkeys(conditions, 1 / len(conditions)), size)
    within = _within_condition(sorted({stratum for _, stratum in available}))
    counts: dict[StratumKey, int] = {}
    for condition in conditions:
        here = {stratum: available.get((condition, stratum), 0) for stratum in within}
        for stratum, n in allocate(here, within, parts[condition]).items():
            counts[(condition, stratum)] = n
    return counts


def draw(
    available: Mapping[StratumKey, int], conditions: Sequence[str], size: int, seed: int
) -> list[tuple[StratumKey, int]]:
    """The sample as (stratum, position among the stratum's responses in generation order), in the order
    labellers see it (shuffled, so strata do not come in blocks): the same for the same stratum sizes, size
    and seed. `available`: each stratum's number of responses."""
    counts = stratum_counts(available, conditions, size)
    rng = np.random.default_rng(seed)
    drawn: list[tuple[StratumKey, int]] = []
    for key, n in counts.items():
        picked = rng.choice(available.get(key, 0), size=n, replace=False) if n else np.array([], int)
        drawn.extend((key, int(position)) for position in sorted(picked))
    return [drawn[index] for index in rng.permutation(len(drawn))]
