"""Projects and their members; a project always keeps at least one owner."""

from sqlalchemy.orm import Session

from backend.domain import Role
from backend.errors import Conflict, InvalidInput, NotFound
from backend.repositories import accounts as account_repository
from backend.repositories import projects as repository
from backend.schemas import MemberRead, ProjectDetail, ProjectRead


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
    )


def _member(session: Session, project_id: int, user_id: int) -> MemberRead:
    for member in repository.members(session, project_id):
        if member.user_id == user_id:
            return member
    raise NotFound(f"user {user_id} is not a member of this project")


def add_member(session: Session, project_id: int, email: str, role: Role) -> MemberRead:
    """Invite an existing account by its email."""
    user = account_repository.find_user(session, email.strip())
    if user is None:
        raise InvalidInput(
            f"no account with the email {email.strip()!r}; an administrator creates accounts with "
            "`seedscope user add EMAIL`"
        )
    if repository.role_of(session, user.id, project_id) is not None:
        raise Conflict(f"{user.email} is a member already; change their role instead")
    repository.add_member(session, project_id, user.id, role)
    session.commit()
    return _member(session, project_id, user.id)


def _keep_an_owner(session: Session, project_id: int, member: MemberRead) -> None:
    if member.role == Role.OWNER and repository.count_owners(session, project_id) == 1:
        raise Conflict(f"{member.email} is the project's only owner: make someone else owner first")


def change_role(session: Session, project_id: int, user_id: int, role: Role) -> MemberRead:
    member = _member(session, project_id, user_id)
    if role != Role.OWNER:
        _keep_an_owner(session, project_id, member)
    repository.set_role(session, project_id, user_id, role)
    session.commit()
    return _member(session, project_id, user_id)


def remove_member(session: Session, project_id: int, user_id: int) -> None:
    member = _member(session, project_id, user_id)
    _keep_an_owner(session, project_id, member)
    repository.remove_member(session, project_id, user_id)
    session.commit()
