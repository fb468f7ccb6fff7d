"""A dossier as Markdown (to read and edit), CSV (the affected set, for a spreadsheet) and
PDF (to attach to a request), from the same :class:`Dossier`.

The PDF is drawn with fpdf2 and its built-in Helvetica, which covers Latin-1 (French
included); any other character becomes ``?`` rather than breaking the file.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from functools import partial
from itertools import accumulate
from typing import Any

from filiation import i18n
from filiation.budget import costly
from filiation.limits import PDF_MAX_MODELS
from filiation.rights.dossier import Dossier, Publisher, describe_path
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
            publisher=md_link(p.name, p.url),
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
        for m in d.possibly_affected:
            low = min((lk.confidence for lk in m.path if lk.confidence is not None), default=None)
            out.append(
                f"| {m.rank} | {md_link(m.id, m.url)} | {md_text(m.publisher or '-')} | "
                f"{i18n.decimal(lang, low)} | "
                f"{md_text(describe_path(m.path, d.source_id, lang))} |"
            )
    out += flags_markdown(d, lang)
    out += ["", f"## {t('dossier.letters')}", ""]
    for letter in letters(d, lang, **letter_options):
        title = f"### {md_text(letter.publisher)}"
        out += [title, "", f"**{md_text(letter.subject)}**", "", "```text"]
        # A fenced block shows the letter as typed; no line of it may close the fence.
        out += [printable(letter.body, newlines=True).replace("```", "'''"), "```", ""]
    return "\n".join(out)


#: Common characters outside Latin-1 (Helvetica's set) and their plain equivalents.
_PLAIN = str.maketrans(
    {
        "→": "->",
        "\u2019": "'",
        "\u2018": "'",
        "“": '"',
        "”": '"',
        "…": "...",
        "\u2013": "-",
        "—": "-",
        "\u202f": " ",
        "\u00a0": " ",
    }
)


def _latin1(text: str) -> str:
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def _wrap(pdf: Any, text: str, width: float) -> list[str]:
    """Greedy word wrapping by the font's widths (fpdf2's own line breaking costs the
    square of a line's length: 10 s for a 300-model dossier); a word longer than the line
    (a long id) is cut."""
    # The core font's character widths (1/1000 of the size): fpdf2's get_string_width copies
    # its state on every call, which cost minutes for a 15,000-model dossier.
    widths = pdf.current_font.cw
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


def to_pdf(dossier: Dossier, lang: str = "en", **letter_options: Any) -> bytes:
    """The dossier as a PDF: a summary, one numbered entry per affected model, the
    publishers with their state, then one letter per publisher on its own page. A few at a
    time per process (:func:`filiation.budget.costly`): the costliest file filiation makes."""
    with costly("PDF dossiers"):
        return _pdf(dossier, lang, letter_options)


def _pdf(dossier: Dossier, lang: str, letter_options: dict[str, Any]) -> bytes:
    from fpdf import FPDF

    d = dossier
    t = partial(i18n.translate, lang)
    num = partial(i18n.number, lang)
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(_latin1(t("dossier.heading", id=d.source_id)))
    pdf.set_lang(lang)
    pdf.set_creator("filiation")
    pdf.add_page()
    width = pdf.epw

    def para(text: str, size: int = 10, style: str = "", h: float = 5) -> None:
        pdf.set_font("Helvetica", style, size)
        for line in text.split("\n"):
            for part in _wrap(pdf, _latin1(line), width):
                pdf.cell(width, h, part, new_x="LMARGIN", new_y="NEXT")

    para(t("dossier.heading", id=d.source_id), 16, "B", 8)
    para("\n".join(_summary(d, lang)))
    pdf.ln(3)
    para(t("dossier.affected"), 13, "B", 7)
    for m in d.affected[:PDF_MAX_MODELS]:
        facts = ", ".join(
            t("dossier.label", label=label.lower(), value=value)
            for label, value in (
                (t("dossier.col_publisher"), m.publisher or "-"),
                (t("dossier.col_downloads"), num(m.downloads)),
                (t("dossier.col_descendants"), num(m.descendants)),
            )
        )
        para(f"{m.rank}. {m.id} - {facts}", 9, "B")
        para(f"    {describe_path(m.path, d.source_id, lang)}", 8)
    if len(d.affected) > PDF_MAX_MODELS:
        para(t("dossier.more_in_exports", count=len(d.affected) - PDF_MAX_MODELS), 9, "I")
    pdf.ln(3)
    para(t("dossier.publishers"), 13, "B", 7)
    for p in d.publishers:
        line = t(
            "dossier.publisher_line",
            publisher=f"{p.name} ({p.url or '-'})",
            models=t("dossier.models_n", count=len(p.models)),
            status=_state(p, lang),
        )
        para(line, 9)
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
        pdf.add_page()
        para(letter.subject, 11, "B", 6)
        pdf.ln(2)
        para(letter.body, 9)
    return bytes(pdf.output())


def flags_markdown(d: Dossier, lang: str = "en") -> list[str]:
    """The dossier's checks (``filiation check``): declared links of affected models that
    the evidence contradicts, as a Markdown section in ``lang`` (none when nothing is
    flagged)."""
    if not d.flags:
        return []
    t = partial(i18n.translate, lang)
    words = i18n.table(lang)

    def word(key: str, fallback: str) -> str:
        return t(key) if key in words else fallback

    out = [
        "",
        f"## {t('dossier.checks', n=i18n.number(lang, len(d.flags)))}",
        "",
        md_text(t("dossier.checks_help")),
        "",
        f"| {t('dossier.col_model')} | {t('dossier.col_link')} | {t('dossier.col_rule')} |",
        "|---|---|---|",
    ]
    for f in d.flags:
        link = f"{word(f'rel.{f.relation}', f.relation)} {t('dossier.of_parent', parent=f.parent)}"
        rule = word(f"check.{f.rule}", f.explanation)
        values = ", ".join(f"{k} {v}" for k, v in f.values.items())
        out.append(
            f"| {md_text(f.model)} | {md_text(link)} | "
            f"{md_text(rule + (f' ({values})' if values else ''))} |"
        )
    return out
