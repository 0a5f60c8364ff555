"""Password hashing (argon2id, argon2-cffi) and secret tokens (stored only as their SHA-256)."""

import hashlib
import secrets
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults
# Verified against when the email is unknown, so a wrong address takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 10


class TokenKind(StrEnum):
    """The prefix of a secret says what it is, so a leaked one is recognisable and routed to its table."""

    SESSION = "sss"
    API = "ssk"
    LOGIN = "ssl"
    SHARE = "ssh"


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; always spends one argon2 verification, even without a stored hash."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token(kind: TokenKind) -> str:
    """A secret of 256 random bits (at least 128 are required), prefixed with its kind."""
    return f"{kind.value}_{secrets.token_urlsafe(32)}"


def token_kind(token: str) -> TokenKind | None:
    prefix, _, _ = token.partition("_")
    try:
        return TokenKind(prefix)
    except ValueError:
        return None


def token_hash(token: str) -> str:
    """SHA-256 is enough for secrets of 256 random bits: there is nothing to guess (unlike passwords)."""
    return hashlib.sha256(token.encode()).hexdigest()
