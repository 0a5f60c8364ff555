"""Share links: one experiment, a scope, an optional expiry; found by the SHA-256 of their token."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.domain import ShareScope
from backend.models import ShareLink, User
from backend.repositories.accounts import TOUCH_INTERVAL
from backend.schemas import ShareGrantRead, ShareLinkRead


def _read(link: ShareLink, created_by: str | None) -> ShareLinkRead:
    return ShareLinkRead(
        id=link.id,
        experiment_id=link.experiment_id,
        scope=link.scope,
        created_by=created_by,
        created_at=link.created_at,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
        last_used_at=link.last_used_at,
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
    return _read(link, session.scalar(select(User.email).where(User.id == created_by_id)))


def list_links(session: Session, experiment_id: int) -> list[ShareLinkRead]:
    rows = session.execute(
        select(ShareLink, User.email)
        .outerjoin(User, User.id == ShareLink.created_by_id)
        .where(ShareLink.experiment_id == experiment_id)
        .order_by(ShareLink.id.desc())
    )
    return [_read(link, email) for link, email in rows]


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
    """What a live link (not revoked, not expired) grants; records that it was used."""
    link = session.scalars(
        select(ShareLink).where(
            ShareLink.token_hash == token_hash,
            ShareLink.revoked_at.is_(None),
            (ShareLink.expires_at.is_(None)) | (ShareLink.expires_at > now),
        )
    ).first()
    if link is None:
        return None
    if link.last_used_at is None or now - link.last_used_at > TOUCH_INTERVAL:
        link.last_used_at = now
    return ShareGrantRead(
        link_id=link.id, experiment_id=link.experiment_id, scope=link.scope, expires_at=link.expires_at
    )
