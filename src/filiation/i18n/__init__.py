"""One localisation system for everything filiation writes for people: web pages and their
scripts, CLI summaries, dossier exports (Markdown, CSV, PDF) and letters.

The catalogues are ``{lang}.json`` next to this file, one flat table of keys each. A value
is a string with ``{name}`` placeholders, or a plural message, an object holding one text
per CLDR plural category of the language (``{"one": "{n} model", "other": "{n} models"}``),
chosen by Babel's plural rules (French says "0 modèle", "1 modèle", "2 modèles"; English
"0 models"). Numbers and dates are formatted by Babel for the locale, and French texts get
their typography (a narrow no-break space before ``: ; ? !`` and inside « »).

A key missing from one language is an error, and the suite checks that every language holds
the same keys with every plural category it needs, so no output silently mixes languages.
"""

from __future__ import annotations

import json
import re
from datetime import date as Date
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_compact_decimal, format_decimal

from filiation.errors import InvalidArgumentError

LANGUAGES: tuple[str, ...] = ("en", "fr")
DEFAULT_LANGUAGE = "en"

#: A catalogue value: a text, or a plural message (CLDR category -> text).
Entry = str | dict[str, str]

NARROW_NBSP = "\u202f"
_BEFORE_PUNCT = re.compile(r"[ \u00a0]([:;?!»])")
_AFTER_GUILLEMET = re.compile(r"«[ \u00a0]")


def check_language(lang: str) -> str:
    """``lang`` if filiation speaks it, else a clear error naming the languages it does."""
    if lang not in LANGUAGES:
        raise InvalidArgumentError(f"unknown language {lang!r}; use one of: {', '.join(LANGUAGES)}")
    return lang


def typography(lang: str, text: str) -> str:
    """``text`` with the spacing rules of ``lang``: in French a narrow no-break space before
    ``: ; ? !`` and inside guillemets, so a line never starts with a colon. Applied to the
    catalogue's texts only, never to the ids and URLs filled into them."""
    if lang != "fr":
        return text
    text = _BEFORE_PUNCT.sub(NARROW_NBSP + r"\1", text)
    return _AFTER_GUILLEMET.sub("«" + NARROW_NBSP, text)


def _entry(lang: str, value: Any, key: str) -> Entry:
    if isinstance(value, str):
        return typography(lang, value)
    if isinstance(value, dict) and value and all(isinstance(v, str) for v in value.values()):
        return {str(k): typography(lang, v) for k, v in value.items()}
    raise ValueError(f"i18n/{lang}.json: {key!r} must be a string or an object of strings")


