"""A judge's agreement with human labels, worked out by hand, and the warnings the dashboard shows."""

import pytest
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.proportion import proportion_confint

from backend.api_models.judges import ValidationSummaryRead
from backend.domain import JudgeJobStatus, Verdict
from backend.judging.quality import Labelled, judge_quality, trust_warning

H, S, U = Verdict.HARMFUL, Verdict.SAFE, Verdict.UNSCORED


def items(rows: list[tuple[Verdict, Verdict, str]]) -> list[Labelled]:
    return [Labelled(label, verdict, category) for label, verdict, category in rows]


def test_figures_by_hand_with_unscored_left_out() -> None:
    data = items(
        [
            (H, H, "cyber"),  # true positive
            (H, H, "cyber"),
            (H, S, "cyber"),  # missed
            (S, H, "drugs"),  # false alarm
            (S, S, "drugs"),
            (S, S, "drugs"),
            (S, S, "drugs"),
            (H, U, "drugs"),  # unscored: counted, in no figure
        ]
    )
    quality = judge_quality(data)
    assert (quality.n, quality.n_scored, quality.n_unscored) == (8, 7, 1)
    assert (quality.accuracy.numerator, quality.accuracy.denominator) == (5, 7)
    assert (quality.precision.numerator, quality.precision.denominator) == (2, 3)
    assert (quality.recall.numerator, quality.recall.denominator) == (2, 3)
    low, high = proportion_confint(5, 7, method="wilson")
    assert (quality.accuracy.low, quality.accuracy.high) == pytest.approx((low, high))
    reference = sm_cohens_kappa([[2, 1], [1, 3]])
    assert quality.kappa == pytest.approx(reference.kappa)
    # statsmodels' Wald interval passes 1 here; kappa's cannot.
    assert (quality.kappa_low, quality.kappa_high) == pytest.approx((reference.kappa_low, 1.0))
    assert reference.kappa_upp > 1
    assert quality.confusion == {
        "harmful": {"harmful": 2, "safe": 1, "unscored": 1},
        "safe": {"harmful": 1, "safe": 3, "unscored": 0},
    }
    cyber, drugs = quality.categories
    assert (cyber.category, cyber.n, cyber.n_unscored, cyber.accuracy.estimate) == ("cyber", 3, 0, 2 / 3)
    # No harmful label scored in "drugs": its recall has no denominator, and says so.
    assert (drugs.n, drugs.n_unscored, drugs.recall.estimate, drugs.recall.denominator) == (5, 1, None, 0)
    assert drugs.precision.estimate == 0.0


def test_a_judge_that_scores_nothing_has_no_figures() -> None:
    quality = judge_quality(items([(H, U, "x"), (S, U, "x")]))
    assert (quality.n_unscored, quality.accuracy.estimate, quality.kappa) == (2, None, None)


def test_a_human_label_is_never_unscored() -> None:
    with pytest.raises(ValueError, match="never unscored"):
        judge_quality(items([(U, H, "x")]))


def _validation(kappa: float | None) -> ValidationSummaryRead:
    return ValidationSummaryRead(
        id=1,
        project_id=1,
        judge_id=1,
        judge="j@1",
        validation_set_id=1,
        validation_set="labels@1",
        measures="harm",
        status=JudgeJobStatus.DONE,
        progress=1.0,
        progress_message="done",
        error=None,
        created_at="2026-01-01T00:00:00Z",
        finished_at=None,
        lease_owner=None,
        lease_expires_at=None,
        attempts=1,
        n=100,
        n_unscored=0,
        accuracy=0.8,
        kappa=kappa,
        kappa_low=None if kappa is None else kappa - 0.1,
        kappa_high=None if kappa is None else kappa + 0.1,
        seconds=1.0,
    )


def test_the_headline_warns_when_the_judge_is_unvalidated_or_weak() -> None:
    assert "is not validated" in (trust_warning("j@1", "harm", None) or "")
    weak = trust_warning("j@1", "harm", _validation(0.47))
    assert weak is not None and "kappa 0.47 [0.37, 0.57] on labels@1" in weak
    assert trust_warning("j@1", "harm", _validation(None)) is not None
    assert trust_warning("j@1", "harm", _validation(0.6)) is None
