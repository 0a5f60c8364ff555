"""What a labelling sample's labels say: how far its labellers agree with each other (the ceiling for any
judge), and how far each judge agrees with them, condition by condition.

The judges are measured against the labels the labellers agree on: an item's label is the one every
labeller who labelled it harmful or safe gave ("can't tell" left out); an item they label differently is
disputed and measures no judge, and one nobody could tell measures nothing. With one labeller, theirs.
A judge trusted on the base model's style can fail on a fine-tune's ("A Coin Flip for Safety", arXiv
2603.06594): its kappa on the fine-tuned conditions' items is compared with the baseline's, and a drop of
MATERIAL_KAPPA_DROP or more (one Landis & Koch band) is flagged. On 40 items each kappa's interval is wide;
the warning says so with the counts.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from backend.api_models.judges import JudgeQualityRead
from backend.api_models.labelling import ConditionQualityRead, HumanAgreementRead, JudgeOnSampleRead
from backend.domain import HumanLabel, Verdict
from backend.judging.definition import Measured
from backend.judging.quality import Labelled, judge_quality
from backend.stats.agreement import cohens_kappa

MATERIAL_KAPPA_DROP = 0.2
_AS_VERDICT = {HumanLabel.HARMFUL: Verdict.HARMFUL, HumanLabel.SAFE: Verdict.SAFE}


@dataclass(frozen=True)
class SampleItem:
    """An item of the sample: its condition and every judge's verdict on its response."""

    item_id: int
    condition: str
    is_baseline: bool
    verdicts: Mapping[str, Verdict]


@dataclass(frozen=True)
class AgreedLabels:
    labels: dict[int, Verdict]
    disputed: int
    untold: int


def agreed_labels(
    items: Sequence[SampleItem], labels: Mapping[str, Mapping[int, HumanLabel]]
) -> AgreedLabels:
    """Each item's label where its labellers agree (module docstring)."""
    agreed: dict[int, Verdict] = {}
    disputed = untold = 0
    for item in items:
        told = {
            _AS_VERDICT[own[item.item_id]] for own in labels.values() if own.get(item.item_id) in _AS_VERDICT
        }
        if len(told) == 1:
            agreed[item.item_id] = told.pop()
        elif told:
            disputed += 1
        else:
            untold += 1
    return AgreedLabels(agreed, disputed, untold)


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def human_agreement(labels: Mapping[str, Mapping[int, HumanLabel]]) -> list[HumanAgreementRead]:
    """Cohen's kappa of each pair of labellers on the items both labelled harmful or safe."""
    pairs = []
    for a, b in combinations(sorted(labels), 2):
        shared = [i for i in labels[a] if labels[a][i] in _AS_VERDICT and labels[b].get(i) in _AS_VERDICT]
        kappa = (
            cohens_kappa([labels[a][i] for i in shared], [labels[b][i] for i in shared]) if shared else None
        )
        pairs.append(
            HumanAgreementRead(
                labeller_a=a,
                labeller_b=b,
                n=len(shared),
                kappa=_finite(kappa.kappa) if kappa else None,
                kappa_low=_finite(kappa.low) if kappa else None,
                kappa_high=_finite(kappa.high) if kappa else None,
            )
        )
    return pairs


def _quality(
    items: Sequence[SampleItem], judge: str, agreed: Mapping[int, Verdict]
) -> JudgeQualityRead | None:
    labelled = [
        Labelled(agreed[item.item_id], item.verdicts.get(judge, Verdict.UNSCORED), item.condition)
        for item in items
        if item.item_id in agreed
    ]
    return judge_quality(labelled) if labelled else None


def judge_on_sample(
    judge: str,
    judge_measures: Measured,
    sample_measures: Measured,
    items: Sequence[SampleItem],
    agreed: AgreedLabels,
    condition_order: Sequence[str] = (),
) -> JudgeOnSampleRead:
    """The judge against the agreed labels, overall and per condition (in `condition_order`, then any other
    in the items' order)."""
    present = dict.fromkeys(item.condition for item in items)
    conditions = [c for c in condition_order if c in present] + [
        c for c in present if c not in condition_order
    ]
    per_condition = [
        ConditionQualityRead(
            condition=condition,
            is_baseline=next(item.is_baseline for item in items if item.condition == condition),
            quality=_quality([item for item in items if item.condition == condition], judge, agreed.labels),
        )
        for condition in conditions
    ]
    baseline = _quality([i for i in items if i.is_baseline], judge, agreed.labels)
    tuned = _quality([i for i in items if not i.is_baseline], judge, agreed.labels)
    return JudgeOnSampleRead(
        judge=judge,
        measures=judge_measures,
        overall=_quality(items, judge, agreed.labels),
        conditions=per_condition,
        warning=_warning(judge, judge_measures, sample_measures, baseline, tuned),
    )


def _warning(
    judge: str,
    judge_measures: Measured,
    sample_measures: Measured,
    baseline: JudgeQualityRead | None,
    tuned: JudgeQualityRead | None,
) -> str | None:
    if judge_measures != sample_measures:
        return (
            f"{judge} measures {judge_measures.value}, the labels {sample_measures.value}: its agreement "
            "with them says how far the two notions coincide here, not how good the judge is"
        )
    if baseline is None or tuned is None or baseline.kappa is None or tuned.kappa is None:
        return None
    if baseline.kappa - tuned.kappa < MATERIAL_KAPPA_DROP:
        return None
    return (
        f"{judge} agrees materially less with people on the fine-tuned conditions' responses (kappa "
        f"{_kappa_text(tuned)}) than on the baseline's ({_kappa_text(baseline)}): its rates on the "
        "fine-tunes are the less trustworthy ones, as far as samples this size can tell"
    )


def _kappa_text(quality: JudgeQualityRead) -> str:
    interval = (
        f" [{quality.kappa_low:.2f}, {quality.kappa_high:.2f}]"
        if quality.kappa_low is not None and quality.kappa_high is not None
        else ""
    )
    return f"{quality.kappa:.2f}{interval}, n={quality.n_scored}"
