"""The labelling sample's draw: equal shares per condition, half of each where the judges disagree, short
strata made up by the others, and the same sample for the same seed."""

from collections import Counter

from backend.labelling.sampling import ALL_HARMFUL, ALL_SAFE, DISAGREE, draw


def test_each_condition_gets_an_equal_share_half_of_it_where_the_judges_disagree() -> None:
    available = {(c, s): 100 for c in ("base", "tuned") for s in (DISAGREE, ALL_HARMFUL, ALL_SAFE)}
    sample = draw(available, ["base", "tuned"], 40, seed=3)
    counts = Counter(stratum for stratum, _ in sample)
    assert counts == {
        ("base", DISAGREE): 10, ("base", ALL_HARMFUL): 5, ("base", ALL_SAFE): 5,
        ("tuned", DISAGREE): 10, ("tuned", ALL_HARMFUL): 5, ("tuned", ALL_SAFE): 5,
    }  # fmt: skip
    assert len(set(sample)) == 40


def test_a_short_stratum_is_made_up_by_the_others_and_every_response_is_drawn_at_most_once() -> None:
    # The baseline almost never draws a disagreement; the fine-tune has few responses judged safe.
    available = {
        ("base", DISAGREE): 2, ("base", ALL_HARMFUL): 30, ("base", ALL_SAFE): 30,
        ("tuned", DISAGREE): 30, ("tuned", ALL_HARMFUL): 30, ("tuned", ALL_SAFE): 1,
    }  # fmt: skip
    sample = draw(available, ["base", "tuned"], 40, seed=0)
    counts = Counter(stratum for stratum, _ in sample)
    assert len(sample) == 40 and len(set(sample)) == 40
    assert all(0 <= position < available[stratum] for stratum, position in sample)
    assert counts[("base", DISAGREE)] == 2 and counts[("tuned", ALL_SAFE)] == 1
    assert sum(n for (condition, _), n in counts.items() if condition == "base") == 20
    assert sum(n for (condition, _), n in counts.items() if condition == "tuned") == 20


def test_the_same_seed_draws_the_same_sample_in_the_same_order_and_another_seed_another() -> None:
    available = {(c, s): 50 for c in ("base", "tuned") for s in (ALL_HARMFUL, ALL_SAFE)}
    first = draw(available, ["base", "tuned"], 20, seed=7)
    assert draw(dict(reversed(available.items())), ["base", "tuned"], 20, seed=7) == first
    assert draw(available, ["base", "tuned"], 20, seed=8) != first
    # The order is shuffled: the strata do not come in blocks.
    assert [condition for (condition, _), _ in first] != sorted(condition for (condition, _), _ in first)
