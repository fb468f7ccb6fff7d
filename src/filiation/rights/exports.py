"""A dossier as Markdown (to read and edit), CSV (the affected set, for a spreadsheet) and
PDF (to attach to a request), from the same :class:`Dossier`.

The PDF is drawn with fpdf2 and its built-in Helvetica (no font file to embed, so the
costliest export stays fast), encoded as windows-1252: French and English typography holds
(curly apostrophes and quotes, guillemets, dashes, the ellipsis, the euro sign, the "oe"
ligature and the no-break space). The few characters the texts use beyond it are
drawn as their nearest equivalent in one place, :func:`pdf_text`; any other becomes ``?``
rather than breaking the file.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from bisect import bisect_right
from functools import cache, partial
from itertools import accumulate
from typing import Any

from filiation import i18n
from filiation.budget import costly
from filiation.limits import PDF_MAX_MODELS
from filiation.rights.dossier import (
    AffectedModel,
    Dossier,
    Publisher,
    describe_path,
    publisher_label,
)
from filiation.rights.letters import letter as letter_to
from filiation.rights.letters import letters
from filiation.safe_text import csv_cell, md_link, md_text, printable

#: Letters printed in a PDF, one page each (the publishers with the widest reach first): a
#: family of 15,000 models has some 9,000 publishers, more pages than anyone prints.
PDF_LETTERS = 500

CSV_COLUMNS = [
    "rank",
    "id",
    "publisher",
    "depth",
    "downloads",
    "likes",
    "descendants",
    "declared_path",
    "path",
    "url",
    "discussions_url",
]


def _summary(d: Dossier, lang: str) -> list[str]:
    """The dossier's heading facts, one line each, in ``lang``: the same for Markdown and PDF."""
    t = partial(i18n.translate, lang)
    right = t("dossier.label", label=t("dossier.right"), value=t(f"dossier.right.{d.right.value}"))
    source = t("dossier.source_line", kind=t(f"kind.{d.source_kind}"), id=d.source_id)
    counts = t(
        "dossier.counts",
        models=t("dossier.models_n", count=len(d.affected)),
        publishers=t("dossier.publishers_n", count=len(d.publishers)),
    )
    when = t("dossier.generated", date=i18n.date_time(lang, d.generated_at))
    return [right, source, counts, when]


def _state(p: Publisher, lang: str) -> str:
    return i18n.translate(lang, f"status.{p.status.value}") + (f" ({p.ground})" if p.ground else "")


def to_csv(dossier: Dossier, lang: str = "en") -> str:
    """The affected set, one row per model, its header and words in ``lang``."""
    t = partial(i18n.translate, lang)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([t(f"dossier.csv.{c}") for c in CSV_COLUMNS])
    yes, no = t("reg.yes"), t("reg.no")
    # Every cell through csv_cell: ids, publishers and paths are the Hub's, not ours.
    for m in dossier.affected:
        row = [
            m.rank,
            m.id,
            m.publisher or "",
            m.depth,
            "" if m.downloads is None else m.downloads,
            "" if m.likes is None else m.likes,
            m.descendants,
            yes if not m.inferred else no,
            describe_path(m.path, dossier.source_id, lang),
            m.url,
            m.discussions_url,
        ]
        w.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


