"""bench/variance_pivots.py on a few replications: each case decomposed both ways, the dashboard's rule left
as it was, and the rule taking the bootstrap on continuous scores only."""

import backend.stats.variance as variance
from bench.variance_pivots import CASES, evaluate


def test_each_case_is_decomposed_both_ways_and_the_rule_is_restored() -> None:
    rule = variance._takes_bootstrap
    cases = dict(CASES)
    picks = {}
    for name in (
        "refusal-prefix, 48 prompts x 3 seeds, seed SD 0.1",
        "capability at 95%, 60 prompts x 3 seeds",
        "grading judge, mu -4, 48 prompts x 3 seeds x 1 samples",
    ):
        outcomes, picks[name] = evaluate(cases[name], reps=3, seed=1)
        assert set(outcomes) == {"chi-square", "bootstrap"}
        assert all(0 <= o.above <= 1 - o.covers <= 1 for o in outcomes.values())
    assert variance._takes_bootstrap is rule
    assert list(picks.values()) == [1.0, 0.0, 0.0]
