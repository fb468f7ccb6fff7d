"""Request letters to publishers, in French and English, one per publisher.

The text of each letter is a Jinja2 template next to this file, one per right and language
(``en/erasure.txt.j2``, ``fr/access.txt.j2``…) with the parts they share in ``_parts.txt.j2``,
so that a lawyer can read and amend the wording without reading Python. This module only
gathers what the templates need: the publisher, its affected models and why each is
concerned (the chain of links from the source, in the language's words), the models it
publishes that are merely suspected (a paragraph of their own, to verify), and the
requester's choices (the grounds of an erasure, an objection to direct marketing).

What only the requester knows (name, contact, the personal data concerned, the grounds of an
objection…) is left as placeholders between double brackets, ``[[LIKE THIS]]``, so that
nothing is sent half-filled unnoticed: :data:`PLACEHOLDER` finds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel

from filiation import i18n
from filiation.domain import ERASURE_GROUNDS
from filiation.errors import InvalidArgumentError
from filiation.i18n import check_language
from filiation.results import HUB
from filiation.rights.dossier import (
    ARTICLES,
    Dossier,
    Publisher,
    Right,
    describe_path,
    publisher_label,
)

LANGUAGES = i18n.LANGUAGES

#: A placeholder the requester must fill.
PLACEHOLDER = re.compile(r"\[\[[^\]]+\]\]")


_GROUND = re.compile(r"^(?:art(?:icle)?\.?\s*)?(?:17\s*\(1\)\s*)?\(?([a-f])\)?$")


class Letter(BaseModel):
    publisher: str
    language: str
    subject: str
    body: str
    models: list[str]


def parse_grounds(values: Iterable[str] | str | None) -> list[str]:
    """The points of Article 17(1) named by ``values`` (``"a"``, ``"(c)"``, ``"17(1)(d)"``,
    or several separated by commas), in the article's order; a clear error for any other."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    found: set[str] = set()
    for item in items:
        for part in str(item).split(","):
            text = part.strip().lower()
            if not text:
                continue
            m = _GROUND.match(text.replace(" ", ""))
            if m is None:
                raise InvalidArgumentError(
                    f"unknown ground of erasure {part.strip()!r}: use the points of Article "
                    "17(1) GDPR, a to f (e.g. --grounds a,d)"
                )
            found.add(m.group(1))
    return [g for g in ERASURE_GROUNDS if g in found]


@cache
def _environment() -> Environment:
    # Plain text, not HTML: nothing to escape, and every variable must exist (a typo in a
    # template fails the tests rather than printing an empty string in a legal letter).
    return Environment(
        loader=FileSystemLoader(Path(__file__).parent),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=StrictUndefined,
    )


def letter(
    dossier: Dossier,
    publisher: Publisher,
    lang: str = "en",
    *,
    grounds: Iterable[str] | str | None = None,
    direct_marketing: bool = False,
) -> Letter:
    """The request to one publisher, naming all its affected models and why.

    ``grounds`` are the points of Article 17(1) an erasure relies on (a placeholder asks for
    them when none is given); ``direct_marketing`` turns an objection into one to direct
    marketing (Article 21(2)), which needs no grounds."""
    check_language(lang)
    chosen = parse_grounds(grounds)
    src = dossier.source_id
    concerned = dossier.models_of(publisher)
    # The source model is the publisher's own when it publishes it: it does not "derive"
    # from itself, so the letter names it as the source and lists only the others.
    own_source = any(m.depth == 0 for m in concerned)
    derived = [
        {"id": m.id, "url": m.url, "path": describe_path(m.path, src, lang)}
        for m in concerned
        if m.depth > 0
    ]
    suspects = []
    for m in dossier.possibly_affected:
        if m.publisher_name != publisher.name:
            continue
        conf = m.confidence
        suspects.append(
            {
                "id": m.id,
                "url": m.url,
                "confidence": i18n.decimal(lang, conf) if conf is not None else None,
            }
        )
    name = publisher_label(publisher.name, lang)
    if own_source and not derived:
        subject = i18n.translate(
            lang,
            "letter.subject_source",
            article=dossier.article,
            source=src,
            publisher=name,
        )
    else:
        subject = i18n.translate(
            lang,
            "letter.subject",
            count=len(concerned),
            article=dossier.article,
            publisher=name,
        )
    template = _environment().get_template(f"{lang}/{dossier.right.value}.txt.j2")
    body = template.render(
        publisher=name,
        publisher_url=publisher.url,  # none for legacy ids without a namespace
        source=src,
        source_url=f"{HUB}/datasets/{src}" if dossier.source_kind == "dataset" else f"{HUB}/{src}",
        source_kind=dossier.source_kind,
        own_source=own_source,
        models=derived,
        several=len(concerned) > 1,
        suspects=suspects,
        grounds=chosen,
        direct_marketing=direct_marketing,
        subject=subject,
        # The day the dossier was drawn up, as the language writes it in full ("5 décembre
        # 2026"): the requester may change it, but the letter is dated from the start.
        date=i18n.date(lang, dossier.generated_at),
    )
    return Letter(
        publisher=publisher.name,
        language=lang,
        subject=subject,
        body=i18n.typography(lang, body.strip()),
        models=[m.id for m in concerned],
    )


def letters(
    dossier: Dossier,
    lang: str = "en",
    *,
    grounds: Iterable[str] | str | None = None,
    direct_marketing: bool = False,
) -> list[Letter]:
    return [
        letter(dossier, p, lang, grounds=grounds, direct_marketing=direct_marketing)
        for p in dossier.publishers
    ]


__all__ = [
    "ARTICLES",
    "ERASURE_GROUNDS",
    "LANGUAGES",
    "PLACEHOLDER",
    "Letter",
    "Right",
    "check_language",
    "letter",
    "letters",
    "parse_grounds",
]
