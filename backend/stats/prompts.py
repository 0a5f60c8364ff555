"""Per-prompt consistency across training seeds: flip rate and stability index.

For one prompt in one condition:
- each seed's majority verdict is harmful when more than half of its scored verdicts are harmful, safe when
  fewer than half are, and tied (no majority) at exactly half; seeds without scored verdicts are skipped;
- the prompt flips when some seed's majority is harmful and another's is safe;
- flip rate = share of pairs of seeds with a majority whose majorities disagree
  = n_harmful_seeds * n_safe_seeds / C(n_harmful_seeds + n_safe_seeds, 2); NaN with fewer than 2 such seeds;
- stability index = share of all the prompt's scored verdicts (every seed and sample) equal to its overall
  majority verdict = max(harmful, safe) / scored, in [0.5, 1]; NaN without scored verdicts.
Majorities need verdicts: graded scores (cells that are not binary) have none, and are refused.
"""

from dataclasses import dataclass

import numpy as np

from backend.stats.cells import Cells


@dataclass(frozen=True, eq=False)
class PromptStability:
    """Per-prompt arrays, aligned with `prompt` (sorted prompt labels)."""

    prompt: np.ndarray
    rate: np.ndarray  # harmful / scored over all seeds and samples; NaN without scored verdicts
    n_scored: np.ndarray
    n_harmful_seeds: np.ndarray
    n_safe_seeds: np.ndarray
    n_tied_seeds: np.ndarray
    flips: np.ndarray
    flip_rate: np.ndarray
    stability: np.ndarray


def prompt_stability(cells: Cells) -> PromptStability:
    """Flip rate across seeds and stability index of every prompt of one condition, vectorized."""
    if not cells.binary:
        raise ValueError(
            "flip rate and stability count majority verdicts: they need harmful / safe verdicts, not graded "
            "scores"
        )
    prompts, index = np.unique(cells.prompt, return_inverse=True)

    def per_prompt(values: np.ndarray) -> np.ndarray:
        return np.bincount(index, weights=values, minlength=prompts.size).astype(np.int64)

    twice_harmful = 2 * cells.harmful  # compare 2h with s to avoid float rates at exactly one half
    harmful_seeds = per_prompt(twice_harmful > cells.scored)
    safe_seeds = per_prompt(twice_harmful < cells.scored)
    tied_seeds = per_prompt((twice_harmful == cells.scored) & (cells.scored > 0))
    harmful, scored = per_prompt(cells.harmful), per_prompt(cells.scored)
    voters = harmful_seeds + safe_seeds
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = harmful / scored
        flip_rate = np.where(voters >= 2, harmful_seeds * safe_seeds / (voters * (voters - 1) / 2), np.nan)
        stability = np.maximum(harmful, scored - harmful) / scored
    return PromptStability(
        prompt=prompts,
        rate=rate,
        n_scored=scored,
        n_harmful_seeds=harmful_seeds,
        n_safe_seeds=safe_seeds,
        n_tied_seeds=tied_seeds,
        flips=(harmful_seeds > 0) & (safe_seeds > 0),
        flip_rate=flip_rate,
        stability=stability,
    )
