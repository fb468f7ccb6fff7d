"""Translations of the web pages: ``web/i18n/{fr,en}.json``, one flat table of keys each.

Every visible text of the pages (templates and scripts) comes from these files; the scripts
load the same file from ``/i18n/{lang}.json``. A key missing from a language is an error
(the tests check that both files hold the same keys), so no page silently mixes languages.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES: tuple[str, ...] = ("en", "fr")
DEFAULT_LANGUAGE = "en"


@cache
def table(lang: str) -> dict[str, str]:
    text = (resources.files("filiation.i18n") / f"{lang}.json").read_text("utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"i18n/{lang}.json must be an object of strings")
    return {str(k): str(v) for k, v in data.items()}


def translate(lang: str, key: str, /, **values: Any) -> str:
    """The text of ``key`` in ``lang``, with ``{name}`` placeholders filled in."""
    text = table(lang)[key]
    return text.format(**values) if values else text


def negotiate(accept_language: str | None) -> str:
    """The supported language the browser prefers (``Accept-Language``), else English."""
    best, best_q = DEFAULT_LANGUAGE, -1.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        q -= position * 1e-6  # equal weights: the first listed wins
        if q > 0 and q > best_q:
            best, best_q = primary, q
    return best


def number(lang: str, value: int | float | None) -> str:
    """A count as people read it: ``12,345`` in English, ``12 345`` in French."""
    if value is None:
        return "—"
    text = (
        f"{value:,.0f}" if isinstance(value, int) or float(value).is_integer() else f"{value:,.1f}"
    )
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


def decimal(lang: str, value: float | None, places: int = 2) -> str:
    """A fraction such as a confidence: ``0.86`` in English, ``0,86`` in French."""
    if value is None:
        return "—"
    text = f"{value:.{places}f}"
    return text.replace(".", ",") if lang == "fr" else text


def compact(lang: str, value: int | None) -> str:
    """A large count in short form (parameters): ``8.0 B`` / ``8,0 Md``."""
    if value is None:
        return "—"
    units = [(1e12, "unit.T"), (1e9, "unit.B"), (1e6, "unit.M"), (1e3, "unit.k")]
    for size, key in units:
        if abs(value) >= size:
            text = f"{value / size:.1f}"
            if lang == "fr":
                text = text.replace(".", ",")
            return f"{text}\u00a0{translate(lang, key)}"
    return number(lang, value)


def date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "—"
