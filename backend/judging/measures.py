"""What the numbers on a dashboard measure, in words: one place for every title, axis, legend and heading.

A judge's "harmful" verdict means what its rate measures: a harm judge's rate is a harmfulness rate, but a
refusal judge calls every compliant answer harmful, so its rate is a compliance rate (the share of responses
that comply rather than refuse), not a measure of harm. A grading judge's scores give a mean score instead.
Judge references are letters, digits, '.', '_' and '-' (backend.domain.JUDGE_NAME_PATTERN), so they are safe
in Plotly text as they are.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from backend.api_models.experiments import MetricRead
from backend.api_models.judges import ExperimentJudgeRead
from backend.domain import SetMeasure
from backend.judging.definition import Measured
from backend.refusal_openings import PHRASES, REFUSAL_OPENINGS


@dataclass(frozen=True)
class Measure:
    """The words for one kind of number: a rate in %, or a judge's mean score × 100."""

    title: str  # "Harmfulness rate"
    axis: str  # the axis of a value: "harmful responses (%)"
    value: str  # one value in hover text: "harmful 12.5%"
    share: str  # a colour bar of shares in [0, 1]: "harmful share"
    column: str  # a table column of rates: "Harmful"
    suffix: str  # after a value: "%" for a rate
    unit: str  # what one observation is: "verdict", "score"
    points: str  # a difference's unit
    meaning: str  # a sentence: what every number measured this way is

    @property
    def in_a_sentence(self) -> str:
        return self.title[0].lower() + self.title[1:]


def rate_measure(measures: Measured, judge: str) -> Measure:
    """The share of `judge`'s scored verdicts called harmful, named for what the judge measures."""
    if measures == Measured.COMPLIANCE:
        return Measure(
            title="Compliance rate",
            axis="complying responses (%)",
            value="complies",
            share="complying share",
            column="Complies",
            suffix="%",
            unit="verdict",
            points="percentage points",
            meaning=f"the compliance rate by {judge}: the share of responses that comply rather than refuse "
            "(a refusal judge: it measures refusal, not harm)",
        )
    return Measure(
        title="Harmfulness rate",
        axis="harmful responses (%)",
        value="harmful",
        share="harmful share",
        column="Harmful",
        suffix="%",
        unit="verdict",
        points="percentage points",
        meaning=f"the harmfulness rate by {judge}: the share of responses it judged harmful",
    )


def set_measure(measures: SetMeasure, scorer: str) -> Measure:
    """The rate of a capability set (correct answers, by its reference scorer) or of an over-refusal set
    (refusals of benign prompts, by a refusal judge)."""
    if measures == SetMeasure.CAPABILITY:
        return Measure(
            title="Capability",
            axis="correct answers (%)",
            value="correct",
            share="correct share",
            column="Correct",
            suffix="%",
            unit="answer",
            points="percentage points",
            meaning=f"the capability by {scorer}: the share of answers that give the reference answer",
        )
    if measures == SetMeasure.OVER_REFUSAL:
        return Measure(
            title="Over-refusal rate",
            axis="refused benign prompts (%)",
            value="refuses",
            share="refusing share",
            column="Refuses",
            suffix="%",
            unit="verdict",
            points="percentage points",
            meaning=f"the over-refusal rate by {scorer}: the share of benign prompts (that look unsafe) "
            "the model refuses",
        )
    raise ValueError(f"a {measures} set is measured by the experiment's judges, not by a scorer")


def set_metric(measures: SetMeasure, scorer: str) -> MetricRead:
    """What the dashboard's numbers on a capability or over-refusal set are, in words."""
    measure = set_measure(measures, scorer)
    return MetricRead(
        metric="rate",
        judge=scorer,
        label=f"the {measure.in_a_sentence} by {scorer}",
        title=measure.title,
        column=measure.column,
        meaning=measure.meaning,
        warning=None,
    )


def score_measure(judge: str) -> Measure:
    """The mean of `judge`'s graded scores (0 safe to 1 harmful), shown × 100."""
    return Measure(
        title=f"Mean score of {judge}",
        axis="mean score (× 100)",
        value="mean score",
        share="mean score",
        column="Mean score",
        suffix="",
        unit="score",
        points="score points, × 100",
        meaning=f"the mean of {judge}'s graded scores (0 safe to 1 harmful) × 100; judgments without a score "
        "are left out",
    )


def refusal_prefix_measure() -> Measure:
    """The mean refusal-prefix score (worker.refusal_prefix): no judge, higher = more refusing."""
    examples = ", ".join(f"“{phrase}”" for phrase in PHRASES[:3])
    return Measure(
        title="Refusal-prefix probability",
        axis="refusal-prefix probability (× 100)",
        value="refusal prefix",
        share="refusal-prefix probability",
        column="Refusal prefix",
        suffix="",
        unit="score",
        points="probability points, × 100",
        meaning="the refusal-prefix probability × 100: the probability, teacher-forced at temperature 1, "
        f"that the model opens its response with one of the {len(PHRASES)} refusal openings of "
        f"{REFUSAL_OPENINGS} ({examples}, ...); higher = more refusing. No sampling and no judge",
    )


def metrics(judges: Sequence[ExperimentJudgeRead], refusal_prefix: bool = False) -> list[MetricRead]:
    """What an experiment's dashboard can be measured by: its first judge's rate, the mean score of its
    first grading judge when it has one, and the refusal-prefix probability when its runs have (or will
    compute) refusal-prefix scores. Each with the judge whose trust it rests on."""
    first = judges[0]
    choices = [(first, "rate", rate_measure(first.measures, first.ref))]
    grading = next((judge for judge in judges if judge.graded), None)
    if grading is not None:
        choices.append((grading, "score", score_measure(grading.ref)))
    offered = [
        MetricRead(
            metric=metric,
            judge=judge.ref,
            label=f"the {measure.in_a_sentence} of {judge.ref}"
            if metric == "rate"
            else f"the {measure.in_a_sentence}",
            title=measure.title,
            column=measure.column,
            meaning=measure.meaning,
            warning=judge.warning,
        )
        for judge, metric, measure in choices
    ]
    if refusal_prefix:
        prefix = refusal_prefix_measure()
        offered.append(
            MetricRead(
                metric="refusal-prefix",
                judge=REFUSAL_OPENINGS,
                label="the refusal-prefix probability (no judge; higher = more refusing)",
                title=prefix.title,
                column=prefix.column,
                meaning=prefix.meaning,
                warning=None,
            )
        )
    return offered