def to_markdown(dossier: Dossier, lang: str = "en", **letter_options: Any) -> str:
    """Summary, tables and letters in ``lang``; ``letter_options`` go to the letters
    (``grounds``, ``direct_marketing``)."""
    d = dossier
    t = partial(i18n.translate, lang)
    num = partial(i18n.number, lang)
    cols = [t(f"dossier.col_{c}") for c in ("model", "publisher", "downloads", "descendants")]
    out = [f"# {md_text(t('dossier.heading', id=d.source_id))}", ""]
    out += [f"- {md_text(line)}" for line in _summary(d, lang)]
    out += [
        "",
        f"## {t('dossier.affected')}",
        "",
        md_text(t("dossier.affected_help")),
        "",
        f"| {t('dossier.col_rank')} | " + " | ".join(cols) + f" | {t('dossier.col_path')} |",
        "|---|---|---|---|---|---|",
    ]
    for m in d.affected:
        out.append(
            f"| {m.rank} | {md_link(m.id, m.url)} | {md_text(m.publisher or '-')} | "
            f"{num(m.downloads)} | {num(m.descendants)} | "
            f"{md_text(describe_path(m.path, d.source_id, lang))} |"
        )
    out += ["", f"## {t('dossier.publishers')}", ""]
    for p in d.publishers:
        line = t(
            "dossier.publisher_line",
            publisher=md_link(publisher_label(p.name, lang), p.url),
            models=t("dossier.models_n", count=len(p.models)),
            status=md_text(_state(p, lang)),
        )
        out.append(f"- {line}")
        for model_id in p.models:
            link = md_link(
                t("dossier.discussions"), f"https://huggingface.co/{model_id}/discussions"
            )
            out.append(f"  - {t('dossier.label', label=md_text(model_id), value=link)}")
    if d.possibly_affected:
        conf = i18n.decimal(lang, d.suspect_min_confidence, 1)
        out += [
            "",
            f"## {t('dossier.possibly', count=len(d.possibly_affected))}",
            "",
            md_text(t("dossier.possibly_help", confidence=conf)),
            "",
            f"| {t('dossier.col_rank')} | {cols[0]} | {cols[1]} | "
            f"{t('dossier.col_confidence')} | {t('dossier.col_path')} |",
            "|---|---|---|---|---|",
        ]
        for m, confidence, path in suspect_rows(d, lang):
            out.append(
                f"| {m.rank} | {md_link(m.id, m.url)} | {md_text(m.publisher or '-')} | "
                f"{confidence} | {md_text(path)} |"
            )
    out += flags_markdown(d, lang)
    out += ["", f"## {t('dossier.letters')}", ""]
    for letter in letters(d, lang, **letter_options):
        # The letter names its subject itself ("Objet :"), where a letter does.
        out += [f"### {md_text(publisher_label(letter.publisher, lang))}", "", "```text"]
        # A fenced block shows the letter as typed; no line of it may close the fence.
        out += [printable(letter.body, newlines=True).replace("```", "'''"), "```", ""]
    return "\n".join(out)


#: The encoding of the PDF's core font: fpdf2 writes Helvetica with WinAnsiEncoding, and
#: windows-1252 is that code page (Latin-1 lacks the curly apostrophe and quotes, the dashes,
#: the ellipsis, the euro sign and "oe", which it has).
PDF_ENCODING = "windows-1252"

#: What stands for a value nobody knows (an en dash).
NONE = "\u2013"

#: What the core font has no glyph for, drawn as the nearest character it has.
_PDF_STANDINS = str.maketrans(
    {
        # The path's arrow: a single right guillemet reads as "then" and is in the font.
        "→": "\u203a",
        # The narrow no-break space French puts before ; : ! ? and inside « »: a plain
        # no-break space, slightly wider but still never a line break before the sign.
        "\u202f": "\u00a0",
        "\u2009": " ",  # thin space
        "\u2011": "-",  # no-break hyphen
        "\u2212": "-",  # minus sign
        "≥": ">=",
        "≤": "<=",
        "\u200b": None,  # zero-width space
    }
)


def _pdf_char(c: str) -> str:
    """One character outside the font: its letter without accents when it has one (``ő``
    becomes ``o``), else ``?``."""
    base = "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))
    try:
        return base.encode(PDF_ENCODING).decode(PDF_ENCODING) or "?"
    except UnicodeEncodeError:
        return "?"


def pdf_text(text: str) -> str:
    """``text`` as the PDF's core font can draw it: the one place where what the font lacks
    (the arrow, the narrow no-break space, the rare character in an id) is replaced, so that
    the texts themselves keep their typography for the HTML, Markdown and text outputs."""
    text = text.translate(_PDF_STANDINS)
    try:
        text.encode(PDF_ENCODING)
    except UnicodeEncodeError:
        return "".join(c if c.encode(PDF_ENCODING, "ignore") else _pdf_char(c) for c in text)
    return text


