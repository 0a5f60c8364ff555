"""Signing in and out, passwords, API tokens, one-time sign-in links, and the local owner account."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from backend.api_models.accounts import ApiTokenCreated, ApiTokenRead, ShareGrantRead, UserRead
from backend.config import Settings
from backend.domain import Role
from backend.errors import InvalidInput, NotAuthenticated, NotFound, TooManyRequests
from backend.models import utcnow
from backend.redirects import same_site_path
from backend.repositories import accounts as repository
from backend.repositories import projects as project_repository
from backend.repositories import sharing as share_repository
from backend.repositories.accounts import TokenHolder
from backend.security import (
    MIN_PASSWORD_LENGTH,
    TokenKind,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)

DEFAULT_PROJECT = "default"


@dataclass(frozen=True)
class NewSession:
    user: UserRead
    # The session cookie's value: the only copy of the secret, never stored.
    session_token: str


def _retry_after(oldest: datetime | None, window: timedelta, now: datetime) -> int:
    return max(1, math.ceil(((oldest or now) + window - now).total_seconds()))


def _begin_password_attempt(session: Session, settings: Settings, email: str, client_address: str) -> int:
    """Record a password attempt as a failure before the password is checked, and refuse it (429) if it
    takes the account from this address, or this address, over its limit within the window. Returns the
    attempt's row, which `_password_checked` removes if the password was right.

    Recording first, committed, then counting is what makes concurrent attempts safe: each attempt's count
    includes its own row and every row committed before it, so whatever the interleaving, at most `limit`
    attempts see a count within the limit; the others are refused and remove their rows. Failures count per
    (account, address): someone failing an account's password elsewhere cannot lock its owner out.
    """
    now = utcnow()
    window = timedelta(minutes=settings.login_failure_window_minutes)
    attempt_id = repository.record_login_failure(session, email, client_address, now)
    # Old failures no longer count towards any limit.
    repository.forget_login_failures(session, before=now - window)
    session.commit()
    for what, limit, key in (
        (
            "this account from your address",
            settings.login_failures_per_account,
            {"email": email, "client_address": client_address},
        ),
        ("your address", settings.login_failures_per_address, {"client_address": client_address}),
    ):
        count, oldest = repository.recent_failures(session, since=now - window, **key)
        if count > limit:
            repository.delete_login_failure(session, attempt_id)
            session.commit()
            wait = _retry_after(oldest, window, now)
            raise TooManyRequests(
                f"too many failed sign-in attempts for {what} ({count - 1} in "
                f"{settings.login_failure_window_minutes:g} minutes); try again in {wait} s",
                retry_after_s=wait,
            )
    return attempt_id


def _password_checked(session: Session, attempt_id: int, right: bool) -> None:
    """A wrong password leaves the attempt's row as a failure; a right one removes it."""
    if right:
        repository.delete_login_failure(session, attempt_id)
    session.commit()


def start_session(session: Session, settings: Settings, user_id: int) -> str:
    token = new_token(TokenKind.SESSION)
    now = utcnow()
    repository.delete_expired_sessions(session, now)
    repository.create_session(
        session, user_id, token_hash(token), expires_at=now + timedelta(hours=settings.session_hours)
    )
    return token


def sign_in(
    session: Session, settings: Settings, email: str, password: str, client_address: str
) -> NewSession:
    """A new session for the account, if the password is right and neither the account nor the
    address has failed too often lately."""
    email = email.strip().lower()
    attempt_id = _begin_password_attempt(session, settings, email, client_address)
    user = repository.find_user(session, email)
    stored = repository.password_hash_of(session, user.id) if user is not None else None
    right = user is not None and verify_password(stored, password)
    _password_checked(session, attempt_id, right)
    if user is None or not right:
        raise NotAuthenticated("wrong email or password")
    repository.forget_login_failures(session, email=email, client_address=client_address)
    token = start_session(session, settings, user.id)
    session.commit()
    return NewSession(user=user, session_token=token)


def sign_out(session: Session, session_token: str) -> None:
    repository.delete_session(session, token_hash(session_token))
    session.commit()


def user_of_session(session: Session, session_token: str) -> UserRead | None:
    user = repository.user_of_session(session, token_hash(session_token), utcnow())
    session.commit()
    return user


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the new password must have at least {MIN_PASSWORD_LENGTH} characters")


