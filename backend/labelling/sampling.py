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
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

DISAGREE = "judges disagree"
ALL_HARMFUL = "judged harmful"
ALL_SAFE = "judged safe"

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Candidate:
    """A response that may be drawn: its generation, its condition and what its judges said."""

    generation_id: int
    condition: str
    stratum: str


def stratum_of(verdicts: Sequence[str]) -> str | None:
    """The verdict stratum of a response from its judges' scored verdicts; None when none scored it."""
    distinct = set(verdicts)
    if not distinct:
        return None
    if len(distinct) > 1:
        return DISAGREE
    return ALL_HARMFUL if distinct == {"harmful"} else ALL_SAFE


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
    available: Mapping[tuple[str, str], int], conditions: Sequence[str], size: int
) -> dict[tuple[str, str], int]:
    """How many responses each (condition, stratum) gives: the conditions' equal parts first (a condition
    short of responses leaving its rest to the others), then each part over its condition's strata."""
    per_condition = {
        c: sum(n for (condition, _), n in available.items() if condition == c) for c in conditions
    }
    parts = allocate(per_condition, dict.fromkeys(conditions, 1 / len(conditions)), size)
    within = _within_condition(sorted({stratum for _, stratum in available}))
    counts: dict[tuple[str, str], int] = {}
    for condition in conditions:
        here = {stratum: available.get((condition, stratum), 0) for stratum in within}
        for stratum, n in allocate(here, within, parts[condition]).items():
            counts[(condition, stratum)] = n
    return counts


def draw(candidates: Sequence[Candidate], conditions: Sequence[str], size: int, seed: int) -> list[Candidate]:
    """The sample, in the order labellers see it (shuffled, so strata do not come in blocks): the same for
    the same candidates, size and seed."""
    by_stratum: dict[tuple[str, str], list[Candidate]] = {}
    for candidate in sorted(candidates, key=lambda c: c.generation_id):
        by_stratum.setdefault((candidate.condition, candidate.stratum), []).append(candidate)
    counts = stratum_counts({key: len(members) for key, members in by_stratum.items()}, conditions, size)
    rng = np.random.default_rng(seed)
    drawn: list[Candidate] = []
    for key in counts:
        members = by_stratum.get(key, [])
        picked = (
            rng.choice(len(members), size=counts[key], replace=False) if counts[key] else np.array([], int)
        )
        drawn.extend(members[index] for index in sorted(picked))
    return [drawn[index] for index in rng.permutation(len(drawn))]
