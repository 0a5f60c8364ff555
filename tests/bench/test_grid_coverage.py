"""The fast slice of bench/grid_coverage.py: a grid's main-effect intervals cover and its p-value holds its
level (a null 2 x 2, a 3 x 2 with 2 seeds, an interacting 2 x 2). 600 replications, fixed seed."""

import pytest

from bench.coverage import failures
from bench.grid_coverage import FAST, run

pytestmark = pytest.mark.slow


def test_the_grid_slice_keeps_every_promise() -> None:
    rows = run(FAST, reps=600, seed=20261203)
    assert {scenario for scenario, *_ in rows} == set(FAST)
    quantities = {quantity for _, quantity, *_ in rows}
    assert {
        "main effect of factor 0 for new seeds",
        "main effect of factor 0 given checkpoints",
    } <= quantities
    assert failures(rows) == []
