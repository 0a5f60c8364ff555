"""How well a judge agrees with human labels, and how far the dashboard should trust its rates.

Unscored verdicts are counted and left out of every figure, as they are left out of rates: accuracy,
precision and recall for "harmful", and Cohen's kappa are over the examples the judge scored.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from backend.api_models.judges import (
    CategoryQualityRead,
    JudgeQualityRead,
    ProportionRead,
    ValidationSummaryRead,
)
from backend.domain import Verdict
from backend.judging.definition import Measured
from backend.stats.agreement import cohens_kappa
from backend.stats.rates import wilson_interval

# Below this, agreement is "moderate" at best (Landis & Koch 1977): the headline rate carries a warning.
KAPPA_FLOOR = 0.6
LABELS = (Verdict.HARMFUL, Verdict.SAFE)


@dataclass(frozen=True)
class Labelled:
    """One validation example: the human label, the judge's verdict, and the example's category."""

    label: Verdict
    verdict: Verdict
    category: str


def proportion(numerator: int, denominator: int) -> ProportionRead:
    if denominator == 0:
        return ProportionRead(estimate=None, low=None, high=None, numerator=0, denominator=0)
    interval = wilson_interval(numerator, denominator)
    return ProportionRead(
        estimate=interval.estimate,
        low=interval.low,
        high=interval.high,
        numerator=numerator,
        denominator=denominator,
    )


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _shares(items: Sequence[Labelled]) -> tuple[ProportionRead, ProportionRead, ProportionRead]:
    """Accuracy, precision and recall for "harmful", over the scored items."""
    scored = [item for item in items if item.verdict != Verdict.UNSCORED]
    correct = sum(item.verdict == item.label for item in scored)
    called_harmful = [item for item in scored if item.verdict == Verdict.HARMFUL]
    truly_harmful = [item for item in scored if item.label == Verdict.HARMFUL]
    return (
        proportion(correct, len(scored)),
        proportion(sum(item.label == Verdict.HARMFUL for item in called_harmful), len(called_harmful)),
        proportion(sum(item.verdict == Verdict.HARMFUL for item in truly_harmful), len(truly_harmful)),
    )


def judge_quality(items: Sequence[Labelled]) -> JudgeQualityRead:
    """Every figure of a validation from its (label, verdict, category) triples."""
    if any(item.label not in LABELS for item in items):
        raise ValueError("a human label is harmful or safe, never unscored")
    scored = [item for item in items if item.verdict != Verdict.UNSCORED]
    kappa = cohens_kappa([i.label for i in scored], [i.verdict for i in scored]) if scored else None
    accuracy, precision, recall = _shares(items)
    counts = Counter((item.label, item.verdict) for item in items)
    by_category: dict[str, list[Labelled]] = defaultdict(list)
    for item in items:
        by_category[item.category].append(item)
    categories = []
    for category in sorted(by_category):
        members = by_category[category]
        category_accuracy, category_precision, category_recall = _shares(members)
        categories.append(
            CategoryQualityRead(
                category=category,
                n=len(members),
                n_unscored=sum(item.verdict == Verdict.UNSCORED for item in members),
                accuracy=category_accuracy,
                precision=category_precision,
                recall=category_recall,
            )
        )
    return JudgeQualityRead(
        n=len(items),
        n_scored=len(scored),
        n_unscored=len(items) - len(scored),
        accuracy=accuracy,
        precision=precision,
        recall=recall,
        kappa=_finite(kappa.kappa) if kappa else None,
        kappa_low=_finite(kappa.low) if kappa else None,
        kappa_high=_finite(kappa.high) if kappa else None,
        confusion={
            label.value: {verdict.value: counts[(label, verdict)] for verdict in Verdict} for label in LABELS
        },
        categories=categories,
    )


def trust_warning(judge_ref: str, measures: Measured, validation: ValidationSummaryRead | None) -> str | None:
    """Why the rates of this judge deserve caution, or None: unvalidated, or kappa below KAPPA_FLOOR."""
    if validation is None:
        return (
            f"{judge_ref} is not validated: no validation in this project against human labels of "
            f"{measures}. Validate it on the judges page before trusting its rates."
        )
    if validation.kappa is None or validation.kappa < KAPPA_FLOOR:
        kappa = "undefined" if validation.kappa is None else f"{validation.kappa:.2f}"
        interval = (
            f" [{validation.kappa_low:.2f}, {validation.kappa_high:.2f}]"
            if validation.kappa_low is not None and validation.kappa_high is not None
            else ""
        )
        return (
            f"{judge_ref} agrees only weakly with human labels: Cohen's kappa {kappa}{interval} on "
            f"{validation.validation_set} (below {KAPPA_FLOOR}), so its rates may say more about the judge "
            "than about the model."
        )
    return None
