"""List commands' output (``--format``): whole ids in a narrow terminal, one row a line in a
pipe, and csv/json/ids that read back to the same ids, on the real sample."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from filiation.cli import app, output

BASE = "meta-llama/Llama-3.1-8B"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: Makes rich take the runner's output for a terminal (without colours to strip).
TERMINAL = {"TTY_COMPATIBLE": "1", "NO_COLOR": "1"}

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture()
def cli(sample_db: Any) -> Run:
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        result = runner.invoke(app, ["--db", str(sample_db), "-q", *args], env=env)
        return result.exit_code, ANSI.sub("", result.stdout), result.stderr

    return run


def _json_ids(cli: Run, *args: str) -> list[str]:
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    data = json.loads(out)
    if isinstance(data, list):  # search
        return [h["id"] for h in data]
    if "families" in data:
        return [f["root"]["id"] for f in data["families"]]
    return [n["id"] for n in data["nodes"][1:]]  # a lineage: nodes[0] is its start


#: List commands on the sample, and how many rows each gives (at least).
COMMANDS = [
    ("descendants", BASE),
    ("ancestors", "arcee-ai/Llama-3.1-SuperNova-Lite"),
    ("search", "llama", "-n", "40"),
    ("families", "meta-llama"),
]


@pytest.mark.parametrize("columns", ["40", "80"])
def test_piped_table_is_one_row_a_line_with_every_id_whole(cli: Run, columns: str) -> None:
    ids = _json_ids(cli, "descendants", BASE)
    assert len(ids) > 300  # the real family: hundreds of rows
    code, out, err = cli("descendants", BASE, env={"COLUMNS": columns})
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == len(ids) + 1  # a header, then one line per row, nothing wrapped
    assert lines[0].split() == [
        "depth",
        "id",
        "kind",
        "relation",
        "from",
        "declared",
        "downloads",
        "descendants",
    ]
    assert [line.split()[1] for line in lines[1:]] == ids
    assert f"descendants of {BASE}" in err and "by relation:" in err  # not rows: stderr


@pytest.mark.parametrize("columns", [40, 80])
def test_narrow_terminal_never_breaks_an_id(cli: Run, columns: int) -> None:
    ids = _json_ids(cli, "descendants", BASE)
    code, out, err = cli("descendants", BASE, env={"COLUMNS": str(columns), **TERMINAL})
    assert code == 0, err
    words = {w for line in out.splitlines() for w in re.split(r"[\s│┃]+", line)}
    missing = [i for i in ids if i not in words]
    assert not missing, f"ids broken or lost at {columns} columns: {missing[:5]}"
    lines = out.splitlines()
    if max(map(len, ids)) + 4 <= columns:  # the id column fits: a table as wide as the screen
        assert "┃ id" in out and all(len(line) <= columns for line in lines)
        body = lines[lines.index(next(x for x in lines if x.startswith("┏"))) :][: len(ids) + 4]
        assert all(line[-1] in "┓┃┩│┘" for line in body)  # whole rows: no cropped right edge
        assert body[-1].startswith("└")  # one line per row: top, header, rule, rows, bottom
    else:  # it does not: the ids alone, one a line, under the title and a header
        start = lines.index("id") + 1
        assert lines[start : start + len(ids)] == ids


def test_terminal_table_drops_columns_not_ids(cli: Run) -> None:
    """A family whose ids fit 80 columns: the narrow table keeps the id and drops others."""
    child = "arcee-ai/Llama-3.1-SuperNova-Lite"
    ids = _json_ids(cli, "ancestors", child)
    wide = cli("ancestors", child, env={"COLUMNS": "200", **TERMINAL})[1]
    narrow = cli("ancestors", child, env={"COLUMNS": "60", **TERMINAL})[1]
    assert "declared" in wide and "declared" not in narrow
    for text in (wide, narrow):
        assert all(any(i in line.split() for line in text.splitlines()) for i in ids)
    assert all(len(line) <= 60 for line in narrow.splitlines())


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_csv_json_and_ids_read_back_to_the_same_ids(cli: Run, command: tuple[str, ...]) -> None:
    ids = _json_ids(cli, *command)
    assert ids
    code, out, err = cli(*command, "--format", "ids")
    assert code == 0, err
    assert out.splitlines() == list(dict.fromkeys(ids))
    code, out, err = cli(*command, "-f", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    key = "root" if command[0] == "families" else "id"
    assert [r[key] for r in rows] == ids
    code, out, _ = cli(*command, "--format", "json")
    assert code == 0 and json.loads(out) == json.loads(cli(*command, "--json")[1])


def test_csv_numbers_are_numbers(cli: Run, sample: Any) -> None:
    code, out, _ = cli("descendants", BASE, "-f", "csv", "-n", "3")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    top = sample.descendants(BASE, limit=3).nodes[1]
    assert rows[0]["id"] == top["id"] and int(rows[0]["downloads"]) == top["downloads"]


def test_csv_cells_never_run_as_formulas(capsys: pytest.CaptureFixture[str]) -> None:
    listing = output.Listing(
        columns=(output.Column("id", "id"), output.Column("note")),
        rows=[('=HYPERLINK("http://x")', "@SUM(A1)"), ("a/b", "-3 + 1")],
    )
    output.emit(listing, "csv")
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["id", "note"]
    assert rows[1] == ['\'=HYPERLINK("http://x")', "'@SUM(A1)"]
    assert rows[2] == ["a/b", "'-3 + 1"]


def test_piped_cells_stay_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A value with a line break or an escape sequence cannot split a row or drive a
    terminal."""
    listing = output.Listing(
        columns=(output.Column("id", "id"), output.Column("note")),
        rows=[("a/b", "two\nlines\x1b[2J"), ("c/d", "")],
    )
    output.emit(listing, "table")
    out = capsys.readouterr().out
    assert out.splitlines() == ["id   note", "a/b  two?lines?[2J", "c/d"]