@cache
def _widths(fontkey: str) -> dict[str, int]:
    """A core font's character widths (1/1000 of the size) by the characters of the text:
    fpdf2 keys them by the byte each is encoded as, read as Latin-1 (the curly apostrophe
    is ``\\x92``)."""
    from fpdf.fonts import CORE_FONTS_CHARWIDTHS

    by_byte = CORE_FONTS_CHARWIDTHS[fontkey]
    out: dict[str, int] = {}
    for byte in range(256):
        try:
            out[bytes([byte]).decode(PDF_ENCODING)] = by_byte[chr(byte)]
        except UnicodeDecodeError:  # the five bytes windows-1252 leaves undefined
            continue
    return out


def _width(pdf: Any, text: str) -> float:
    """``text``'s width in the current core font, as :func:`_wrap` measures it."""
    return sum(_widths(pdf.current_font.fontkey).get(c, 500) for c in text) * pdf.font_size / 1000


def _wrap(pdf: Any, text: str, width: float) -> list[str]:
    """Greedy word wrapping by the font's widths (fpdf2's own line breaking costs the
    square of a line's length: 10 s for a 300-model dossier); a word longer than the line
    (a long id) is cut."""
    # The core font's character widths (1/1000 of the size): fpdf2's get_string_width copies
    # its state on every call, which cost minutes for a 15,000-model dossier.
    widths = _widths(pdf.current_font.fontkey)
    scale = pdf.font_size / 1000

    def measure(word: str) -> float:
        return sum(widths.get(c, 500) for c in word) * scale

    space = measure(" ")
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    indent = len(text) - len(text.lstrip(" "))
    for word in text.split(" ")[indent:] if indent else text.split(" "):
        w = measure(word)
        if w > width:  # an overlong word (a long id) is cut at the last character that fits
            if current:
                lines.append(" ".join(current))
                current, used = [], 0.0
            # Cumulative widths once, then a binary search per line: linear in the word's
            # length (cutting by re-measuring cost the square: 64 s for a 128 k id).
            ends = list(accumulate(widths.get(c, 500) * scale for c in word))
            start, base = 0, 0.0
            while ends[-1] - base > width:
                cut = max(start + 1, bisect_right(ends, base + width))
                lines.append(word[start:cut])
                start, base = cut, ends[cut - 1]
            word, w = word[start:], ends[-1] - base
        if current and used + space + w > width:
            lines.append(" ".join(current))
            current, used = [], 0.0
        used += (space if current else 0.0) + w
        current.append(word)
    lines.append(" ".join(current))
    if indent and lines:
        lines[0] = " " * indent + lines[0]
    return lines


def _closing_start(lines: list[str]) -> int:
    """Where a letter's closing starts: its last two lines of text (the closing formula and
    the signature), which a page break must not part."""
    written = [at for at, line in enumerate(lines) if line.strip()]
    return written[-2] if len(written) >= 2 else len(lines)


def to_pdf(dossier: Dossier, lang: str = "en", **letter_options: Any) -> bytes:
    """The dossier as a PDF: a summary, one numbered entry per affected model, the
    publishers with their state, then one letter per publisher on its own page. A few at a
    time per process (:func:`filiation.budget.costly`): the costliest file filiation makes."""
    with costly("PDF dossiers"):
        return _pdf(dossier, lang, letter_options)


def _para(
    pdf: Any,
    text: str,
    size: float = 10,
    style: str = "",
    h: float = 5,
    indent: float = 0,
    hanging: float = 0,
) -> None:
    """``text`` wrapped to the page, each of its lines a paragraph; ``indent`` (mm) shifts
    every wrapped line, not only the first, and ``hanging`` every one but the first (a list
    item's text under its text, not under its dash)."""
    pdf.set_font("Helvetica", style, size)
    width = pdf.epw - indent - hanging
    for line in text.split("\n"):
        for row, part in enumerate(_wrap(pdf, pdf_text(line), width)):
            pdf.set_x(pdf.l_margin + indent + (hanging if row else 0))
            pdf.cell(width, h, part, new_x="LMARGIN", new_y="NEXT")


