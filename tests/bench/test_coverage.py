"""The fast slice of bench/coverage.py: every interval the dashboard shows covers, every p-value holds its
level, every reported MDD is detected about as often as promised, in the designs where the earlier
statistics failed. A broken promise fails `make test`.

800 replications per scenario (4.5 minutes on a 2-core machine, a process per core): a method with true
coverage 0.95 then lands below 0.92 with probability about 1e-4 (3.9 Monte-Carlo SEs), and one with type-I
error 0.05 above 0.08 as rarely. The seed is fixed. The measures beside the harm rate (capability near the
ceiling, refusal-prefix scores) run a slice of their own at 400 replications (about a minute), held to the
same bounds.
"""

import pytest

from bench.coverage import FAST, MEASURES_FAST, failures, run

pytestmark = pytest.mark.slow


def test_the_fast_slice_keeps_every_promise() -> None:
    rows = run(FAST, reps=800, seed=20261128, n_permutations=999)
    assert {scenario for scenario, *_ in rows} == set(FAST)
    quantities = {quantity for _, quantity, *_ in rows}
    assert {
        "difference for new seeds",
        "seed-aware p for new seeds",
        "seed ICC",
        "power at each reported MDD (target 0.80)",
    } <= quantities
    rates = {(scenario, quantity, kind): rate for scenario, quantity, kind, rate, *_ in rows}
    # Issue 14's mends, one scenario each (failures() holds their floors and ceilings): two unpaired arms'
    # interval within 1.8 oracle widths, the MDD after a null pilot detected at least 72% of the time, and
    # with two seeds the seed intervals cover and no MDD is shown.
    assert ("48p-3s-sd0.8-k1-unpaired", "difference for new seeds", "width / oracle") in rates
    assert ("48p-3s-sd0.3-k1-null", "power at each reported MDD (target 0.80)", "rejects") in rates
    withheld = "MDD withheld (no reachable difference has 80% power)"
    assert rates["48p-2s-sd0.3-k1", withheld, "share"] == 1.0
    # An evaluation-only condition against its source: paired on checkpoints, its interval must still count
    # the seed x setting interaction (the given-checkpoints variance alone would undercover).
    assert ("48p-2s-sd0.8-k1-evaluation-sxe0.3", "difference for new seeds", "coverage") in rates
    assert failures(rows) == []


def test_the_measures_slice_keeps_every_promise() -> None:
    rows = run(MEASURES_FAST, reps=400, seed=20261128, n_permutations=999)
    assert {scenario for scenario, *_ in rows} == set(MEASURES_FAST)
    quantities = {quantity for _, quantity, *_ in rows}
    # A capability run's rate is a Wilson interval on verdicts, a refusal-prefix run's mean a t interval.
    assert {
        "run rate (Wilson, prompt-clustered)",
        "run mean score (t, prompt-clustered)",
        "condition rate given checkpoints",
        "difference given checkpoints",
        "difference for new seeds",
        "seed-aware p for new seeds",
    } <= quantities
    assert failures(rows) == []
