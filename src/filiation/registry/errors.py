"""The registry's errors, within filiation's hierarchy (the CLI and the API map them).

A :class:`RegistryValidationError` carries one message per field, so that forms can show
each next to its field and the API can return them as ``fields``.
"""

from __future__ import annotations

from filiation.errors import FiliationError, InvalidArgumentError


class FieldProblem:
    """What is wrong with one field: a stable ``code`` (translated by the web pages) and
    an English message (CLI, API)."""

    __slots__ = ("code", "message", "values")

    def __init__(self, code: str, message: str, **values: str) -> None:
        self.code = code
        self.message = message
        self.values = values

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "values": self.values}


class RegistryValidationError(InvalidArgumentError):
    """One or more fields of a record are invalid; nothing was written."""

    def __init__(
        self,
        fields: dict[str, FieldProblem],
        what: str = "record",
        partial: dict[str, object] | None = None,
    ) -> None:
        self.fields = fields
        #: The values that passed their own checks (so that checks needing the database
        #: can still report on them, and a form shows every problem at once).
        self.partial = partial
        detail = "; ".join(f"{name}: {p.message}" for name, p in fields.items())
        super().__init__(f"invalid {what}: {detail}")


class RecordNotFoundError(FiliationError, LookupError):
    """No registered model, system or user by that name or number."""

    exit_code = 3


class AuthenticationError(FiliationError):
    """No valid credentials (unknown user, wrong password, revoked or unknown token)."""

    exit_code = 6


class LoginThrottledError(AuthenticationError):
    """Too many failed logins for this name, or from this address, lately: the password is
    not even checked until ``retry_after`` seconds have passed."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDeniedError(FiliationError):
    """The user is known but their role does not allow this."""

    exit_code = 7
