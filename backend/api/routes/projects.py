"""Projects and their members (managed by the project's owners)."""

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from backend.api.auth import Access, InProject, SignedInDep
from backend.api.deps import ProjectId, SessionDep, UserId
from backend.api_models.accounts import InvitationRead, MemberRead, ProjectDetail, ProjectRead
from backend.domain import Role
from backend.repositories import projects as repository
from backend.services import projects as service

router = APIRouter(prefix="/api/projects", tags=["projects"])
ViewerDep = Annotated[Access, Depends(InProject(Role.VIEWER))]
OwnerDep = Annotated[Access, Depends(InProject(Role.OWNER))]


class ProjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class MemberInvite(BaseModel):
    email: str = Field(min_length=3, max_length=320, description="the email to invite")
    role: Role = Role.VIEWER


class RoleChange(BaseModel):
    role: Role


@router.get("")
def list_projects(access: SignedInDep, session: SessionDep) -> list[ProjectRead]:
    """The projects you belong to, with your role in each."""
    return repository.projects_of_user(session, access.user.id)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_project(body: ProjectCreate, access: SignedInDep, session: SessionDep) -> ProjectRead:
    """A new project, owned by you."""
    return service.create_project(session, access.user.id, body.name)


@router.get("/{project_id}")
def get_project(project_id: ProjectId, access: ViewerDep, session: SessionDep) -> ProjectDetail:
    assert access.role is not None
    return service.detail(session, project_id, access.role)


@router.post("/{project_id}/members", status_code=status.HTTP_202_ACCEPTED)
def invite_member(
    project_id: ProjectId, body: MemberInvite, _: OwnerDep, session: SessionDep
) -> InvitationRead:
    """Invite an email: it becomes a member when an account with that email next signs in (the same
    answer whether or not the address has an account yet)."""
    return service.invite_member(session, project_id, body.email, body.role)


@router.patch("/{project_id}/members/{user_id}")
def change_role(
    project_id: ProjectId, user_id: UserId, body: RoleChange, _: OwnerDep, session: SessionDep
) -> MemberRead:
    """A project keeps at least one owner."""
    return service.change_role(session, project_id, user_id, body.role)


@router.delete("/{project_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(project_id: ProjectId, user_id: UserId, _: OwnerDep, session: SessionDep) -> None:
    service.remove_member(session, project_id, user_id)
