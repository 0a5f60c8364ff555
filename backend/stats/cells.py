"""One condition's values aggregated per (training seed, prompt) cell: the input most statistics take.

A value is one judgment turned into a number in [0, 1]: a verdict (1 = harmful, 0 = safe) or a judge's
graded score. A cell keeps three sufficient statistics of its values: their sum, their count and the sum of
their squares. The statistics that take Cells need nothing else: the pooled mean is sum / count, the
within-cell variance (sum_squares - sum^2 / count) / (count - 1).

For values in [0, 1], x^2 <= x with equality only at 0 and 1, so sum_squares == sum in a cell exactly when
every value in it is 0 or 1: `Cells.binary` tells the statistics that only make sense for verdicts (Wilson
intervals, majority verdicts) that they may run, whatever built the cells.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

# Float sums of scores come from the database in any order; a sum of squares may then exceed the sum (or
# fall under sum^2 / count) by rounding. Allowed slack, relative to the cell's count.
_ROUNDING = 1e-9


def _one_dimensional(name: str, values: ArrayLike) -> np.ndarray:
    array = np.array(values)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"Cells.{name} must be a non-empty 1-D array, got shape {array.shape}")
    return array


def _integers(name: str, values: ArrayLike) -> np.ndarray:
    array = _one_dimensional(name, values)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"Cells.{name} must hold integers, got dtype {array.dtype}")
    return array.astype(np.int64)


def _reals(name: str, values: ArrayLike) -> np.ndarray:
    array = _one_dimensional(name, values)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"Cells.{name} must hold numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"Cells.{name} must be finite")
    return array


@dataclass(frozen=True, eq=False, init=False)
class Cells:
    """Values of one condition, one entry per (training seed, prompt) cell.

    `harmful` is the sum of the cell's values and `scored` their count, over the cell's k samples and
    repeated evaluations; unscored judgments (and judgments without a score, for scores) are excluded, so a
    cell may have scored == 0. For verdicts `harmful` counts harmful verdicts and `scored` harmful + safe
    ones; for a graded metric `harmful` is the sum of the scores and `scored` the number of scores.
    `sum_squares` is the sum of the squared values: equal to `harmful` for verdicts, so it may be left out
    for them (then `harmful` must hold integer counts). The arrays are copied to read-only arrays (int64
    for seed, prompt and scored; int64 verdict counts, or float64 when sum_squares is given), so a Cells
    value never changes after construction.
    """

    seed: np.ndarray
    prompt: np.ndarray
    harmful: np.ndarray
    scored: np.ndarray
    sum_squares: np.ndarray
    # Every value is 0 or 1 (sum_squares == harmful, integer sums): verdicts, or scores that happen to be.
    binary: bool

    def __init__(
        self,
        seed: ArrayLike,
        prompt: ArrayLike,
        harmful: ArrayLike,
        scored: ArrayLike,
        sum_squares: ArrayLike | None = None,
    ) -> None:
        arrays = {"seed": _integers("seed", seed), "prompt": _integers("prompt", prompt)}
        if sum_squares is None:
            arrays["harmful"] = _integers("harmful", harmful)
        else:
            arrays["harmful"] = _reals("harmful", harmful)
        arrays["scored"] = _integers("scored", scored)
        arrays["sum_squares"] = (
            arrays["harmful"] if sum_squares is None else _reals("sum_squares", sum_squares)
        )
        for name, array in arrays.items():
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        lengths = {len(array) for array in arrays.values()}
        if len(lengths) != 1:
            raise ValueError(f"Cells arrays must have the same length, got lengths {sorted(lengths)}")
        if (self.harmful < 0).any() or (self.harmful > self.scored).any():
            raise ValueError("Cells need 0 <= harmful <= scored in every cell")
        if sum_squares is not None:
            self._check_sum_squares()
        binary = np.array_equal(self.sum_squares, self.harmful) and bool(
            (self.harmful == np.round(self.harmful)).all()
        )
        object.__setattr__(self, "binary", binary)
        # Sorted by (seed, prompt), a repeated pair sits next to its twin (faster than np.unique(axis=0)).
        order = np.lexsort((self.prompt, self.seed))
        seed, prompt = self.seed[order], self.prompt[order]
        if ((seed[1:] == seed[:-1]) & (prompt[1:] == prompt[:-1])).any():
            raise ValueError("Cells must have at most one cell per (seed, prompt) pair; aggregate duplicates")

    def _check_sum_squares(self) -> None:
        """Values in [0, 1] have sum^2 / count <= sum of squares <= sum (Cauchy-Schwarz; x^2 <= x)."""
        slack = _ROUNDING * np.maximum(self.scored, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            floor = np.where(self.scored > 0, self.harmful**2 / self.scored, 0.0)
        if (self.sum_squares < 0).any() or (self.sum_squares > self.harmful + slack).any():
            raise ValueError(
                "Cells need 0 <= sum_squares <= harmful in every cell: values must lie in [0, 1]"
            )
        if (self.sum_squares < floor - slack).any():
            raise ValueError(
                "Cells need sum_squares >= harmful^2 / scored in every cell: not a sum of squares"
            )

    def subset(self, mask: ArrayLike) -> "Cells":
        """The cells where the boolean `mask` is true (e.g. the prompts two conditions share)."""
        keep = np.asarray(mask, dtype=bool)
        return Cells(
            self.seed[keep],
            self.prompt[keep],
            self.harmful[keep],
            self.scored[keep],
            None if self.sum_squares is self.harmful else self.sum_squares[keep],
        )