def _section(pdf: Any, title: str, help_text: str = "") -> None:
    """A section's heading and help, kept on the page of the section's first two entry
    lines: on the next page when those would not fit under them (a heading alone at the
    foot of a page, its entries overleaf)."""
    above, heading_h, help_h, below, entry_h = 3, 7, 4.5, 1, 5  # mm
    pdf.set_font("Helvetica", "I", 9)
    help_rows = sum(len(_wrap(pdf, pdf_text(x), pdf.epw)) for x in help_text.split("\n"))
    need = above + heading_h + (help_rows * help_h + below if help_text else 0) + 2 * entry_h
    if pdf.get_y() + need > pdf.page_break_trigger:
        pdf.add_page()
    else:
        pdf.ln(above)
    _para(pdf, title, 13, "B", heading_h)
    if help_text:
        _para(pdf, help_text, 9, "I", help_h)
        pdf.ln(below)


def _pdf(dossier: Dossier, lang: str, letter_options: dict[str, Any]) -> bytes:
    from fpdf import FPDF

    d = dossier
    t = partial(i18n.translate, lang)
    num = partial(i18n.number, lang)
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = PDF_ENCODING
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(t("dossier.heading", id=d.source_id))  # metadata: any Unicode text
    pdf.set_lang(lang)
    pdf.set_creator("filiation")
    pdf.add_page()

    para = partial(_para, pdf)
    section = partial(_section, pdf)

    def letter_line(line: str, style: str) -> None:
        """One line of a letter: its list of models (``- id (url)``, then the path under
        it, indented by two spaces in the text) keeps its shape when wrapped."""
        pdf.set_font("Helvetica", style, 9)
        dash = _width(pdf, "- ")
        text = line.lstrip(" ")
        if text != line:
            para(text, 9, style, 4.3, indent=dash)
        else:
            para(line, 9, style, 4.3, hanging=dash if line.startswith("- ") else 0)

    para(t("dossier.heading", id=d.source_id), 16, "B", 8)
    para("\n".join(_summary(d, lang)))
    section(t("dossier.affected"), t("dossier.affected_help"))
    for m in d.affected[:PDF_MAX_MODELS]:
        facts = ", ".join(
            t("dossier.label", label=label.lower(), value=value)
            for label, value in (
                (t("dossier.col_publisher"), m.publisher or NONE),
                (t("dossier.col_downloads"), num(m.downloads)),
                (t("dossier.col_descendants"), num(m.descendants)),
            )
        )
        para(f"{m.rank}. {m.id} — {facts}", 9, "B")
        para(describe_path(m.path, d.source_id, lang), 8, indent=5)
    if len(d.affected) > PDF_MAX_MODELS:
        para(t("dossier.more_in_exports", count=len(d.affected) - PDF_MAX_MODELS), 9, "I")
    section(t("dossier.publishers"))
    for p in d.publishers:
        line = t(
            "dossier.publisher_line",
            publisher=f"{publisher_label(p.name, lang)} ({p.url or NONE})",
            models=t("dossier.models_n", count=len(p.models)),
            status=_state(p, lang),
        )
        para(line, 9)
    if d.possibly_affected:
        conf = i18n.decimal(lang, d.suspect_min_confidence, 1)
        section(
            t("dossier.possibly", count=len(d.possibly_affected)),
            t("dossier.possibly_help", confidence=conf),
        )
        for m, confidence, path in suspect_rows(d, lang)[:PDF_MAX_MODELS]:
            facts = ", ".join(
                t("dossier.label", label=label.lower(), value=value)
                for label, value in (
                    (t("dossier.col_publisher"), m.publisher or NONE),
                    (t("dossier.col_confidence"), confidence),
                )
            )
            para(f"{m.rank}. {m.id} — {facts}", 9, "B")
            para(path, 8, indent=5)
        if len(d.possibly_affected) > PDF_MAX_MODELS:
            rest = len(d.possibly_affected) - PDF_MAX_MODELS
            para(t("dossier.more_in_exports", count=rest), 9, "I")
    if d.flags:
        section(t("dossier.checks", n=num(len(d.flags))), t("dossier.checks_help"))
        for model, link, rule in flag_rows(d, lang):
            para(f"{model} — {t('dossier.label', label=link, value=rule)}", 9)
    shown = d.publishers[:PDF_LETTERS]
    if len(d.publishers) > len(shown):
        pdf.ln(3)
        para(
            t(
                "dossier.pdf_letters_cut",
                shown=num(len(shown)),
                rest=num(len(d.publishers) - len(shown)),
            ),
            9,
            "I",
        )
    for letter in (letter_to(d, p, lang, **letter_options) for p in shown):
        # A letter as it will be sent, on its own page: the body holds the addresses, the
        # date and the subject line, which is set in bold as a letter's subject is.
        # An empty line between paragraphs is half a line high, so that a letter to a
        # publisher of a few models fits one page.
        pdf.add_page()
        lines = letter.body.split("\n")
        closing = _closing_start(lines)
        for at, line in enumerate(lines):
            if at == closing:  # the closing formula and the signature are never parted
                pdf.set_font("Helvetica", "", 9)
                rows = sum(len(_wrap(pdf, pdf_text(x), pdf.epw)) for x in lines[at:] if x.strip())
                if pdf.get_y() + rows * 4.3 + 2.5 > pdf.page_break_trigger:
                    pdf.add_page()
            if line.strip():
                letter_line(line, "B" if line.endswith(letter.subject) else "")
            else:
                pdf.ln(2.5)
    return bytes(pdf.output())


