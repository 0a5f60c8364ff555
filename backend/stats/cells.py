"""One condition's verdicts aggregated per (training seed, prompt) cell: the input most statistics take."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True, eq=False, init=False)
class Cells:
    """Verdict counts of one condition, one entry per (training seed, prompt) cell.

    `harmful` counts harmful verdicts and `scored` counts harmful + safe verdicts over the cell's k samples
    and repeated evaluations; unscored verdicts are excluded (a cell may have scored == 0). The arrays are
    copied to read-only int64 arrays, so a Cells value never changes after construction.
    """

    seed: np.ndarray
    prompt: np.ndarray
    harmful: np.ndarray
    scored: np.ndarray

    def __init__(self, seed: ArrayLike, prompt: ArrayLike, harmful: ArrayLike, scored: ArrayLike) -> None:
        for name, values in (("seed", seed), ("prompt", prompt), ("harmful", harmful), ("scored", scored)):
            array = np.array(values)
            if array.ndim != 1 or array.size == 0:
                raise ValueError(f"Cells.{name} must be a non-empty 1-D array, got shape {array.shape}")
            if not np.issubdtype(array.dtype, np.integer):
                raise ValueError(f"Cells.{name} must hold integers, got dtype {array.dtype}")
            array = array.astype(np.int64)
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        lengths = {len(self.seed), len(self.prompt), len(self.harmful), len(self.scored)}
        if len(lengths) != 1:
            raise ValueError(f"Cells arrays must have the same length, got lengths {sorted(lengths)}")
        if (self.harmful < 0).any() or (self.harmful > self.scored).any():
            raise ValueError("Cells need 0 <= harmful <= scored in every cell")
        # Sorted by (seed, prompt), a repeated pair sits next to its twin (faster than np.unique(axis=0)).
        order = np.lexsort((self.prompt, self.seed))
        seed, prompt = self.seed[order], self.prompt[order]
        if ((seed[1:] == seed[:-1]) & (prompt[1:] == prompt[:-1])).any():
            raise ValueError("Cells must have at most one cell per (seed, prompt) pair; aggregate duplicates")
