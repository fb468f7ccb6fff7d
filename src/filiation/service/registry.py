"""The registry (``Genealogy.registry``) as the interfaces see it: the :class:`Registry`
facade's type, its records, its coded values and the secrets the web session needs.

The registry's code lives in :mod:`filiation.registry` (users and auth, records, imports);
the CLI, the API and the web pages import its public names from here, and its errors from
:mod:`filiation.errors`. Each name is loaded on first use (PEP 562, like
:mod:`filiation.service`): the CLI names the coded values in its help without loading
pydantic or SQLAlchemy (``tests/test_lazy_imports.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from filiation.service import lazy_names

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

#: Where each public name lives (a name of another name there: ``(module, name)``).
_HOMES: dict[str, str | tuple[str, str]] = {
    **dict.fromkeys(("SESSION_HOURS", "Ref", "Registry"), "filiation.registry.service"),
    **dict.fromkeys(
        (
            "AISystem",
            "FlaggedDataset",
            "HistoryEntry",
            "RegisteredModel",
            "TokenInfo",
            "TrainingRun",
            "Use",
            "User",
        ),
        "filiation.registry.models",
    ),
    **dict.fromkeys(
        (
            "LEARNING_TYPE_DEFINITIONS",
            "LearningType",
            "OrgRole",
            "Provenance",
            "Role",
            "SystemStatus",
        ),
        "filiation.registry.vocabulary",
    ),
    # Secrets: a new random token (CSRF, sessions), and their constant-time comparison.
    "new_token": "filiation.registry.auth",
    "same_secret": ("filiation.registry.auth", "same"),
}

__getattr__ = lazy_names(globals(), _HOMES)


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
