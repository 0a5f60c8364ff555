"""Users, projects and their members, API tokens and share links."""

from datetime import datetime

from backend.api_models.base import ReadModel
from backend.domain import Role, ShareLinkState, ShareScope


class UserRead(ReadModel):
    id: int
    email: str
    has_password: bool


class ProjectRead(ReadModel):
    id: int
    name: str
    # The caller's role in it.
    role: Role


class MemberRead(ReadModel):
    user_id: int
    email: str
    role: Role


class InvitationRead(ReadModel):
    """An email invited into a project, a member once an account with that email is next seen."""

    email: str
    role: Role
    invited_at: datetime


class ProjectDetail(ProjectRead):
    members: list[MemberRead]
    invitations: list[InvitationRead]


class ShareGrantRead(ReadModel):
    """What a share link lets its holder see."""

    link_id: int
    experiment_id: int
    scope: ShareScope
    expires_at: datetime | None


class MeRead(ReadModel):
    """Who is calling: a signed-in user with their projects, or a share link's holder."""

    user: UserRead | None
    projects: list[ProjectRead]
    share: ShareGrantRead | None
    # False for read-only API tokens and share links.
    can_write: bool


class ApiTokenRead(ReadModel):
    id: int
    name: str
    can_write: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreated(ApiTokenRead):
    # Shown once: only its SHA-256 is stored.
    token: str


class ShareLinkRead(ReadModel):
    id: int
    experiment_id: int
    scope: ShareScope
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    # Only an active link opens the dashboard; the others answer 404.
    state: ShareLinkState


class ShareLinkCreated(ShareLinkRead):
    # /share/<token>, shown once: only the token's SHA-256 is stored.
    path: str
