"""Projects, their members and roles, and which project a piece of data belongs to."""

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from backend.api_models.accounts import InvitationRead, MemberRead, ProjectRead
from backend.domain import Role
from backend.models import (
    Condition,
    Experiment,
    Project,
    ProjectInvitation,
    ProjectMember,
    Run,
    User,
    owning_condition_id,
)


def create_project(session: Session, name: str, owner_id: int) -> ProjectRead:
    project = Project(name=name)
    session.add(project)
    session.flush()
    session.add(ProjectMember(project_id=project.id, user_id=owner_id, role=Role.OWNER))
    session.flush()
    return ProjectRead(id=project.id, name=project.name, role=Role.OWNER)


def projects_of_user(session: Session, user_id: int) -> list[ProjectRead]:
    """The user's projects, oldest first (the first is the default for a submission)."""
    rows = session.execute(
        select(Project.id, Project.name, ProjectMember.role)
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .where(ProjectMember.user_id == user_id)
        .order_by(Project.id)
    )
    return [ProjectRead(id=id_, name=name, role=role) for id_, name, role in rows]


def role_of(session: Session, user_id: int, project_id: int) -> Role | None:
    return session.scalar(
        select(ProjectMember.role).where(
            ProjectMember.user_id == user_id, ProjectMember.project_id == project_id
        )
    )


def project_name(session: Session, project_id: int) -> str:
    return session.scalar(select(Project.name).where(Project.id == project_id)) or ""


def members(session: Session, project_id: int) -> list[MemberRead]:
    rows = session.execute(
        select(ProjectMember.user_id, User.email, ProjectMember.role)
        .join(User, User.id == ProjectMember.user_id)
        .where(ProjectMember.project_id == project_id)
        .order_by(User.email)
    )
    return [MemberRead(user_id=user_id, email=email, role=role) for user_id, email, role in rows]


def add_member(session: Session, project_id: int, user_id: int, role: Role) -> None:
    session.add(ProjectMember(project_id=project_id, user_id=user_id, role=role))
    session.flush()


def set_role(session: Session, project_id: int, user_id: int, role: Role) -> None:
    session.execute(
        update(ProjectMember)
        .where(ProjectMember.project_id == project_id, ProjectMember.user_id == user_id)
        .values(role=role)
    )


def remove_member(session: Session, project_id: int, user_id: int) -> None:
    session.execute(
        delete(ProjectMember).where(ProjectMember.project_id == project_id, ProjectMember.user_id == user_id)
    )


def lock_members(session: Session, project_id: int) -> None:
    """Hold the project's row until the transaction ends, so that membership changes of one project run
    one after another: a no-op write, which takes the row lock on PostgreSQL and the database's write lock
    on SQLite (where SELECT ... FOR UPDATE does nothing)."""
    session.execute(update(Project).where(Project.id == project_id).values(name=Project.name))


def is_member_by_email(session: Session, project_id: int, email: str) -> bool:
    found = session.scalar(
        select(ProjectMember.user_id)
        .join(User, User.id == ProjectMember.user_id)
        .where(ProjectMember.project_id == project_id, User.email == email)
    )
    return found is not None


def invite(session: Session, project_id: int, email: str, role: Role, now: datetime) -> InvitationRead:
    """Store the invitation, or change the role and time of one already there."""
    invitation = session.get(ProjectInvitation, (project_id, email))
    if invitation is None:
        invitation = ProjectInvitation(project_id=project_id, email=email, role=role, created_at=now)
        session.add(invitation)
    else:
        invitation.role, invitation.created_at = role, now
    session.flush()
    return InvitationRead(email=email, role=role, invited_at=now)


def invitations(session: Session, project_id: int) -> list[InvitationRead]:
    rows = session.scalars(
        select(ProjectInvitation)
        .where(ProjectInvitation.project_id == project_id)
        .order_by(ProjectInvitation.email)
    )
    return [InvitationRead(email=row.email, role=row.role, invited_at=row.created_at) for row in rows]


def accept_invitations(session: Session, user_id: int, email: str) -> bool:
    """Turn the invitations of `email` into memberships of the user (a membership already there keeps its
    role); False, and nothing written, when there are none."""
    pending = session.scalars(select(ProjectInvitation).where(ProjectInvitation.email == email)).all()
    if not pending:
        return False
    for invitation in pending:
        if role_of(session, user_id, invitation.project_id) is None:
            session.add(
                ProjectMember(project_id=invitation.project_id, user_id=user_id, role=invitation.role)
            )
        session.delete(invitation)
    session.flush()
    return True


def count_owners(session: Session, project_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                ProjectMember.project_id == project_id, ProjectMember.role == Role.OWNER
            )
        )
        or 0
    )


def projects_without_members(session: Session) -> list[int]:
    has_members = select(ProjectMember.project_id)
    return list(
        session.scalars(select(Project.id).where(Project.id.not_in(has_members)).order_by(Project.id))
    )


def count_projects(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Project)) or 0


def project_of_experiment(session: Session, experiment_id: int) -> int | None:
    return session.scalar(select(Experiment.project_id).where(Experiment.id == experiment_id))


def experiment_of_run(session: Session, run_id: int) -> tuple[int, int] | None:
    """(project id, experiment id) of the run, or None if there is no such run."""
    row = session.execute(
        select(Experiment.project_id, Experiment.id)
        .join(Condition, Condition.experiment_id == Experiment.id)
        .join(Run, owning_condition_id() == Condition.id)
        .where(Run.id == run_id)
    ).first()
    return (row[0], row[1]) if row is not None else None
