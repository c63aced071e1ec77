"""Domain errors raised by services; the web and API layers map them to status codes and messages.

Messages are English message ids marked with ``N_`` so that the pages can show them translated.
"""

from __future__ import annotations

from collections.abc import Mapping


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a message for translation without translating it here."""
    return message


class DomainError(Exception):
    """A request the domain refuses. ``code`` is stable and appears in API error bodies."""

    code = "invalid_request"

    def __init__(self, message: str, *, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})


class ValidationFailed(DomainError):
    """Input that breaks the rules; ``fields`` maps each bad field to what is wrong with it."""

    code = "validation_failed"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class PermissionDenied(DomainError):
    code = "forbidden"


class AuthenticationFailed(DomainError):
    code = "unauthenticated"


class Throttled(DomainError):
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


HTTP_STATUS: dict[type[DomainError], int] = {
    DomainError: 400,
    ValidationFailed: 422,
    NotFound: 404,
    Conflict: 409,
    PermissionDenied: 403,
    AuthenticationFailed: 401,
    Throttled: 429,
}


def http_status(error: DomainError) -> int:
    """The HTTP status that fits ``error`` (its closest class in :data:`HTTP_STATUS`)."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400
