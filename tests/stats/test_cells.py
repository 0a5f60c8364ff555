import numpy as np
import pytest

from backend.stats.cells import Cells


def test_arrays_are_read_only_int64_copies() -> None:
    harmful = np.array([1, 0])
    cells = Cells(seed=[0, 1], prompt=[5, 5], harmful=harmful, scored=[2, 3])
    harmful[0] = 2
    assert cells.harmful.tolist() == [1, 0]
    assert cells.seed.dtype == np.int64
    with pytest.raises(ValueError, match="read-only"):
        cells.scored[0] = 9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": [0, 1], "prompt": [0], "harmful": [0, 0], "scored": [1, 1]}, "same length"),
        ({"seed": [0], "prompt": [0], "harmful": [2], "scored": [1]}, "harmful <= scored"),
        ({"seed": [0], "prompt": [0], "harmful": [-1], "scored": [1]}, "harmful <= scored"),
        ({"seed": [0, 0], "prompt": [3, 3], "harmful": [0, 1], "scored": [1, 1]}, "one cell per"),
        ({"seed": [0.5], "prompt": [0], "harmful": [0], "scored": [1]}, "integers"),
        ({"seed": [], "prompt": [], "harmful": [], "scored": []}, "non-empty"),
        ({"seed": [[0]], "prompt": [[0]], "harmful": [[0]], "scored": [[1]]}, "1-D"),
    ],
)
def test_rejects_invalid_cells(kwargs: dict[str, list[float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Cells(**kwargs)


def test_verdict_counts_are_their_own_sum_of_squares() -> None:
    cells = Cells(seed=[0, 1], prompt=[5, 5], harmful=[1, 0], scored=[2, 3])
    assert cells.binary and cells.sum_squares is cells.harmful


def test_scores_are_float_sums_with_a_sum_of_squares() -> None:
    cells = Cells(seed=[0, 1], prompt=[5, 5], harmful=[0.7, 2.0], scored=[2, 2], sum_squares=[0.25, 2.0])
    assert cells.harmful.dtype == cells.sum_squares.dtype == np.float64 and cells.scored.dtype == np.int64
    assert not cells.binary  # .7 from two scores with squares summing to .25: not 0/1 values
    assert Cells(seed=[0], prompt=[5], harmful=[2.0], scored=[3], sum_squares=[2.0]).binary
    with pytest.raises(ValueError, match="read-only"):
        cells.sum_squares[0] = 1.0


@pytest.mark.parametrize(
    ("harmful", "scored", "sum_squares", "message"),
    [
        ([1.5], [2], [1.6], "sum_squares <= harmful"),  # a square above its value: a score above 1
        ([1.0], [2], [-0.1], "sum_squares <= harmful"),
        ([1.0], [2], [0.4], r"harmful\^2 / scored"),  # two scores summing to 1 have squares >= .5
        ([2.5], [2], [2.5], "harmful <= scored"),
        ([float("nan")], [2], [0.5], "finite"),
        (["a"], [2], [0.5], "numbers"),
    ],
)
def test_rejects_sums_of_squares_no_scores_in_zero_one_give(
    harmful: list[float], scored: list[int], sum_squares: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Cells(seed=[0], prompt=[0], harmful=harmful, scored=scored, sum_squares=sum_squares)


def test_rounding_in_database_sums_is_tolerated() -> None:
    # Ten scores of .3: sum^2 / count = sum of squares = .9, but float sums land a hair on either side.
    cells = Cells(
        seed=[0], prompt=[0], harmful=[3.0000000000000004], scored=[10], sum_squares=[0.8999999999999999]
    )
    assert cells.harmful[0] ** 2 / 10 > cells.sum_squares[0] and not cells.binary


def test_subset_keeps_the_kind_of_cells() -> None:
    counts = Cells(seed=[0, 0, 1], prompt=[1, 2, 1], harmful=[1, 0, 2], scored=[2, 1, 2])
    kept = counts.subset(counts.prompt == 1)
    assert kept.seed.tolist() == [0, 1] and kept.harmful.dtype == np.int64 and kept.binary
    scores = Cells(seed=[0, 1], prompt=[1, 1], harmful=[0.5, 1.0], scored=[2, 2], sum_squares=[0.13, 0.5])
    first = scores.subset([True, False])
    assert first.sum_squares.tolist() == [0.13] and not first.binary
