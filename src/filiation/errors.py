"""One error hierarchy, whose messages say what to do next.

The CLI prints these without a traceback and exits non-zero; the API turns them into HTTP
errors. Anything else escaping is a bug. The registry's errors (``Genealogy.registry``) are
here too, at the end: the interfaces map every error from this one module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filiation.registry.etalab import ImportReport, RowProblem


class FiliationError(Exception):
    """Base of every error filiation raises on purpose."""

    exit_code = 1


class InvalidArgumentError(FiliationError, ValueError):
    """A caller passed something that cannot be right (bad relation, negative depth...)."""

    exit_code = 2


class NodeNotFoundError(FiliationError, LookupError):
    """An id is not in the loaded genealogy."""

    exit_code = 3

    def __init__(self, node_id: str, suggestions: list[str] | None = None) -> None:
        self.node_id = node_id
        self.suggestions = suggestions or []
        msg = f"{node_id!r} is not in the loaded genealogy"
        if self.suggestions:
            msg += "; did you mean: " + ", ".join(self.suggestions) + "?"
        else:
            msg += "; try `filiation search` to find the exact id"
        super().__init__(msg)


class SourceError(FiliationError):
    """An input file or download cannot be read as the format it claims to be."""

    exit_code = 4


class StoreError(FiliationError):
    """The store cannot be opened or written (permissions, full disk, corrupt file)."""

    exit_code = 5


class MissingExtraError(FiliationError, ImportError):
    """An optional feature needs packages that are not installed (an extra of filiation)."""

    exit_code = 8

    def __init__(self, extra: str, missing: str) -> None:
        self.extra = extra
        super().__init__(f"{missing} is not installed: pip install 'filiation[{extra}]'")


class BusyError(FiliationError):
    """Too many costly requests at once (PDF dossiers): try again in ``retry_after`` s."""

    exit_code = 9

    def __init__(self, message: str, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


# -- the registry's ---------------------------------------------------------------------------
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
    """One or more fields of a record are invalid; nothing was written. It carries one
    message per field, so that forms can show each next to its field and the API can return
    them as ``fields``."""

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


class EtalabImportError(InvalidArgumentError):
    """Rows of an inventory are invalid and the import was strict (or the header is): nothing
    was imported. ``problems`` and ``report`` are :mod:`filiation.registry.etalab`'s."""

    def __init__(self, problems: list[RowProblem], report: ImportReport | None = None) -> None:
        self.problems = problems
        self.report = report
        count = report.problem_count if report else len(problems)
        shown = "; ".join(f"line {p.line}: {p.field}: {p.message}" for p in problems[:20])
        more = f" (and {count - 20} more)" if count > 20 else ""
        super().__init__(f"nothing imported: {count} problem(s) in the inventory: {shown}{more}")
