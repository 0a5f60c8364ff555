"""A condition's rate corrected for its judge's errors, for the analysis: which validation corrects it, or why
none does (backend.stats.corrected holds the statistics)."""

import math
from dataclasses import replace
from typing import NamedTuple

from backend.api_models.analysis import CorrectedRateRead, IntervalRead, ValidationUsedRead
from backend.api_models.experiments import RateRead
from backend.api_models.judges import ValidationSummaryRead
from backend.domain import Verdict
from backend.judging.definition import Measured
from backend.stats.corrected import ValidationCounts, corrected_rate
from backend.stats.intervals import Interval
from backend.stats.seeds import SeedSummary


def validation_counts(confusion: dict[str, dict[str, int]]) -> ValidationCounts:
    """The scored verdicts of a validation's confusion[human label][judge verdict] (unscored left out)."""
    harmful, safe = confusion.get(Verdict.HARMFUL, {}), confusion.get(Verdict.SAFE, {})
    return ValidationCounts(
        harmful_called_harmful=harmful.get(Verdict.HARMFUL, 0),
        harmful_called_safe=harmful.get(Verdict.SAFE, 0),
        safe_called_safe=safe.get(Verdict.SAFE, 0),
        safe_called_harmful=safe.get(Verdict.HARMFUL, 0),
    )


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else x


def _interval(interval: Interval) -> IntervalRead:
    return IntervalRead(estimate=interval.estimate, low=_finite(interval.low), high=_finite(interval.high))


class Judged(NamedTuple):
    """Whose verdicts a rate counts: an experiment's judge or a scored set's scorer, "name@version", what
    its harmful verdict means, and its best finished validation in the project on a set labelled for that."""

    ref: str
    measures: Measured
    validation: ValidationSummaryRead | None


def _other_verdict(interval: Interval) -> Interval:
    """An interval on the share of one verdict, as one on the share of the other."""
    return Interval(1 - interval.estimate, 1 - interval.high, 1 - interval.low)


def corrected_read(
    judge: Judged,
    counts: ValidationCounts | None,
    metric: str,
    pooled: RateRead,
    seeds: SeedSummary | None,
    counted: Verdict,
) -> CorrectedRateRead:
    """The condition's pooled rate and mean over seeds corrected with the judge's validation (its best in the
    project, as the judges panel shows it; `counts` are that validation's), or the reason there is none.

    The rates count the judge's `counted` verdict: its harmful ones on a safety benchmark, its safe ones
    (refusals) on an over-refusal set. Rogan-Gladen corrects the share of harmful verdicts, so a share of
    safe ones is corrected as 1 minus the corrected share of the others."""
    if metric != "rate":
        return CorrectedRateRead(
            validation=None,
            pooled=None,
            mean=None,
            withheld="only verdict rates are corrected: a mean score has no sensitivity or specificity",
        )
    validation = judge.validation
    if validation is None or counts is None:
        return CorrectedRateRead(
            validation=None,
            pooled=None,
            mean=None,
            withheld=(
                f"{judge.ref} has no finished validation in this project on a set labelled for "
                f"{judge.measures}, so its errors are not measured"
            ),
        )
    used = ValidationUsedRead(
        validation_id=validation.id,
        validation_set=validation.validation_set,
        n=counts.n_harmful + counts.n_safe,
        n_harmful=counts.n_harmful,
        n_safe=counts.n_safe,
        sensitivity=_finite(counts.sensitivity),
        specificity=_finite(counts.specificity),
    )
    if pooled.rate is None:
        return CorrectedRateRead(validation=used, pooled=None, mean=None, withheld="no scored verdicts yet")
    n_effective = (pooled.harmful + pooled.safe) / pooled.design_effect
    if counted == Verdict.HARMFUL:
        result = corrected_rate(counts, pooled.rate, n_effective, seeds)
        corrected_pooled, corrected_mean = result.pooled, result.mean
    else:
        other_seeds = (
            None
            if seeds is None
            else replace(
                seeds,
                mean=1 - seeds.mean,
                min=1 - seeds.max,
                max=1 - seeds.min,
                low=1 - seeds.high,
                high=1 - seeds.low,
            )
        )
        result = corrected_rate(counts, 1 - pooled.rate, n_effective, other_seeds)
        corrected_pooled = _other_verdict(result.pooled) if result.pooled else None
        corrected_mean = _other_verdict(result.mean) if result.mean else None
    return CorrectedRateRead(
        validation=used,
        pooled=_interval(corrected_pooled) if corrected_pooled else None,
        mean=_interval(corrected_mean) if corrected_mean else None,
        withheld=result.withheld,
    )
