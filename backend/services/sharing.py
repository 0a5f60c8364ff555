"""Read-only share links to one experiment's dashboard."""

from datetime import datetime

from sqlalchemy.orm import Session

from backend.api_models.accounts import ShareLinkCreated, ShareLinkRead
from backend.domain import ShareScope
from backend.errors import InvalidInput, NotFound
from backend.models import utcnow
from backend.repositories import sharing as repository
from backend.security import TokenKind, new_token, token_hash


def share_path(token: str) -> str:
    return f"/share/{token}"


def create_link(
    session: Session,
    experiment_id: int,
    created_by_id: int,
    scope: ShareScope,
    expires_at: datetime | None,
) -> ShareLinkCreated:
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("expires_at must be in the future")
    token = new_token(TokenKind.SHARE)
    link = repository.create_link(session, experiment_id, token_hash(token), scope, created_by_id, expires_at)
    session.commit()
    return ShareLinkCreated(**link.model_dump(), path=share_path(token))


def list_links(session: Session, experiment_id: int) -> list[ShareLinkRead]:
    return repository.list_links(session, experiment_id, utcnow())


def revoke_link(session: Session, experiment_id: int, link_id: int) -> None:
    if not repository.revoke_link(session, experiment_id, link_id, utcnow()):
        raise NotFound(f"share link {link_id} not found")
    session.commit()
