"""Domain errors, mapped to HTTP status codes in one place (backend.api.app)."""

from sqlalchemy import exc as sql

from backend.config import env_name


class DomainError(Exception):
    """Base class: the message is shown to the user as is."""

    status_code = 400
    headers: dict[str, str] | None = None


class NotAuthenticated(DomainError):
    """No credential, or one that is not (or no longer) valid."""

    status_code = 401

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    """The caller may see the thing but not do this to it (data of other projects answers NotFound)."""

    status_code = 403


class NotFound(DomainError):
    status_code = 404


class InvalidInput(DomainError):
    status_code = 422


class Conflict(DomainError):
    status_code = 409


class UnsupportedMediaType(DomainError):
    status_code = 415


class TooManyRequests(DomainError):
    status_code = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after_s)}


class QueueUnavailable(DomainError):
    status_code = 503


class DatabaseUnavailable(DomainError):
    status_code = 503


class LimitExceeded(InvalidInput):
    """A request over one of the configured limits (backend.config.Settings); the message names it."""

    def __init__(self, what: str, value: int, limit: int, setting: str) -> None:
        super().__init__(f"{what} is {value:,}, over the limit of {limit:,} (set by {env_name(setting)})")


class PayloadTooLarge(LimitExceeded):
    status_code = 413


def database_reason(error: sql.SQLAlchemyError) -> str:
    """The driver's one-line reason, without SQLAlchemy's statement, parameters and background link."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__


def from_database_error(error: sql.SQLAlchemyError) -> DomainError | None:
    """What a database error means for the request, or None for a programming error (a bug: 500).

    The checks at the edges (specs, uploads, path parameters) name the offending field; this is the net
    behind them, so no value the database refuses and no race between two requests becomes a 500.
    """
    if isinstance(error, sql.IntegrityError):
        # Typically two requests storing the same natural key at once (two identical uploads or
        # re-evaluations): one wins, the other stores nothing.
        return Conflict(
            "the request conflicts with data another request stored at the same moment; nothing was "
            f"stored. Reload, and try again if it is still needed ({database_reason(error)})"
        )
    if isinstance(error, sql.DataError):
        return InvalidInput(f"a value cannot be stored or searched for: {database_reason(error)}")
    if isinstance(error, sql.OperationalError | sql.InterfaceError | sql.TimeoutError):
        return DatabaseUnavailable(
            f"the database is not available: {database_reason(error)}. Try again shortly"
        )
    return None
