"""Multiple-comparison adjustment of p-values across many comparisons."""

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike


def adjust_pvalues(pvalues: ArrayLike, method: Literal["holm", "bh"]) -> np.ndarray:
    """Adjusted p-values in the input order.

    "holm": family-wise error control (Holm 1979), step-down max of (m - i + 1) p_(i).
    "bh": false discovery rate control (Benjamini & Hochberg 1995), step-up min of m p_(i) / i.
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1 or not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("pvalues must be a 1-D array of numbers in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adjusted = np.maximum.accumulate((m - np.arange(m)) * ranked)
    elif method == "bh":
        adjusted = np.minimum.accumulate((m * ranked / np.arange(1, m + 1))[::-1])[::-1]
    else:
        raise ValueError(f"method must be 'holm' or 'bh', got {method!r}")
    result = np.empty(m)
    result[order] = np.minimum(adjusted, 1.0)
    return result
