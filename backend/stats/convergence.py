"""When a run's task loss converged: the step its erosion curve marks (docs/statistics.md, "The erosion
curve")."""

import math
from collections.abc import Sequence

import numpy as np

# The loss is smoothed by a trailing mean over this share of the steps (at least one step)...
SMOOTHING_SHARE = 0.1
# ...and has converged from the first step after which the smoothed loss stays within this share of its
# final value.
CONVERGED_WITHIN = 0.05


def smoothed_loss(losses: Sequence[float]) -> np.ndarray:
    """The trailing mean of the loss over the last ceil(10% of the steps) steps (fewer at the start)."""
    window = max(1, math.ceil(SMOOTHING_SHARE * len(losses)))
    sums = np.cumsum(np.asarray(losses, dtype=float))
    steps = np.arange(1, len(losses) + 1)
    starts = np.maximum(steps - window, 0)
    previous = np.concatenate([[0.0], sums])[starts]
    return np.asarray((sums - previous) / (steps - starts))


def converged_step(losses: Sequence[float]) -> int | None:
    """The first step (1-based) from which the smoothed loss stays within 5% of its final value; None
    without losses. A loss still falling at the end converges at the last step."""
    if not losses:
        return None
    curve = smoothed_loss(losses)
    final = curve[-1]
    outside = np.flatnonzero(np.abs(curve - final) > CONVERGED_WITHIN * abs(final))
    # The final value is within reach of itself: the step after the last one outside is one of the run's.
    return int(outside[-1]) + 2 if len(outside) else 1
