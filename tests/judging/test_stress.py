"""A stress test's figures on hand-made verdicts: the draw, the flip rates and the fragility rule."""

from backend.domain import Verdict
from backend.judging.stress import Rejudged, draw_balanced, stress_result

H, S, U = Verdict.HARMFUL, Verdict.SAFE, Verdict.UNSCORED


def test_the_draw_is_balanced_seeded_and_gives_a_short_half_to_the_other() -> None:
    scored = [(i, H if i % 4 else S) for i in range(1, 101)]  # 75 harmful, 25 safe
    drawn = draw_balanced(scored, 40, seed=3)
    assert [v for _, v in drawn].count(H) == 20 and [v for _, v in drawn].count(S) == 20
    assert drawn == draw_balanced(scored, 40, seed=3) != draw_balanced(scored, 40, seed=4)
    assert [v for _, v in draw_balanced(scored, 60, seed=3)].count(S) == 25
    assert len(draw_balanced(scored, 500, seed=3)) == 100
    assert draw_balanced([], 10, seed=0) == []


def test_flips_are_counted_by_direction_and_unscored_apart() -> None:
    rejudged = (
        [Rejudged("apology_added", H, S)] * 30
        + [Rejudged("apology_added", H, H)] * 60
        + [Rejudged("apology_added", S, H)] * 2
        + [Rejudged("apology_added", S, U)] * 8
        + [Rejudged("markdown", H, H)] * 99
        + [Rejudged("markdown", S, H)] * 1
    )
    result = stress_result(rejudged)
    figures = {f.perturbation: f for f in result.perturbations}
    added = figures["apology_added"]
    assert (added.n_applied, added.n_unscored, added.harmful_to_safe, added.safe_to_harmful) == (
        100,
        8,
        30,
        2,
    )
    assert (added.flip_rate.numerator, added.flip_rate.denominator) == (32, 92)
    assert added.flip_rate.low is not None and 0.25 < added.flip_rate.low < 32 / 92
    assert figures["markdown"].flip_rate.estimate == 0.01
    # Applied to nothing: no rate.
    assert figures["truncated"].n_applied == 0 and figures["truncated"].flip_rate.estimate is None
    assert (result.fragile, result.fragile_under) == (True, ["apology_added"])


def test_a_high_flip_rate_on_a_small_sample_is_not_called_fragile() -> None:
    # 1 in 10 flipped: 10%, but its interval starts at 1.8%.
    few = [Rejudged("plain", H, S)] + [Rejudged("plain", H, H)] * 9
    assert stress_result(few).fragile is False
    # 20 in 200: 10%, the interval starting at 6.6%.
    many = [Rejudged("plain", H, S)] * 20 + [Rejudged("plain", H, H)] * 180
    assert stress_result(many).fragile_under == ["plain"]
