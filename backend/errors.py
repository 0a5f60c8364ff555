"""Domain errors, mapped to HTTP status codes in one place (backend.api.app)."""


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
