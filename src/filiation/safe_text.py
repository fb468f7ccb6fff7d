"""Text from the Hub, from files or from users, made safe for where filiation writes it.

Every value filiation shows comes from someone else: a model id, an author, a licence, a
registry entry. Written as it is, it can run as a spreadsheet formula (a CSV cell starting
with ``=``), become live HTML in a Markdown viewer (``<img onerror=...>``) or move a
terminal's cursor (``\\x1b[2J``). Each writer calls the one function here for its medium,
so the rule is written once (docs/security.md).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

#: Cell starts that a spreadsheet reads as a formula (OWASP's list: ``=``, ``+``, ``-``,
#: ``@``, tab, carriage return).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def csv_cell(value: Any) -> str:
    """A CSV cell that no spreadsheet runs as a formula: text starting with a formula
    character gets a leading apostrophe (numbers are written as they are, so ``-3`` stays a
    number)."""
    text = _text(value)
    if isinstance(value, str) and text.startswith(FORMULA_START):
        return "'" + text
    return text


def csv_uncell(text: str) -> str:
    """The value :func:`csv_cell` wrote, so a file filiation exported reads back unchanged."""
    if text.startswith("'") and text[1:].startswith(FORMULA_START):
        return text[1:]
    return text


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_ANY = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, newlines: bool = False) -> str:
    """``text`` without control characters (escape sequences, NUL, bidirectional overrides)
    that would move a terminal's cursor, clear its screen or reorder what it shows; each
    becomes ``?``. Tabs and newlines are kept only when ``newlines`` is true."""
    pattern = _CONTROL if newlines else _CONTROL_ANY
    return pattern.sub("?", text)


_MD_ESCAPE = str.maketrans(
    {
        # Emphasis, code, links and tables: without an unescaped ``[`` no link or image can
        # start, so parentheses, ``!`` and ``#`` (inline, never at a line start) stay plain.
        **{c: "\\" + c for c in "\\`*_{}[]|~"},
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
    }
)


#: Runs of white space that Markdown may break or collapse (line breaks, tabs, spaces), not
#: the no-break spaces French puts before ``:`` and inside "20 h 13".
_BREAKABLE_SPACE = re.compile(r"[^\S\u00a0\u202f\u2007]+")


def md_text(value: Any) -> str:
    """Markdown for a piece of data (an id, a name): shown as typed, never markup. Markdown
    characters are backslash-escaped and HTML's are entities, so no CommonMark viewer (HTML
    enabled or not) renders a tag, a link or a table break from it."""
    # A line break would end a table row; the no-break spaces of French typography stay.
    one_line = _BREAKABLE_SPACE.sub(" ", _text(value)).strip()
    return printable(one_line).translate(_MD_ESCAPE)


#: Characters left as they are in a link target: RFC 3986's unreserved and delimiters, less
#: those that end a Markdown link or start HTML (``( ) < > " '`` and space).
_URL_SAFE = "/:?#[]@!$&*+,;=%-._~"


def md_url(url: str | None) -> str | None:
    """A link target for Markdown: http(s) only, everything else percent-encoded, so no value
    can end the link early or bring a ``javascript:`` scheme; ``None`` when it is not a web
    address."""
    if not url:
        return None
    scheme = urlsplit(url).scheme.lower() if ":" in url else ""
    if scheme not in ("http", "https"):
        return None
    return quote(printable(url), safe=_URL_SAFE)


def md_link(text: Any, url: str | None) -> str:
    """``[text](url)`` with both made safe; the text alone when the url is not a web address."""
    target = md_url(url)
    return f"[{md_text(text)}]({target})" if target else md_text(text)


def console_text(value: Any) -> str:
    """Text for a rich console: printable (:func:`printable`, line breaks kept) and with
    rich's markup escaped, so ``[bold]`` in a name is shown, not applied. The command line
    prints every value from the store through this (imported there as ``escape``)."""
    from rich.markup import escape

    return escape(printable(_text(value), newlines=True))