def test_bad_format_choices_are_clear_errors(cli: Run) -> None:
    code, _, err = cli("descendants", BASE, "--format", "xml")
    assert code == 2 and "xml" in err
    code, _, err = cli("search", "llama", "--json", "--format", "csv")
    assert code == 2 and "--json" in err
    code, _, err = cli("descendants", BASE, "--tree", "--format", "ids")
    assert code == 2 and "--tree" in err


def test_registry_lists_take_the_same_formats(staffed: Any, reg_db: Any) -> None:
    """Registry listings go through the same output: a name a spreadsheet would run stays
    text in csv, ids are the names, a piped table is one row a line, the ancestry's ids are
    the genealogy's."""
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--db", str(reg_db), "registry", "--user", "edith", *args])
        assert result.exit_code == 0, result.stderr
        return result.stdout

    run("model", "add", "--name", "=cmd|' /C calc'!A0", "--hub-id", BASE + "-Instruct")
    run(
        "model",
        "add",
        "--name",
        "Support bot",
        "--derived-from",
        "=cmd|' /C calc'!A0",
        "--relation",
        "finetune",
    )
    rows = list(csv.DictReader(io.StringIO(run("models", "--format", "csv"))))
    assert [r["name"] for r in rows] == ["'=cmd|' /C calc'!A0", "Support bot"]
    assert [r["#"] for r in rows] == ["1", "2"]
    assert run("models", "-f", "ids").splitlines() == ["=cmd|' /C calc'!A0", "Support bot"]
    table = run("models").splitlines()
    assert len(table) == 3 and table[0].split()[:2] == ["#", "name"]
    ancestry = json.loads(run("model", "ancestry", "#1", "--json"))
    ids = [a["id"] for a in ancestry["ancestors"]]
    assert BASE in ids
    assert run("model", "ancestry", "#1", "-f", "ids").splitlines() == ids
    # The history's key is each record's: the users by name, the models by number.
    assert run("history", "-f", "ids").splitlines() == ["admin", "edith", "victor", "1", "2"]


def test_dossier_ids_and_summary_keep_ids_whole(cli: Run) -> None:
    code, out, err = cli("dossier", "--model", BASE, "--json")
    assert code == 0, err
    affected = [m["id"] for m in json.loads(out)["affected"]]
    assert len(affected) > 300 and affected[0] == BASE
    code, out, _ = cli("dossier", "--model", BASE, "--format", "ids")
    assert code == 0 and out.splitlines() == affected
    code, out, _ = cli("dossier", "--model", BASE, "-n", "5", env={"COLUMNS": "60", **TERMINAL})
    assert code == 0
    shown = {w for line in out.splitlines() for w in re.split(r"[\s│┃]+", line)}
    assert set(affected[:5]) <= shown and "Publishers to contact" in out
    assert all(len(line) <= 60 for line in out.splitlines() if line[:1] in "┏┃│└┡")


