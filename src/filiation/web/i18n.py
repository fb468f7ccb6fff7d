"""The web pages' side of :mod:`filiation.i18n`: the same catalogues, the same formatting.

Kept so that ``from filiation.web import i18n`` goes on working; everything is defined once,
in :mod:`filiation.i18n`.
"""

from __future__ import annotations

from filiation.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    compact,
    date,
    date_time,
    decimal,
    negotiate,
    number,
    table,
    task,
    translate,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "compact",
    "date",
    "date_time",
    "decimal",
    "negotiate",
    "number",
    "table",
    "task",
    "translate",
]
