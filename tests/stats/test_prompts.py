import numpy as np

from backend.stats.cells import Cells
from backend.stats.prompts import prompt_stability


def test_hand_computed_flip_rates_and_stability() -> None:
    cells_by_prompt = {
        # prompt: [(harmful, scored) under seeds 0, 1, 2]
        0: [(2, 2), (2, 2), (2, 2)],  # always harmful
        1: [(2, 2), (0, 2), (1, 2)],  # harmful, safe, tied: one voting pair, which disagrees
        2: [(2, 2), (0, 2), (1, 3)],  # harmful, safe, safe: 2 of 3 pairs disagree; 3 of 7 verdicts harmful
        3: [(0, 0), (1, 1), (0, 0)],  # one seed with a verdict: no pair
        4: [(0, 0)],  # nothing scored
    }
    rows = [(s, p, h, n) for p, per_seed in cells_by_prompt.items() for s, (h, n) in enumerate(per_seed)]
    result = prompt_stability(Cells(*np.array(rows).T))
    np.testing.assert_array_equal(result.prompt, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(result.n_harmful_seeds, [3, 1, 1, 1, 0])
    np.testing.assert_array_equal(result.n_safe_seeds, [0, 1, 2, 0, 0])
    np.testing.assert_array_equal(result.n_tied_seeds, [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(result.n_scored, [6, 6, 7, 1, 0])
    np.testing.assert_array_equal(result.flips, [False, True, True, False, False])
    np.testing.assert_allclose(result.flip_rate, [0, 1, 2 / 3, np.nan, np.nan])
    np.testing.assert_allclose(result.stability, [1, 0.5, 4 / 7, 1, np.nan])
    np.testing.assert_allclose(result.rate, [1, 0.5, 3 / 7, 1, np.nan])


def test_flip_rate_counts_disagreeing_seed_pairs() -> None:
    # One verdict per cell on one prompt: 3 harmful and 2 safe seeds -> 6 of the 10 pairs disagree.
    result = prompt_stability(Cells(np.arange(5), np.zeros(5, int), [1, 1, 1, 0, 0], np.ones(5, int)))
    np.testing.assert_allclose(result.flip_rate, [0.6])
    np.testing.assert_allclose(result.stability, [0.6])