def change_password(
    session: Session,
    settings: Settings,
    user: UserRead,
    current_password: str | None,
    new_password: str,
    *,
    client_address: str,
    keep_session_token: str | None,
) -> None:
    """Set a new password (the current one is required if there is one) and end every other session."""
    if user.has_password:
        attempt_id = _begin_password_attempt(session, settings, user.email, client_address)
        stored = repository.password_hash_of(session, user.id)
        right = verify_password(stored, current_password or "")
        _password_checked(session, attempt_id, right)
        if not right:
            raise InvalidInput("the current password is wrong")
    check_new_password(new_password)
    repository.set_password_hash(session, user.id, hash_password(new_password))
    repository.delete_sessions_except(
        session, user.id, token_hash(keep_session_token) if keep_session_token else None
    )
    session.commit()


# --- API tokens -------------------------------------------------------------------------------------


def create_api_token(session: Session, user_id: int, name: str, *, can_write: bool) -> ApiTokenCreated:
    token = new_token(TokenKind.API)
    stored = repository.create_api_token(session, user_id, name, token_hash(token), can_write)
    session.commit()
    return ApiTokenCreated(**stored.model_dump(), token=token)


def list_api_tokens(session: Session, user_id: int) -> list[ApiTokenRead]:
    return repository.list_api_tokens(session, user_id)


def revoke_api_token(session: Session, user_id: int, token_id: int) -> None:
    if not repository.revoke_api_token(session, user_id, token_id, utcnow()):
        raise NotFound(f"API token {token_id} not found")
    session.commit()


def holder_of_api_token(session: Session, token: str) -> TokenHolder | None:
    holder = repository.holder_of_api_token(session, token_hash(token), utcnow())
    session.commit()
    return holder


def grant_of_share_token(session: Session, token: str) -> ShareGrantRead | None:
    grant = share_repository.grant_of(session, token_hash(token), utcnow())
    session.commit()
    return grant


# --- one-time sign-in links, accounts ---------------------------------------------------------------


def create_login_link(session: Session, settings: Settings, user_id: int, next_path: str = "/") -> str:
    """The path of a single-use sign-in link (like Jupyter's token URL), valid for a few minutes, that
    opens `next_path` once signed in."""
    token = new_token(TokenKind.LOGIN)
    expires_at = utcnow() + timedelta(minutes=settings.login_link_minutes)
    repository.create_login_token(session, user_id, token_hash(token), expires_at)
    session.commit()
    next_path = same_site_path(next_path)
    query = {"token": token} if next_path == "/" else {"token": token, "next": next_path}
    return f"/login/once?{urlencode(query)}"


def use_login_link(session: Session, settings: Settings, token: str) -> str | None:
    """A new session token for the link's user, or None if the link is unknown, used or expired."""
    user_id = repository.consume_login_token(session, token_hash(token), utcnow())
    if user_id is None:
        return None
    session_token = start_session(session, settings, user_id)
    session.commit()
    return session_token


def add_user(session: Session, email: str, password: str | None = None) -> UserRead:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise InvalidInput(f"{email!r} is not an email address")
    if repository.find_user(session, email) is not None:
        raise InvalidInput(f"an account for {email} exists already")
    if password is not None:
        check_new_password(password)
    user = repository.create_user(session, email, hash_password(password) if password else None)
    session.commit()
    return user


def find_or_add_user(session: Session, email: str) -> UserRead:
    """The account of a user signed in by the single-sign-on proxy, created on their first visit."""
    return repository.find_user(session, email) or add_user(session, email)


def find_user(session: Session, email: str | None, settings: Settings) -> UserRead:
    """The named account, or the local owner; for the command line."""
    email = email or settings.local_owner_email
    user = repository.find_user(session, email)
    if user is None:
        raise NotFound(f"no account {email}; create it with `seedscope user add {email}`")
    return user


def ensure_local_owner(session: Session, settings: Settings) -> None:
    """On the first start (no accounts yet), an owner account without a password (it signs in by
    one-time link) that owns a default project, or the projects migration 0004 made for existing data."""
    if repository.count_users(session) > 0:
        return
    owner = repository.create_user(session, settings.local_owner_email, None)
    orphans = project_repository.projects_without_members(session)
    for project_id in orphans:
        project_repository.add_member(session, project_id, owner.id, Role.OWNER)
    if not orphans:
        project_repository.create_project(session, DEFAULT_PROJECT, owner.id)
    session.commit()