@cache
def table(lang: str) -> dict[str, Entry]:
    """The catalogue of ``lang`` (typography applied), as served to the web scripts."""
    text = (resources.files("filiation.i18n") / f"{check_language(lang)}.json").read_text("utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"i18n/{lang}.json must be an object")
    return {str(k): _entry(lang, v, str(k)) for k, v in data.items()}


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


def plural_categories(lang: str) -> set[str]:
    """The CLDR plural categories a plural message of ``lang`` must hold: ``other`` and,
    where the language has it, ``one``. A rarer category (French ``many``, for exact
    millions: "1 000 000 de modèles") falls back to ``other`` when a message lacks it."""
    return ({"one"} & set(_locale(lang).plural_form.tags)) | {"other"}


def translate(lang: str, key: str, /, count: int | None = None, **values: Any) -> str:
    """The text of ``key`` in ``lang`` with its ``{name}`` placeholders filled in.

    A plural message picks its form by ``count`` under the language's CLDR rules (``None``,
    an unknown count, takes the general form), and its ``{n}`` is ``count`` formatted for the
    locale unless given."""
    entry = table(lang)[key]
    if isinstance(entry, dict):
        # An unknown count (a model whose downloads nobody reported) reads as "— downloads".
        form = "other" if count is None else _locale(lang).plural_form(abs(count))
        text = entry.get(form, entry["other"])
    else:
        text = entry
    if count is not None or isinstance(entry, dict):
        values.setdefault("n", number(lang, count))
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
    """A count as the locale writes it: ``12,345`` in English, ``12 345`` in French."""
    if value is None:
        return "—"
    return format_decimal(value, format="#,##0.#", locale=_locale(lang))


def decimal(lang: str, value: float | None, places: int = 2) -> str:
    """A fraction such as a confidence: ``0.86`` in English, ``0,86`` in French."""
    if value is None:
        return "—"
    return format_decimal(value, format="0." + "0" * places, locale=_locale(lang))


def compact(lang: str, value: int | None) -> str:
    """A large count in words, the way a reader of ``lang`` says it (parameters): ``8 billion``,
    ``779.6 million``; ``8 milliards``, ``779,6 millions``. Babel's CLDR long compact forms
    (number and agreement per locale) rather than abbreviations: French "Md" or "G" for a
    milliard are not read at a glance, and English "B" is ambiguous. Below a million the
    count is written whole ("1,5 millier" is not French). The number and its word never part
    at the end of a line."""
    if value is None:
        return "—"
    if abs(value) < 1_000_000:
        return number(lang, value)
    text = format_compact_decimal(
        value, format_type="long", fraction_digits=1, locale=_locale(lang)
    )
    return text.replace(" ", "\u00a0")


def task(lang: str, tag: str | None) -> str:
    """The Hub's pipeline tag (``text-generation``) as a reader of ``lang`` names the task
    ("text generation", « génération de texte »); a tag the catalogue does not know yet (the
    Hub adds some) is shown as is."""
    if not tag:
        return "—"
    key = f"task.{tag}"
    return translate(lang, key) if key in table(lang) else tag


def check_figures(lang: str, rule: str, values: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures of a check that contradicts a declared link (``filiation check``) as a
    reader of ``lang`` reads them: named in the language, parameter counts in words, dates in
    full ("child 2024-05-14T02:02:30" read as English on a French page or letter)."""
    out = []
    for key, value in values.items():
        name = f"check.key.{key}"
        label = translate(lang, name) if name in table(lang) else key
        if rule == "other_size" and isinstance(value, int):
            text = compact(lang, value)
        elif rule == "child_older" and isinstance(value, str):
            text = date_time(lang, datetime.fromisoformat(value))
        elif value == "gguf only":
            text = translate(lang, "check.value.gguf_only")
        elif isinstance(value, int):
            text = number(lang, value)
        else:
            text = "—" if value is None else str(value)
        out.append((label, text))
    return out


def date(lang: str, value: datetime | Date | None) -> str:
    """A calendar date as the locale writes it in full: ``December 4, 2026``,
    ``4 décembre 2026``, and ``1er décembre 2026``: French writes the first of the month as
    an ordinal, which CLDR's pattern (``d MMMM y``) does not."""
    if value is None:
        return "—"
    text = format_date(value, format="long", locale=_locale(lang))
    if lang == "fr" and value.day == 1 and text.startswith("1 "):
        text = "1er" + text[1:]
    return text


def time(lang: str, value: datetime | None) -> str:
    """A time of day as the locale writes it: ``20:13`` in English, ``20 h 13`` in French.

    The Babel pattern is the catalogue's ``format.time``: CLDR's French short time is
    ``20:13``, but a French text reads "20 h 13" (Imprimerie nationale), so the catalogue,
    not the code, says how each language writes it."""
    if value is None:
        return "—"
    return format_time(value, format=translate(lang, "format.time"), locale=_locale(lang))


def date_time(lang: str, value: datetime | None) -> str:
    """A date and time in UTC as a sentence of ``lang`` reads it: ``December 4, 2026,
    20:13 UTC``; ``4 décembre 2026 à 20 h 13 UTC``."""
    if value is None:
        return "—"
    return translate(lang, "format.date_time", date=date(lang, value), time=time(lang, value))


__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "check_language",
    "compact",
    "date",
    "date_time",
    "decimal",
    "negotiate",
    "number",
    "plural_categories",
    "table",
    "task",
    "time",
    "translate",
    "typography",
]


def counted(value: int, one: str, other: str | None = None) -> str:
    """``1 model``, ``7,997 models``: a count with its English noun in the right number, for
    the texts written in English only (the CLI, model cards, SPDX comments)."""
    return f"{value:,} {one if value == 1 else (other or one + 's')}"
