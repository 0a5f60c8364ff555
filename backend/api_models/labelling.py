"""Labelling samples: an experiment's responses labelled by its members, and what the labels say of its
judges (backend.services.labelling)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from backend.api_models.base import ReadModel
from backend.api_models.judges import JudgeQualityRead
from backend.domain import HumanLabel
from backend.judging.definition import Measured


class LabellingSampleRequest(BaseModel):
    size: int = Field(40, ge=2, le=1000, description="how many responses to draw")
    measures: Literal[Measured.HARM, Measured.COMPLIANCE] | None = Field(
        None,
        description="what a label 'harmful' means: the response gives harmful help (harm), or it complies "
        "rather than refuses (compliance); default: what the headline judge measures",
    )
    seed: int = Field(
        0, ge=0, le=2**31 - 1, description="the draw's seed: the same seed draws the same sample"
    )


class LabelRequest(BaseModel):
    label: HumanLabel
    note: str = Field("", max_length=2000)


class LabellingSampleRead(ReadModel):
    id: int
    experiment_id: int
    measures: Measured
    seed: int
    size: int
    created_at: datetime
    # The caller's own progress, and how many members have labelled every item.
    labelled_by_me: int
    finished_labellers: int


class LabellingItemRead(ReadModel):
    """One response to label, with the caller's own label: nothing of any judge's verdict, nor of anyone
    else's label."""

    id: int
    position: int
    prompt: str
    response: str
    label: HumanLabel | None
    note: str


class HumanAgreementRead(ReadModel):
    """Two labellers' agreement (Cohen's kappa) on the items both labelled harmful or safe."""

    labeller_a: str
    labeller_b: str
    n: int
    kappa: float | None
    kappa_low: float | None
    kappa_high: float | None


class ConditionQualityRead(ReadModel):
    condition: str
    is_baseline: bool
    quality: JudgeQualityRead | None


class JudgeOnSampleRead(ReadModel):
    """A judge's verdicts against the labellers' agreed labels, per condition and overall."""

    judge: str
    measures: Measured
    overall: JudgeQualityRead | None
    conditions: list[ConditionQualityRead]
    warning: str | None


class LabellingResultsRead(ReadModel):
    sample_id: int
    measures: Measured
    labellers: list[str]
    # Items every labeller who gave one agrees on (can't-tell left out): the judges are measured on these.
    n_agreed: int
    # Items the labellers label differently: left out of the judges' figures.
    n_disputed: int
    # Items nobody could tell (or nobody labelled).
    n_untold: int
    human_agreement: list[HumanAgreementRead]
    judges: list[JudgeOnSampleRead]
