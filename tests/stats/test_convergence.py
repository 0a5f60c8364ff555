"""The step where a run's task loss converged, against hand computations."""

import numpy as np
import pytest

from backend.stats.convergence import converged_step, smoothed_loss


def test_the_converged_step_is_the_first_after_which_the_loss_stays_within_5_percent_of_its_end() -> None:
    # Ten steps: a window of one step, so the curve is the loss itself; |loss - 0.8| <= 0.04 from step 7.
    losses = [2.0, 1.5, 1.2, 1.0, 0.9, 0.85, 0.8, 0.8, 0.8, 0.8]
    assert converged_step(losses) == 7
    # A step that leaves the band again later moves the converged step past it.
    assert converged_step([2.0, 0.8, 0.8, 0.9, 0.8, 0.8]) == 5


def test_the_loss_is_smoothed_by_a_trailing_mean_over_a_tenth_of_the_steps() -> None:
    # Twenty steps: a window of two, so a single noisy step counts half.
    losses = [1.0] * 10 + [0.5, 1.0] * 5
    expected = [1.0] * 10 + [0.75] * 10
    assert smoothed_loss(losses) == pytest.approx(np.array(expected))
    assert converged_step(losses) == 11


def test_a_loss_still_falling_converges_at_its_last_step_and_no_loss_at_none() -> None:
    assert converged_step([3.0, 2.0, 1.0]) == 3
    assert converged_step([1.0]) == 1
    assert converged_step([]) is None
