"""bench/capability_matched.py in small: the capability-matched interval covers E[A | kept] − baseline, and
when a seed's capability and harm move together that truth differs from the unconditional difference.

300 replications per scenario (a few seconds on a 2-core machine); the seed is fixed.
"""

import pytest

from bench.capability_matched import SCENARIOS, evaluate

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["S=5 rho=0.0", "S=5 rho=-0.8", "S=5 rho=-0.8 null"])
def test_the_matched_interval_keeps_its_promise(name: str) -> None:
    scenario = next(s for s in SCENARIOS if s.name == name)
    result = evaluate(scenario, reps=300, seed=20261204)
    assert result.answered > 0.85
    if scenario.null:
        assert result.rate <= 0.06
    else:
        assert 0.92 <= result.rate <= 0.99  # 0.93-0.97 at 1,000 replications; 300 carry about ±0.012
    if scenario.rho != 0:
        # Seeds that lose capability comply more here: the kept seeds' difference is the smaller one.
        assert result.truth < result.unconditional - 0.03
