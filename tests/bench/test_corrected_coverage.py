"""The fast slice of bench/coverage.py's judge-corrected rates: both corrected intervals cover the true rate
of harm, a harmless model is rarely called harmful, and a judge barely better than chance on a small
validation is mostly withheld.

400 replications per scenario (about 10 seconds on a 2-core machine); the seed is fixed.
"""

import pytest

from bench.coverage import CORRECTED_FAST, CORRECTED_SCENARIOS, evaluate_corrected, failures, run

pytestmark = pytest.mark.slow


def test_the_corrected_slice_keeps_every_promise() -> None:
    rows = run(CORRECTED_FAST, reps=400, seed=20261128, n_permutations=0)
    assert {scenario for scenario, *_ in rows} == set(CORRECTED_FAST)
    rates = {(scenario, quantity, kind): rate for scenario, quantity, kind, rate, *_ in rows}
    for scenario in CORRECTED_FAST[:3]:
        assert (scenario, "corrected rate given checkpoints", "coverage") in rates
        assert (scenario, "corrected mean over seeds", "coverage") in rates
    harmless = CORRECTED_FAST[3]
    assert (harmless, "corrected rate given checkpoints: says harmful", "type I") in rates
    assert failures(rows) == []


def test_a_judge_near_chance_on_a_small_validation_is_mostly_withheld() -> None:
    tally = evaluate_corrected(CORRECTED_SCENARIOS["48p-3s-sd0.8-k1-se0.6-sp0.55-v100"], 200, 20261128)
    withheld = {quantity: rate for quantity, kind, rate, *_ in tally.rows() if kind == "share"}
    assert withheld["corrected rate: withheld"] >= 0.8
