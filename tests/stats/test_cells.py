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
