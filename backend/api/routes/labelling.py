"""Labelling samples of an experiment's responses: drawn by an editor, labelled by each member in the
browser. Members only: a share link sees none of it."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from backend.api.auth import Access, InExperiment
from backend.api.deps import MAX_ID, ExperimentId, SampleId, SessionDep
from backend.api_models.labelling import (
    LabellingItemRead,
    LabellingResultsRead,
    LabellingSampleRead,
    LabellingSampleRequest,
    LabelRequest,
)
from backend.domain import Role
from backend.repositories import labelling as repository
from backend.services import labelling as service

router = APIRouter(prefix="/api/experiments/{experiment_id}/labelling-samples", tags=["labelling"])

MemberDep = Annotated[Access, Depends(InExperiment(Role.VIEWER))]
EditorDep = Annotated[Access, Depends(InExperiment(Role.EDITOR))]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_sample(
    experiment_id: ExperimentId, request: LabellingSampleRequest, access: EditorDep, session: SessionDep
) -> LabellingSampleRead:
    """Draw `size` judged responses, stratified by condition and by the judges' verdicts (half of each
    condition's share where they disagree), with `seed`: the same seed draws the same sample."""
    return service.create_sample(session, experiment_id, request, access.user.id)


@router.get("")
def list_samples(
    experiment_id: ExperimentId, access: MemberDep, session: SessionDep
) -> list[LabellingSampleRead]:
    """The experiment's labelling samples, newest first, with your progress on each."""
    return repository.samples_of(session, experiment_id, access.user.id)


@router.get("/{sample_id}/items")
def list_items(
    experiment_id: ExperimentId, sample_id: SampleId, access: MemberDep, session: SessionDep
) -> list[LabellingItemRead]:
    """The items to label, with your own labels: no judge's verdict and nobody else's label."""
    return service.items(session, experiment_id, sample_id, access.user.id)


@router.put("/{sample_id}/items/{item_id}/label", status_code=status.HTTP_204_NO_CONTENT)
def save_label(
    experiment_id: ExperimentId,
    sample_id: SampleId,
    item_id: ItemId,
    request: LabelRequest,
    access: MemberDep,
    session: SessionDep,
) -> None:
    """Your label (harmful, safe or cant_tell, with an optional note) on one item, saved at once."""
    service.save_label(session, experiment_id, sample_id, item_id, access.user.id, request)


@router.get("/{sample_id}/results")
def results(
    experiment_id: ExperimentId, sample_id: SampleId, access: MemberDep, session: SessionDep
) -> LabellingResultsRead:
    """How far the labellers agree (Cohen's kappa per pair), and each judge's kappa, precision and recall on
    the labels they agree on, per condition. 409 until you have labelled every item."""
    return service.results(session, experiment_id, sample_id, access.user.id)
