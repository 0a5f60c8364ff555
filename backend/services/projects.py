"""Projects, their members and invitations; a project always keeps at least one owner."""

from sqlalchemy.orm import Session

from backend.api_models.accounts import InvitationRead, MemberRead, ProjectDetail, ProjectRead, UserRead
from backend.domain import Role
from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import utcnow
from backend.repositories import projects as repository


def create_project(session: Session, owner_id: int, name: str) -> ProjectRead:
    project = repository.create_project(session, name.strip(), owner_id)
    session.commit()
    return project


def detail(session: Session, project_id: int, role: Role) -> ProjectDetail:
    return ProjectDetail(
        id=project_id,
        name=repository.project_name(session, project_id),
        role=role,
        members=repository.members(session, project_id),
        invitations=repository.invitations(session, project_id),
    )


def _member(session: Session, project_id: int, user_id: int) -> MemberRead:
    for member in repository.members(session, project_id):
        if member.user_id == user_id:
            return member
    raise NotFound(f"user {user_id} is not a member of this project")


def invite_member(session: Session, project_id: int, email: str, role: Role) -> InvitationRead:
    """Invite an email into the project, with the same answer (and the same work) whether or not it has
    an account: the invitation becomes a membership when that account is next seen (`join_invited`), so
    inviting cannot tell anyone which addresses have accounts."""
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInput(f"{email!r} is not an email address")
    if repository.is_member_by_email(session, project_id, email):
        raise Conflict(f"{email} is a member already; change their role instead")
    invitation = repository.invite(session, project_id, email, role, utcnow())
    session.commit()
    return invitation


def join_invited(session: Session, user: UserRead) -> None:
    """Make the user a member of every project their email was invited into."""
    if repository.accept_invitations(session, user.id, user.email):
        session.commit()


def _keep_an_owner(session: Session, project_id: int, member: MemberRead) -> None:
    if member.role == Role.OWNER and repository.count_owners(session, project_id) == 1:
        raise Conflict(f"{member.email} is the project's only owner: make someone else owner first")


def change_role(session: Session, project_id: int, user_id: int, role: Role) -> MemberRead:
    # Locked before the owners are counted: two owners demoting each other at once must not both see
    # another owner left.
    repository.lock_members(session, project_id)
    member = _member(session, project_id, user_id)
    if role != Role.OWNER:
        _keep_an_owner(session, project_id, member)
    repository.set_role(session, project_id, user_id, role)
    session.commit()
    return _member(session, project_id, user_id)


def remove_member(session: Session, project_id: int, user_id: int) -> None:
    repository.lock_members(session, project_id)
    member = _member(session, project_id, user_id)
    _keep_an_owner(session, project_id, member)
    repository.remove_member(session, project_id, user_id)
    session.commit()
