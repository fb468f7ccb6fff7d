"""Hostile Hub metadata (issue 16, items 2, 3, 4, 6, 7): the real sample dump with rows an
attacker could publish on the Hub appended, ingested, then exported every way a user can.

The hostile rows are real rows of the sample (a fine-tune of a real base model) with their
id, author, task or library replaced: a formula (``=cmd|' /C calc'!A0``), HTML
(``"><img src=x onerror=alert(1)>``), a 1 MB author, terminal escape codes, and bytes that are
not UTF-8. What users rely on: the ingest finishes and counts what it changed, no CSV cell
runs as a formula, no Markdown renders a tag, a PDF costs seconds, the terminal shows no
escape code.
"""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

import filiation
from filiation.limits import MAX_FIELD_LENGTH
from filiation.safe_text import FORMULA_START
from filiation.sources import hub_stats
from filiation.sources.records import NOTE_CONTROL, NOTE_SHORTENED

FORMULA = "=cmd|' /C calc'!A0"
HTML = '"><img src=x onerror=alert(1)>'
SCRIPT = "<script>alert(1)</script>"
HOSTILE = {
    # id: (author, pipeline_tag, library_name)
    f"org/{FORMULA}": ("@SUM(1)", "-2+3", "+lib"),
    f"org/{HTML}": (HTML, SCRIPT, "lib"),
    "org/long-author": ("a" * 2**20, None, None),
    "org/control": ("ctl", "text\ngen\x00", "lib\x1b[2J"),
}


def _real_child(table: pa.Table) -> tuple[dict[str, Any], str]:
    """A real row of the sample with one parent in baseModels, and that parent's id."""
    for row in table.to_pylist():
        bm = row.get("baseModels") or {}
        models = bm.get("models") or []
        if len(models) == 1 and bm.get("relation") == "finetune":
            return row, models[0]["id"]
    raise AssertionError("the sample has no single-parent fine-tune")


