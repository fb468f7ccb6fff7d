"""One error hierarchy, whose messages say what to do next.

The CLI prints these without a traceback and exits non-zero; the API turns them into HTTP
errors. Anything else escaping is a bug.
"""

from __future__ import annotations


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
