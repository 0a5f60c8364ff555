"""Users, their sessions, API tokens, one-time sign-in links and failed sign-ins. Secrets arrive hashed."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from backend.api_models.accounts import ApiTokenRead, UserRead
from backend.models import ApiToken, LoginFailure, LoginToken, User, UserSession

# Rewriting last-used times on every request would turn each read into a write.
TOUCH_INTERVAL = timedelta(minutes=1)


def _user_read(user: User) -> UserRead:
    return UserRead(id=user.id, email=user.email, has_password=user.password_hash is not None)


def find_user(session: Session, email: str) -> UserRead | None:
    user = session.scalars(select(User).where(User.email == email.lower())).first()
    return _user_read(user) if user is not None else None


def get_user(session: Session, user_id: int) -> UserRead | None:
    user = session.get(User, user_id)
    return _user_read(user) if user is not None else None


def password_hash_of(session: Session, user_id: int) -> str | None:
    return session.scalar(select(User.password_hash).where(User.id == user_id))


def create_user(session: Session, email: str, password_hash: str | None) -> UserRead:
    user = User(email=email.lower(), password_hash=password_hash)
    session.add(user)
    session.flush()
    return _user_read(user)


def set_password_hash(session: Session, user_id: int, password_hash: str) -> None:
    session.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


# --- browser sessions -------------------------------------------------------------------------------


def create_session(session: Session, user_id: int, token_hash: str, expires_at: datetime) -> None:
    session.add(UserSession(user_id=user_id, token_hash=token_hash, expires_at=expires_at))
    session.flush()


def user_of_session(session: Session, token_hash: str, now: datetime) -> UserRead | None:
    """The session's user if it exists and has not expired; records that it was seen."""
    row = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == token_hash, UserSession.expires_at > now)
    ).first()
    if row is None:
        return None
    user_session, user = row
    if now - user_session.last_seen_at > TOUCH_INTERVAL:
        user_session.last_seen_at = now
    return _user_read(user)


def delete_session(session: Session, token_hash: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_hash == token_hash))


def delete_sessions_except(session: Session, user_id: int, keep_hash: str | None) -> None:
    query = delete(UserSession).where(UserSession.user_id == user_id)
    if keep_hash is not None:
        query = query.where(UserSession.token_hash != keep_hash)
    session.execute(query)


def delete_expired_sessions(session: Session, now: datetime) -> None:
    session.execute(delete(UserSession).where(UserSession.expires_at <= now))


# --- API tokens -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenHolder:
    user: UserRead
    token_id: int
    can_write: bool


def create_api_token(
    session: Session, user_id: int, name: str, token_hash: str, can_write: bool
) -> ApiTokenRead:
    token = ApiToken(user_id=user_id, name=name, token_hash=token_hash, can_write=can_write)
    session.add(token)
    session.flush()
    return ApiTokenRead.model_validate(token)


def list_api_tokens(session: Session, user_id: int) -> list[ApiTokenRead]:
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id))
    return [ApiTokenRead.model_validate(token) for token in tokens]


def revoke_api_token(session: Session, user_id: int, token_id: int, now: datetime) -> bool:
    """False if the user has no such token; revoking twice is harmless."""
    token = session.scalars(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
    ).first()
    if token is None:
        return False
    if token.revoked_at is None:
        token.revoked_at = now
    return True


def holder_of_api_token(session: Session, token_hash: str, now: datetime) -> TokenHolder | None:
    """The user behind a token that exists and is not revoked; records when it was used."""
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    token, user = row
    if token.last_used_at is None or now - token.last_used_at > TOUCH_INTERVAL:
        token.last_used_at = now
    return TokenHolder(user=_user_read(user), token_id=token.id, can_write=token.can_write)


# --- one-time sign-in links -------------------------------------------------------------------------


def create_login_token(session: Session, user_id: int, token_hash: str, expires_at: datetime) -> None:
    session.add(LoginToken(user_id=user_id, token_hash=token_hash, expires_at=expires_at))
    session.flush()


def consume_login_token(session: Session, token_hash: str, now: datetime) -> int | None:
    """Mark the link used and return its user id, if it is unused and unexpired (one UPDATE: two
    requests racing for one link cannot both win)."""
    used = session.execute(
        update(LoginToken)
        .where(LoginToken.token_hash == token_hash, LoginToken.used_at.is_(None), LoginToken.expires_at > now)
        .values(used_at=now)
        .returning(LoginToken.user_id)
    )
    return used.scalar_one_or_none()


# --- failed sign-ins --------------------------------------------------------------------------------


def record_login_failure(session: Session, email: str, client_address: str, now: datetime) -> int:
    failure = LoginFailure(email=email.lower(), client_address=client_address, created_at=now)
    session.add(failure)
    session.flush()
    return failure.id


def delete_login_failure(session: Session, failure_id: int) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.id == failure_id))


def recent_failures(
    session: Session, *, email: str | None = None, client_address: str | None = None, since: datetime
) -> tuple[int, datetime | None]:
    """How many failures since `since` for the account, the address or both, and the oldest of them."""
    query = select(func.count(), func.min(LoginFailure.created_at)).where(LoginFailure.created_at > since)
    if email is not None:
        query = query.where(LoginFailure.email == email.lower())
    if client_address is not None:
        query = query.where(LoginFailure.client_address == client_address)
    count, oldest = session.execute(query).one()
    return count, oldest


def forget_login_failures(
    session: Session,
    *,
    email: str | None = None,
    client_address: str | None = None,
    before: datetime | None = None,
) -> None:
    query = delete(LoginFailure)
    if email is not None:
        query = query.where(LoginFailure.email == email.lower())
    if client_address is not None:
        query = query.where(LoginFailure.client_address == client_address)
    if before is not None:
        query = query.where(LoginFailure.created_at <= before)
    session.execute(query)
