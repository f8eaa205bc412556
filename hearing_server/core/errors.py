"""Domain errors. Each carries a stable machine-readable ``code`` that the API and signaling
layers pass through to clients unchanged."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ValidationError(DomainError):
    """A value does not satisfy the domain's rules (bad case number, window, name...)."""

    code = "invalid_value"


class InvalidTransition(DomainError):
    """A state change that the state machine does not allow from the current state."""

    code = "invalid_transition"


class Forbidden(DomainError):
    """The actor's role may not perform the action."""

    code = "forbidden"


class NotFound(DomainError):
    """A hearing, participant or room that does not exist."""

    code = "not_found"


class Conflict(DomainError):
    """The action conflicts with the current state (e.g. a locked room, a closed hearing)."""

    code = "conflict"


class TooLarge(DomainError):
    """An upload or body beyond its limit (HTTP 413)."""

    code = "too_large"


class Locked(DomainError):
    """Too many attempts, or too soon: try again after ``until`` (HTTP 429)."""

    code = "identity_locked"

    def __init__(self, message: str, *, until: object = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.until = until


class Unavailable(DomainError):
    """Something outside the server (an SMS gateway, a mail server) failed even after retries
    (HTTP 502); the message says what, so it is shown, never swallowed."""

    code = "unavailable"