@pytest.fixture(scope="module")
def hostile_dump(hub_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    table = pq.read_table(hub_sample)
    row, parent = _real_child(table)
    rows = []
    for new_id, (author, task, library) in HOSTILE.items():
        rows.append(
            {**row, "id": new_id, "author": author, "pipeline_tag": task, "library_name": library}
        )
    path = tmp_path_factory.mktemp("hostile") / "models.parquet"
    pq.write_table(pa.concat_tables([table, pa.Table.from_pylist(rows, table.schema)]), path)
    return path, parent


@pytest.fixture(scope="module")
def hostile(hostile_dump: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    path, parent = hostile_dump
    db = tmp_path_factory.mktemp("store") / "hostile.db"
    g = filiation.open(db, load_bundled=False)
    report = g.ingest_hub_stats(path)
    return g, parent, report, db


def test_long_and_control_fields_are_cut_and_cleaned_at_ingest(hostile: Any) -> None:
    g, _, report, _ = hostile
    assert report.notes[NOTE_SHORTENED] == 1
    assert report.notes[NOTE_CONTROL] == 2
    assert g.show("org/long-author").author == "a" * MAX_FIELD_LENGTH
    ctl = g.show("org/control")
    assert (ctl.pipeline_tag, ctl.library_name) == ("text?gen?", "lib?[2J")


def test_every_dossier_csv_cell_is_formula_safe(hostile: Any) -> None:
    g, parent, _, _ = hostile
    d = g.rights.dossier(model=parent)
    ids = {m.id for m in d.affected}
    assert set(HOSTILE) <= ids
    rows = list(csv.reader(io.StringIO(g.rights.export_dossier(d, "csv").decode())))
    cells = [c for r in rows[1:] for c in r]
    assert not [c for c in cells if c.startswith(FORMULA_START) and not _number(c)]
    assert f"'org/{FORMULA}" not in cells  # ids start with "org/": left as they are
    assert "'@SUM(1)" in cells  # the publisher column


def _number(cell: str) -> bool:
    return re.fullmatch(r"-?\d+(\.\d+)?", cell) is not None


def _live_tags(markdown: str) -> list[str]:
    """HTML tags a CommonMark viewer with raw HTML enabled would render from ``markdown``."""
    rendered = MarkdownIt("commonmark", {"html": True}).render(markdown)
    return re.findall(r"<(?:img|script|iframe|svg)\b[^>]*>", rendered, re.I)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_dossier_markdown_renders_no_tag_and_encodes_links(hostile: Any, lang: str) -> None:
    g, parent, _, _ = hostile
    d = g.rights.dossier(model=parent)
    md = g.rights.export_dossier(d, "md", lang).decode()
    assert _live_tags(md) == []
    # The hostile id is a link whose target is percent-encoded, shown as typed.
    rendered = MarkdownIt("commonmark", {"html": True}).render(md)
    assert 'href="https://huggingface.co/org/%22%3E%3Cimg%20src=x' in rendered
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered


def test_model_card_markdown_renders_no_tag(hostile: Any) -> None:
    g, _, _, _ = hostile
    for node_id in (f"org/{HTML}", f"org/{FORMULA}"):
        card = g.export(node_id, "model-card").content.decode()
        # The YAML front matter is metadata (the Hub and card viewers read it as data, and
        # a YAML library writes it); the body is the Markdown.
        _front, body = re.fullmatch(r"---\n(.*?)\n---\n(.*)", card, re.S).groups()
        assert _live_tags(body) == []
        assert SCRIPT not in body


def test_lineage_csv_is_formula_safe(hostile: Any) -> None:
    g, parent, _, _ = hostile
    text = g.export(parent, "nodes-csv", direction="descendants").content.decode()
    cells = [c for r in list(csv.reader(io.StringIO(text)))[1:] for c in r]
    assert not [c for c in cells if c.startswith(FORMULA_START) and not _number(c)]


def test_pdf_of_a_dossier_with_a_128k_id_takes_seconds(hostile: Any) -> None:
    """A PDF's time grew with the square of a long unbroken field (128 k: 64 s)."""
    g, parent, _, _ = hostile
    d = g.rights.dossier(model=parent)
    long_id = "x" * 128_000
    first = d.affected[0].model_copy(update={"id": long_id})
    d = d.model_copy(update={"affected": [first, *d.affected[1:]]})
    start = time.perf_counter()
    data = g.rights.export_dossier(d, "pdf")
    assert time.perf_counter() - start < 10
    assert data.startswith(b"%PDF")


def test_cli_show_prints_no_escape_code(hostile: Any) -> None:
    _, _, _, db = hostile
    from filiation.cli import app

    result = CliRunner().invoke(app, ["--db", str(db), "show", "org/control"])
    assert result.exit_code == 0, result.output
    assert "\x1b[2J" not in result.output and "\x00" not in result.output
    assert "lib?[2J" in result.output


def _invalid_utf8(values: list[bytes | None]) -> pa.Array:
    """A string array holding the bytes as they are (Parquet does not check them)."""
    raw = pa.array(values, pa.binary())
    return pa.Array.from_buffers(pa.string(), len(raw), raw.buffers())


@pytest.mark.parametrize("column", ["id", "author", "cardData", "library_name"])
def test_invalid_utf8_in_a_string_column_is_counted_not_a_traceback(
    hub_sample: Path, tmp_path: Path, column: str
) -> None:
    table = pq.read_table(hub_sample).slice(0, 200)
    values = [None if v is None else v.encode() for v in table[column].to_pylist()]
    bad_rows = [3, 50, 120]
    for i in bad_rows:
        values[i] = (values[i] or b"x") + b"\xff\xfe"
    i = table.schema.get_field_index(column)
    table = table.set_column(i, column, _invalid_utf8(values))
    path = tmp_path / "models.parquet"
    pq.write_table(table, path)

    records = hub_stats.read(path)
    if column == "id":
        assert records.report.skipped[hub_stats.SKIP_BAD_ID] == len(bad_rows)
        assert records.nodes.num_rows == 200 - len(bad_rows)
    else:
        assert records.report.notes[hub_stats.NOTE_BAD_UTF8] == len(bad_rows)
        assert records.nodes.num_rows == 200
    for col in records.nodes.columns:
        if pa.types.is_string(col.type):
            col.validate(full=True)
    # and the store takes it
    g = filiation.open(tmp_path / "s.db", load_bundled=False)
    report = g.ingest_hub_stats(path)
    assert report.nodes == records.nodes.num_rows
    assert pc.sum(pc.utf8_length(records.nodes["id"])).as_py() > 0


def test_dates_outside_any_calendar_do_not_stop_the_ingest(
    hub_sample: Path, tmp_path: Path
) -> None:
    """A dump whose lastModified holds a 64-bit number outside any calendar (found by the
    property test: year 0 and below) is still read, dated by its real latest date."""
    table = pq.read_table(hub_sample).slice(0, 50)
    i = table.schema.get_field_index("lastModified")
    stamps = pc.cast(table["lastModified"], pa.timestamp("us")).to_pylist()
    real_latest = max(s for s in stamps if s is not None)
    micros = pc.cast(pc.cast(table["lastModified"], pa.timestamp("us")), pa.int64()).to_pylist()
    micros[0], micros[1] = -(2**62), 2**62
    table = table.set_column(
        i, "lastModified", pa.array(micros, pa.int64()).cast(pa.timestamp("us"))
    )
    path = tmp_path / "models.parquet"
    pq.write_table(table, path)

    scan = hub_stats.open_dump(path)
    assert scan.taken_at is not None
    assert scan.taken_at.replace(tzinfo=None) == real_latest.replace(tzinfo=None)
    g = filiation.open(tmp_path / "s.db", load_bundled=False)
    assert g.ingest_hub_stats(path).nodes == 50
