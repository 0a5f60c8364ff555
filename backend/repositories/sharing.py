"""Share links: one experiment, a scope, an optional expiry; found by the SHA-256 of their token.

A link works while it is neither revoked nor expired and its maker is still an editor or owner of the
experiment's project (`_maker_may_share`): removing a member, lowering their role or deleting their
account ends the links they made, as revoking them would.
"""

from datetime import datetime

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from backend.api_models.accounts import ShareGrantRead, ShareLinkRead
from backend.domain import Role, ShareLinkState, ShareScope
from backend.models import Experiment, ProjectMember, ShareLink, User
from backend.repositories.accounts import TOUCH_INTERVAL

SHARING_ROLES = [role for role in Role if role.covers(Role.EDITOR)]


def _maker_may_share() -> ColumnElement[bool]:
    """True for a link whose maker holds a role that may share in its experiment's project (the query
    must join Experiment)."""
    return exists().where(
        ProjectMember.user_id == ShareLink.created_by_id,
        ProjectMember.project_id == Experiment.project_id,
        ProjectMember.role.in_(SHARING_ROLES),
    )


def _state(link: ShareLink, maker_may_share: bool, now: datetime) -> ShareLinkState:
    if link.revoked_at is not None:
        return ShareLinkState.REVOKED
    if link.expires_at is not None and link.expires_at <= now:
        return ShareLinkState.EXPIRED
    return ShareLinkState.ACTIVE if maker_may_share else ShareLinkState.MAKER_LEFT


def _read(link: ShareLink, created_by: str | None, state: ShareLinkState) -> ShareLinkRead:
    return ShareLinkRead(
        id=link.id,
        experiment_id=link.experiment_id,
        scope=link.scope,
        created_by=created_by,
        created_at=link.created_at,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
        last_used_at=link.last_used_at,
        state=state,
    )


def create_link(
    session: Session,
    experiment_id: int,
    token_hash: str,
    scope: ShareScope,
    created_by_id: int,
    expires_at: datetime | None,
) -> ShareLinkRead:
    link = ShareLink(
        experiment_id=experiment_id,
        token_hash=token_hash,
        scope=scope,
        created_by_id=created_by_id,
        expires_at=expires_at,
    )
    session.add(link)
    session.flush()
    created_by = session.scalar(select(User.email).where(User.id == created_by_id))
    return _read(link, created_by, ShareLinkState.ACTIVE)


def list_links(session: Session, experiment_id: int, now: datetime) -> list[ShareLinkRead]:
    rows = session.execute(
        select(ShareLink, User.email, _maker_may_share())
        .join(Experiment, Experiment.id == ShareLink.experiment_id)
        .outerjoin(User, User.id == ShareLink.created_by_id)
        .where(ShareLink.experiment_id == experiment_id)
        .order_by(ShareLink.id.desc())
    )
    return [_read(link, email, _state(link, maker_may_share, now)) for link, email, maker_may_share in rows]


def revoke_link(session: Session, experiment_id: int, link_id: int, now: datetime) -> bool:
    """False if the experiment has no such link; revoking twice is harmless."""
    link = session.scalars(
        select(ShareLink).where(ShareLink.id == link_id, ShareLink.experiment_id == experiment_id)
    ).first()
    if link is None:
        return False
    if link.revoked_at is None:
        link.revoked_at = now
    return True


def grant_of(session: Session, token_hash: str, now: datetime) -> ShareGrantRead | None:
    """What a live link grants (not revoked, not expired, its maker still may share); records that it
    was used."""
    link = session.scalars(
        select(ShareLink)
        .join(Experiment, Experiment.id == ShareLink.experiment_id)
        .where(
            ShareLink.token_hash == token_hash,
            ShareLink.revoked_at.is_(None),
            (ShareLink.expires_at.is_(None)) | (ShareLink.expires_at > now),
            _maker_may_share(),
        )
    ).first()
    if link is None:
        return None
    if link.last_used_at is None or now - link.last_used_at > TOUCH_INTERVAL:
        link.last_used_at = now
    return ShareGrantRead(
        link_id=link.id, experiment_id=link.experiment_id, scope=link.scope, expires_at=link.expires_at
    )
