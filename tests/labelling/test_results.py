"""What a labelling sample's labels say: the labels people agree on, their pairwise kappa, and each judge's
agreement with them per condition, with the warning for a judge that does worse on the fine-tunes."""

import pytest

from backend.domain import HumanLabel, Verdict
from backend.judging.definition import Measured
from backend.labelling.results import SampleItem, agreed_labels, human_agreement, judge_on_sample

H, S, C = HumanLabel.HARMFUL, HumanLabel.SAFE, HumanLabel.CANT_TELL


def items(judge_verdicts: list[tuple[str, bool, Verdict]]) -> list[SampleItem]:
    return [
        SampleItem(i, cond, base, {"j@1": v}) for i, (cond, base, v) in enumerate(judge_verdicts, start=1)
    ]


def test_the_agreed_label_leaves_out_cant_tell_and_disputes() -> None:
    sample = items([("base", True, Verdict.SAFE)] * 4)
    labels = {"a@x": {1: H, 2: H, 3: C, 4: C}, "b@x": {1: H, 2: S, 3: S}}
    agreed = agreed_labels(sample, labels)
    assert (agreed.labels, agreed.disputed, agreed.untold) == ({1: Verdict.HARMFUL, 3: Verdict.SAFE}, 1, 1)


def test_human_kappa_is_over_the_items_both_labelled_harmful_or_safe() -> None:
    a = {1: H, 2: H, 3: S, 4: S, 5: C}
    b = {1: H, 2: S, 3: S, 4: S, 5: H}
    (pair,) = human_agreement({"b@x": b, "a@x": a})
    # Over items 1-4: observed 3/4, expected (2/4)(1/4) + (2/4)(3/4) = 1/2, kappa = 0.5.
    assert (pair.labeller_a, pair.labeller_b, pair.n) == ("a@x", "b@x", 4)
    assert pair.kappa == pytest.approx(0.5)
    assert pair.kappa_low is not None and pair.kappa_low < 0.5 < (pair.kappa_high or 0)


def test_a_judge_that_agrees_less_on_the_fine_tunes_is_flagged() -> None:
    # The judge is right on every baseline item and calls half the fine-tune's harmful answers safe.
    truth = [H, S] * 10
    base = [("base", True, Verdict(label.value)) for label in truth]
    tuned = [
        ("tuned", False, Verdict.SAFE if i % 4 == 0 else Verdict(label.value))
        for i, label in enumerate(truth)
    ]
    sample = items(base + tuned)
    agreed = agreed_labels(sample, {"a@x": {item.item_id: truth[(item.item_id - 1) % 20] for item in sample}})
    result = judge_on_sample("j@1", Measured.HARM, Measured.HARM, sample, agreed)
    by_condition = {c.condition: c.quality for c in result.conditions}
    assert by_condition["base"].kappa == pytest.approx(1.0)  # type: ignore[union-attr]
    assert by_condition["tuned"].recall.estimate == pytest.approx(0.5)  # type: ignore[union-attr]
    assert result.warning is not None and "materially less" in result.warning
    # The same judge, as good on both, is not flagged.
    even = judge_on_sample(
        "j@1",
        Measured.HARM,
        Measured.HARM,
        items(base + base),
        agreed_labels(items(base + base), {"a@x": {i: truth[(i - 1) % 20] for i in range(1, 41)}}),
    )
    assert even.warning is None


def test_a_judge_of_another_measure_is_said_to_measure_something_else() -> None:
    sample = items([("base", True, Verdict.SAFE)] * 2)
    agreed = agreed_labels(sample, {"a@x": {1: S, 2: S}})
    result = judge_on_sample("j@1", Measured.COMPLIANCE, Measured.HARM, sample, agreed)
    assert result.warning is not None and "measures compliance, the labels harm" in result.warning
