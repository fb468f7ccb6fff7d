"""A dossier as Markdown (to read and edit), CSV (the affected set, for a spreadsheet) and
PDF (to attach to a request), from the same :class:`Dossier`.

The PDF is drawn with fpdf2 and its built-in Helvetica, which covers Latin-1 (French
included); any other character becomes ``?`` rather than breaking the file.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from itertools import accumulate
from typing import Any

from filiation.budget import costly
from filiation.limits import PDF_MAX_MODELS
from filiation.rights.dossier import Dossier, describe_path
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


def to_csv(dossier: Dossier) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
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
            "yes" if not m.inferred else "no",
            describe_path(m.path, dossier.source_id),
            m.url,
            m.discussions_url,
        ]
        w.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


def to_markdown(dossier: Dossier, lang: str = "en") -> str:
    d = dossier
    out = [
        f"# Rights dossier: {md_text(d.source_id)}",
        "",
        f"- Right exercised: {d.right.value} (GDPR Article {d.article})",
        f"- Source ({d.source_kind}): {md_text(d.source_id)}",
        f"- Affected models: {len(d.affected)}; publishers: {len(d.publishers)}",
        f"- Generated: {d.generated_at.isoformat(timespec='seconds')}",
        "",
        "## Affected models (widest reach first)",
        "",
        "| # | model | publisher | downloads | descendants | path from the source |",
        "|---|---|---|---|---|---|",
    ]
    for m in d.affected:
        out.append(
            f"| {m.rank} | {md_link(m.id, m.url)} | {md_text(m.publisher or '-')} | "
            f"{m.downloads if m.downloads is not None else '-'} | {m.descendants} | "
            f"{md_text(describe_path(m.path, d.source_id))} |"
        )
    out += ["", "## Publishers to contact", ""]
    for p in d.publishers:
        head = md_link(p.name, p.url)
        state = p.status.value + (f" ({md_text(p.ground)})" if p.ground else "")
        out.append(f"- {head}: {len(p.models)} model(s), status {state}")
        for model_id in p.models:
            out.append(
                f"  - {md_text(model_id)}: "
                + md_link("discussions", f"https://huggingface.co/{model_id}/discussions")
            )
    if d.possibly_affected:
        out += [
            "",
            f"## Possibly affected, to verify ({len(d.possibly_affected)})",
            "",
            "Reached only through links that filiation suspects from the models' metadata "
            f"(confidence at least {d.suspect_min_confidence:g}, never declared): check each "
            "before treating it as affected.",
            "",
            "| # | model | publisher | confidence | path from the source |",
            "|---|---|---|---|---|",
        ]
        for m in d.possibly_affected:
            conf = min((lk.confidence for lk in m.path if lk.confidence is not None), default=None)
            out.append(
                f"| {m.rank} | {md_link(m.id, m.url)} | {md_text(m.publisher or '-')} | "
                f"{'-' if conf is None else f'{conf:.2f}'} | "
                f"{md_text(describe_path(m.path, d.source_id))} |"
            )
    out += flags_markdown(d)
    out += ["", f"## Letters ({lang})", ""]
    for letter in letters(d, lang):
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


def to_pdf(dossier: Dossier, lang: str = "en") -> bytes:
    """The dossier as a PDF: a summary, one numbered entry per affected model, the
    publishers with their state, then one letter per publisher on its own page. A few at a
    time per process (:func:`filiation.budget.costly`): the costliest file filiation makes."""
    with costly("PDF dossiers"):
        return _pdf(dossier, lang)


def _pdf(dossier: Dossier, lang: str) -> bytes:
    from fpdf import FPDF

    d = dossier
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(_latin1(f"Rights dossier: {d.source_id}"))
    pdf.set_creator("filiation")
    pdf.add_page()
    width = pdf.epw

    def para(text: str, size: int = 10, style: str = "", h: float = 5) -> None:
        pdf.set_font("Helvetica", style, size)
        for line in text.split("\n"):
            for part in _wrap(pdf, _latin1(line), width):
                pdf.cell(width, h, part, new_x="LMARGIN", new_y="NEXT")

    para(f"Rights dossier: {d.source_id}", 16, "B", 8)
    para(
        f"Right exercised: {d.right.value} (GDPR Article {d.article}). Source "
        f"({d.source_kind}): {d.source_id}. {len(d.affected)} affected model(s), "
        f"{len(d.publishers)} publisher(s). "
        f"Generated {d.generated_at.isoformat(timespec='seconds')}."
    )
    pdf.ln(3)
    para("Affected models (widest reach first)", 13, "B", 7)
    for m in d.affected[:PDF_MAX_MODELS]:
        para(
            f"{m.rank}. {m.id} - publisher {m.publisher or '-'}, downloads "
            f"{m.downloads if m.downloads is not None else '-'}, descendants {m.descendants}",
            9,
            "B",
        )
        para(f"    {describe_path(m.path, d.source_id)}", 8)
    if len(d.affected) > PDF_MAX_MODELS:
        para(
            f"... and {len(d.affected) - PDF_MAX_MODELS} more, listed in the CSV and Markdown "
            "exports.",
            9,
            "I",
        )
    pdf.ln(3)
    para("Publishers to contact", 13, "B", 7)
    for p in d.publishers:
        state = p.status.value + (f" ({p.ground})" if p.ground else "")
        para(f"{p.name} ({p.url or '-'}): {len(p.models)} model(s), status {state}", 9)
    shown = d.publishers[:PDF_LETTERS]
    if len(d.publishers) > len(shown):
        pdf.ln(3)
        para(
            f"Letters below: the {len(shown)} publishers with the widest reach. The letters to "
            f"the other {len(d.publishers) - len(shown)} are in the Markdown export and "
            "`filiation dossier --letters`.",
            9,
            "I",
        )
    for letter in (letter_to(d, p, lang) for p in shown):
        pdf.add_page()
        para(letter.subject, 11, "B", 6)
        pdf.ln(2)
        para(letter.body, 9)
    return bytes(pdf.output())


def flags_markdown(d: Dossier) -> list[str]:
    """The dossier's checks (``filiation check``): declared links of affected models that
    the evidence contradicts, as a Markdown section (none when nothing is flagged)."""
    if not d.flags:
        return []
    out = [
        "",
        f"## Declared links the evidence contradicts ({len(d.flags)})",
        "",
        "The models stay affected; check these links before relying on them.",
        "",
        "| model | declared link | rule | values |",
        "|---|---|---|---|",
    ]
    for f in d.flags:
        values = ", ".join(f"{k} {v}" for k, v in f.values.items()) or "-"
        out.append(
            f"| {md_text(f.model)} | {md_text(f.relation)} of {md_text(f.parent)} | "
            f"{md_text(f.explanation)} | {md_text(values)} |"
        )
    return out