def flags_markdown(d: Dossier, lang: str = "en") -> list[str]:
    """The dossier's checks (``filiation check``): declared links of affected models that
    the evidence contradicts, as a Markdown section in ``lang`` (none when nothing is
    flagged)."""
    if not d.flags:
        return []
    t = partial(i18n.translate, lang)
    out = [
        "",
        f"## {t('dossier.checks', n=i18n.number(lang, len(d.flags)))}",
        "",
        md_text(t("dossier.checks_help")),
        "",
        f"| {t('dossier.col_model')} | {t('dossier.col_link')} | {t('dossier.col_rule')} |",
        "|---|---|---|",
    ]
    for model, link, rule in flag_rows(d, lang):
        out.append(f"| {md_text(model)} | {md_text(link)} | {md_text(rule)} |")
    return out


def suspect_rows(d: Dossier, lang: str) -> list[tuple[AffectedModel, str, str]]:
    """Each possibly affected model with its confidence and its path in words of ``lang``:
    the rows of the Markdown table and of the PDF's list."""
    return [
        (m, i18n.decimal(lang, m.confidence), describe_path(m.path, d.source_id, lang))
        for m in d.possibly_affected
    ]


def flag_rows(d: Dossier, lang: str) -> list[tuple[str, str, str]]:
    """Each flagged declared link as (model, the link in words, what contradicts it): the
    rows of the Markdown table and of the PDF's list."""
    t = partial(i18n.translate, lang)
    words = i18n.table(lang)

    def word(key: str, fallback: str) -> str:
        return t(key) if key in words else fallback

    rows = []
    for f in d.flags:
        link = f"{word(f'rel.{f.relation}', f.relation)} {t('dossier.of_parent', parent=f.parent)}"
        rule = word(f"check.{f.rule}", f.explanation)
        values = ", ".join(f"{k} {v}" for k, v in i18n.check_figures(lang, f.rule, f.values))
        rows.append((f.model, link, rule + (f" ({values})" if values else "")))
    return rows
