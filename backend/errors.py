"""Domain errors, mapped to HTTP status codes in one place (backend.api.app)."""


class DomainError(Exception):
    """Base class: the message is shown to the user as is."""

    status_code = 400


class NotFound(DomainError):
    status_code = 404


class InvalidInput(DomainError):
    status_code = 422


class Conflict(DomainError):
    status_code = 409


class QueueUnavailable(DomainError):
    status_code = 503
