"""The registry (``Genealogy.registry``) as the interfaces see it: the :class:`Registry`
facade's type, its records, its coded values and the secrets the web session needs.

The registry's code lives in :mod:`filiation.registry` (users and auth, records, imports);
the CLI, the API and the web pages import its public names from here, and its errors from
:mod:`filiation.errors`. Each name is loaded on first use (PEP 562, like
:mod:`filiation.service`): the CLI names the coded values in its help without loading
pydantic or SQLAlchemy (``tests/test_lazy_imports.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from filiation.registry.auth import new_token
    from filiation.registry.auth import same as same_secret
    from filiation.registry.models import (
        AISystem,
        FlaggedDataset,
        HistoryEntry,
        RegisteredModel,
        TokenInfo,
        TrainingRun,
        Use,
        User,
    )
    from filiation.registry.service import SESSION_HOURS, Ref, Registry
    from filiation.registry.vocabulary import (
        LEARNING_TYPE_DEFINITIONS,
        LearningType,
        OrgRole,
        Provenance,
        Role,
        SystemStatus,
    )

#: Public name -> (module, name there).
_HOMES: dict[str, tuple[str, str]] = {
    **{name: ("filiation.registry.service", name) for name in ("SESSION_HOURS", "Ref", "Registry")},
    **{
        name: ("filiation.registry.models", name)
        for name in (
            "AISystem",
            "FlaggedDataset",
            "HistoryEntry",
            "RegisteredModel",
            "TokenInfo",
            "TrainingRun",
            "Use",
            "User",
        )
    },
    **{
        name: ("filiation.registry.vocabulary", name)
        for name in (
            "LEARNING_TYPE_DEFINITIONS",
            "LearningType",
            "OrgRole",
            "Provenance",
            "Role",
            "SystemStatus",
        )
    },
    # Secrets: a new random token (CSRF, sessions), and their constant-time comparison.
    "new_token": ("filiation.registry.auth", "new_token"),
    "same_secret": ("filiation.registry.auth", "same"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home[0]), home[1])
    globals()[name] = value  # found directly next time
    return value


__all__ = [
    "LEARNING_TYPE_DEFINITIONS",
    "SESSION_HOURS",
    "AISystem",
    "FlaggedDataset",
    "HistoryEntry",
    "LearningType",
    "OrgRole",
    "Provenance",
    "Ref",
    "RegisteredModel",
    "Registry",
    "Role",
    "SystemStatus",
    "TokenInfo",
    "TrainingRun",
    "Use",
    "User",
    "new_token",
    "same_secret",
]