def test_fresh_list_commands_load_neither_pandas_nor_rich_tables(sample_db: Any) -> None:
    """A fresh ``search`` needs no pandas, and piped lists no rich table (issue 17: what a
    command does not use, it does not pay for at start)."""
    import os
    import subprocess
    import sys

    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('\\nLOADED ' + ' '.join(m for m in "
        "('pandas', 'rich.table') if m in sys.modules)))\n"
        "from filiation.cli import main\nmain()\n"
    )
    env = {**os.environ, "PYTHONPATH": "src"}
    # A lineage's ids are taken from the index by pyarrow, which loads pandas to check
    # whether its input is a Series: not counted here.
    for args, unused in (
        (["search", "llama"], ["pandas", "rich.table"]),
        (["descendants", BASE, "-f", "ids"], ["rich.table"]),
        (["descendants", BASE], ["rich.table"]),
    ):
        done = subprocess.run(
            [sys.executable, "-c", probe, "--db", str(sample_db), "-q", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        loaded = done.stderr.rsplit("LOADED", 1)[1].split()
        assert not set(loaded) & set(unused), args


@pytest.mark.parametrize("columns", ["40", "80"])
def test_show_important_lists_keep_ids_whole(cli: Run, columns: str) -> None:
    code, out, err = cli("show", BASE, "-n", "5", "--json")
    assert code == 0, err
    data = json.loads(out)
    ids = [n["id"] for n in data["important_children"]]
    assert len(ids) == 5
    for env in ({"COLUMNS": columns}, {"COLUMNS": columns, **TERMINAL}):
        code, out, _ = cli("show", BASE, "-n", "5", env=env)
        assert code == 0 and "Important children (by descendants" in " ".join(out.split())
        words = {w for line in out.splitlines() for w in re.split(r"[\s│┃]+", line)}
        assert set(ids) <= words, env


def test_registry_yes_no_fields_can_go_back_to_not_stated(staffed: Any, reg_db: Any) -> None:
    """``--open``/``--personal-data`` say yes or no; ``model update --clear`` says "not
    stated" again (tri-state since migration 0008), as the Python and JSON APIs do with
    ``None``/``null``; asking for both at once is a clear error that changes nothing."""
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, ["--db", str(reg_db), "registry", "--user", "edith", *args])

    assert run("model", "add", "--name", "Bot", "--open", "--personal-data").exit_code == 0
    shown = json.loads(run("model", "show", "bot", "--json").stdout)
    assert shown["open_weights"] is True and shown["personal_data"] is True
    result = run("model", "update", "bot", "--clear", "open", "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["open_weights"] is None and shown["personal_data"] is True
    clash = run("model", "update", "bot", "--no-personal-data", "--clear", "personal-data")
    assert clash.exit_code == 2 and "contradict" in clash.stderr
    assert run("model", "update", "bot", "--clear", "maybe").exit_code == 2
    assert json.loads(run("model", "show", "bot", "--json").stdout)["personal_data"] is True
    # the Python API: None is "not stated"
    bot = staffed.registry.update_model(
        "bot", {"personal_data": None}, actor=staffed.registry.user("edith")
    )
    assert bot.personal_data is None and bot.open_weights is None


@pytest.mark.parametrize("columns", [60, 80])
def test_show_never_breaks_the_hub_url_in_a_narrow_terminal(cli: Run, columns: int) -> None:
    """``show``'s record in a narrow terminal: the Hub URL (and the id) on one line, whole,
    for the family's start and for its longest id, whose URL is wider than the terminal."""
    longest = max(_json_ids(cli, "descendants", BASE), key=len)
    for model in (BASE + "-Instruct", longest):
        code, out, err = cli("show", model, env={"COLUMNS": str(columns), **TERMINAL})
        assert code == 0, err
        url = f"https://huggingface.co/{model}"
        hub = [line for line in out.splitlines() if line.startswith("on the Hub")]
        assert len(hub) == 1 and hub[0].split()[-1] == url, (model, out[:1500])
    assert len(url) > columns  # the case that used to fold
