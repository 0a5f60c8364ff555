"""Share links to one experiment's dashboard, managed by the project's editors and owners."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from backend.api.auth import Access, InExperiment
from backend.api.deps import ExperimentId, SessionDep, ShareLinkId, UtcDatetime
from backend.api_models.accounts import ShareLinkCreated, ShareLinkRead
from backend.domain import Role, ShareScope
from backend.services import sharing as service

router = APIRouter(prefix="/api/experiments/{experiment_id}/share-links", tags=["share links"])
EditorDep = Annotated[Access, Depends(InExperiment(Role.EDITOR))]


class ShareLinkRequest(BaseModel):
    scope: ShareScope = Field(
        ShareScope.FIGURES,
        description="figures: figures and tables only, no prompt or response text; responses: also the "
        "per-prompt browser and the run pages",
    )
    expires_at: UtcDatetime | None = Field(None, description="none: valid until revoked")


@router.get("")
def list_links(experiment_id: ExperimentId, _: EditorDep, session: SessionDep) -> list[ShareLinkRead]:
    """Every link to this experiment: who made it, when it expires, when it was last used."""
    return service.list_links(session, experiment_id)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_link(
    experiment_id: ExperimentId, body: ShareLinkRequest, access: EditorDep, session: SessionDep
) -> ShareLinkCreated:
    """A read-only link for someone without an account; its path is shown once (only a hash is stored)."""
    expires_at: datetime | None = body.expires_at
    return service.create_link(session, experiment_id, access.user.id, body.scope, expires_at)


@router.delete("/{link_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_link(experiment_id: ExperimentId, link_id: ShareLinkId, _: EditorDep, session: SessionDep) -> None:
    """The link answers 404 from now on."""
    service.revoke_link(session, experiment_id, link_id)
