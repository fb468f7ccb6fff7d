"""The command line, as a user types it, on the real sample."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import filiation
from filiation.cli import app
from tests.backends import run_env

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture()
def cli(sample_db: Any):
    runner = CliRunner()

    def run(*args: str, db: Any = None) -> tuple[int, str, str]:
        result = runner.invoke(app, ["--db", str(db or sample_db), *args])
        return result.exit_code, result.stdout, result.stderr

    return run


def test_descendants_json_is_the_python_api_result(cli, sample) -> None:
    code, out, _ = cli("descendants", LLAMA, "-r", "finetune", "--max-depth", "2", "--json")
    assert code == 0
    data = json.loads(out)
    expected = sample.descendants(LLAMA, relations=["finetune"], max_depth=2).to_dict()
    assert data == json.loads(json.dumps(expected))
    assert data["root"] == LLAMA and data["truncated"] is False


def test_ancestors_tree_draws_every_ancestor(cli, sample) -> None:
    child = "arcee-ai/Llama-3.1-SuperNova-Lite"
    code, out, _ = cli("ancestors", child, "--tree")
    assert code == 0
    for ancestor in sample.ancestors(child).ids():
        assert ancestor in out


def test_descendants_table_reports_truncation(cli) -> None:
    # Piped, the table holds rows only: the warning goes to standard error.
    code, out, err = cli("descendants", LLAMA, "--limit", "5")
    assert code == 0
    assert "truncated" in err and "truncated" not in out
    assert len(out.splitlines()) == 1 + 5


def test_show_prints_indicators_and_important_children(cli, sample) -> None:
    code, out, _ = cli("show", LLAMA, "-n", "3")
    assert code == 0
    details = sample.show(LLAMA, limit=3)
    assert f"{details.downloads:,}" in out
    assert "llama3.1" in out and "text-generation" in out
    assert "Important children (by descendants, then downloads, then likes)" in out
    code, out, _ = cli("show", LLAMA, "-n", "3", "--rank-by", "likes", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["ranking"] == ["likes"]
    likes = [c["likes"] for c in data["important_children"]]
    assert likes == sorted(likes, reverse=True)


def test_path_and_no_path(cli) -> None:
    code, out, _ = cli("path", "meta-llama/Llama-3.1-8B", "arcee-ai/Llama-3.1-SuperNova-Lite")
    assert code == 0 and "finetune" in out and "SuperNova-Lite" in out
    code, out, _ = cli("path", "arcee-ai/Llama-3.1-SuperNova-Lite", "meta-llama/Llama-3.1-8B")
    assert code == 1 and "does not derive" in out


def test_impact_lists_models_trained_on_a_dataset(cli, sample) -> None:
    dataset = sample.search("ultrafeedback", kinds=["dataset"])[0].id
    code, out, _ = cli("impact", "--dataset", dataset, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["nodes"][0]["kind"] == "dataset"
    assert {n["id"] for n in data["nodes"][1:]} == set(sample.impact(dataset).ids())


def test_search_and_stats(cli, sample) -> None:
    code, out, _ = cli("search", "qwen2.5-7b", "--json")
    assert code == 0
    hits = json.loads(out)
    assert [h["id"] for h in hits] == [h.id for h in sample.search("qwen2.5-7b")]
    code, out, _ = cli("stats", "--json")
    assert code == 0
    assert json.loads(out)["nodes_by_kind"]["model"] == sample.stats().nodes_by_kind["model"]
    code, out, _ = cli("stats")
    assert code == 0 and "merge links" in out


def test_errors_are_one_clear_line_with_an_exit_code(cli) -> None:
    code, _, err = cli("show", "meta-llama/Llama-3.1-8B-Instructt")
    assert code == 3
    assert "not in the loaded genealogy" in err and "did you mean" in err
    assert "Traceback" not in err
    code, _, err = cli("descendants", LLAMA, "-r", "sibling")
    assert code == 2 and "unknown relation 'sibling'" in err
    code, _, err = cli("descendants", LLAMA, "--max-depth", "-1")
    assert code == 2


def test_ingest_edges_then_query(cli, new_db, lineage_csv) -> None:
    edges, nodes = lineage_csv
    db = new_db("edges")
    code, out, err = cli("ingest", "edges", str(edges), "--nodes", str(nodes), "--json", db=db)
    assert code == 0, err
    report = json.loads(out)
    assert report["links"] > 29_000 and report["source"] == "edges:edges"
    code, out, _ = cli("show", "unsloth/llama-3-8b-bnb-4bit", "--json", db=db)
    assert code == 0
    data = json.loads(out)
    assert sum(data["children_by_relation"].values()) == data["children"] > 500
    code, out, _ = cli("snapshots", "--json", db=db)
    assert [s["source"] for s in json.loads(out)] == ["edges:edges"]


def test_ingest_bad_file_fails_cleanly_and_keeps_the_store(cli, tmp_path: Path, sample_db) -> None:
    bad = tmp_path / "models.parquet"
    bad.write_text("this is not parquet")
    before = filiation.open(sample_db).stats()
    code, _, err = cli("ingest", "hub-stats", str(bad))
    assert code == 4 and "not a readable Parquet file" in err
    assert filiation.open(sample_db).stats() == before


def test_readme_demo_command_works_offline(new_db) -> None:
    """The README's first command, on an empty store with no network: the bundled sample.

    The store is named by ``$FILIATION_DB`` (a file path, or a PostgreSQL URL)."""
    env = run_env(FILIATION_DB=str(new_db("demo")), HF_HUB_OFFLINE="1", COLUMNS="200")
    cmd = [sys.executable, "-m", "filiation.cli"]
    shown = subprocess.run(
        [*cmd, "show", LLAMA], env=env, capture_output=True, text=True, check=True
    )
    assert "meta-llama" in shown.stdout and "descendants" in shown.stdout
    tree = subprocess.run(
        [*cmd, "descendants", LLAMA, "--max-depth", "2", "--tree"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert tree.stdout.splitlines()[0].strip() == LLAMA
    assert "arcee-ai/Llama-3.1-SuperNova-Lite" in tree.stdout


def test_show_an_author_and_a_dataset(cli, sample, hub_sample) -> None:
    from tests import reference

    code, out, _ = cli("show", "meta-llama", "--kind", "author", "--json")
    assert code == 0
    data = json.loads(out)
    published = [r for r in reference.rows(hub_sample) if r["author"] == "meta-llama"]
    assert data["kind"] == "author" and data["children_by_relation"]["published_by"] >= len(
        published
    )
    dataset, models = max(reference.trained_on(hub_sample).items(), key=lambda kv: len(kv[1]))
    code, out, _ = cli("show", dataset, "--kind", "dataset")
    assert code == 0 and "models trained on it" in out and f"{len(models):,}" in out


def _fresh(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``filiation ARGS`` in a new process, which then prints the heavy libraries it loaded."""
    probe = (
        "import sys\n"
        "from filiation.cli import main\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    print('LOADED', sorted(m for m in sys.modules if '.' not in m), file=sys.stderr)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", probe, *args],
        env=run_env(**(env or {}), COLUMNS="200"),
        capture_output=True,
        text=True,
    )


def _loaded(stderr: str) -> set[str]:
    line = next(x for x in reversed(stderr.splitlines()) if x.startswith("LOADED "))
    return set(json.loads(line[len("LOADED ") :].replace("'", '"')))


def test_version_and_help_load_no_store_index_or_server(tmp_path: Path) -> None:
    """Issue 17: `--version` and `--help` answer without the store, the index, the web stack
    or the data libraries (benchmarks/cli_startup.py measures how fast)."""
    db = tmp_path / "never-created.sqlite"
    version = _fresh("--db", str(db), "--version")
    assert version.returncode == 0 and version.stdout == f"filiation {filiation.__version__}\n"
    heavy = {"numpy", "pyarrow", "pandas", "sqlalchemy", "fastapi", "uvicorn", "torch", "scipy"}
    assert not _loaded(version.stderr) & (heavy | {"rich", "pydantic"})
    helped = _fresh("--db", str(db), "--help")
    assert helped.returncode == 0 and "descendants" in helped.stdout
    assert "registry" in helped.stdout and "dossier" in helped.stdout
    assert not _loaded(helped.stderr) & (heavy | {"pydantic"})
    assert not db.exists()  # nothing opened, nothing built


def test_python_dash_m_filiation_runs_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "filiation", "--version"],
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and done.stdout.strip() == f"filiation {filiation.__version__}"


def test_the_light_copies_of_names_agree_with_their_sources() -> None:
    """The command line names these without importing the store or numpy."""
    from filiation import domain, service
    from filiation.cli import common
    from filiation.lineage import index

    assert common.ENV_DB == service.ENV_DB
    assert domain.RANKING_KEYS == index.RANKING_KEYS
    assert domain.DEFAULT_RANKING == index.DEFAULT_RANKING


def test_traversal_options_make_one_query(cli, sample) -> None:
    """Every walking command takes the same options, checked once, the same way."""
    code, out, _ = cli("descendants", LLAMA, "--since", "2024-07-01", "-k", "model", "--json")
    assert code == 0
    expected = sample.descendants(LLAMA, since="2024-07-01", kinds=["model"]).to_dict()
    assert json.loads(out) == json.loads(json.dumps(expected))
    for command in (["ancestors", LLAMA], ["impact", "--dataset", "x"], ["export", LLAMA]):
        code, _, err = cli(*command, "--until", "last week")
        assert code == 2, command
        assert "until must be a date such as 2024-05-01" in " ".join(err.split())


def test_writing_a_file_fails_cleanly(cli, tmp_path: Path) -> None:
    """export and dossier --output share one writer: a clear error, no half or stray file."""
    target = tmp_path / "missing-folder" / "out.json"
    code, _, err = cli("export", LLAMA, "-o", str(target))
    assert code == 2 and "cannot write" in err
    code, _, err = cli("dossier", "--model", LLAMA, "-f", "csv", "-o", str(target))
    assert code == 2 and "cannot write" in err
    assert not list(tmp_path.rglob("*.part"))


def test_follow_up_date_is_checked_like_the_filters(cli) -> None:
    code, _, err = cli("followup", "meta-llama", "sent", "--model", LLAMA, "--date", "soon")
    assert code == 2 and "--date must be a date such as 2024-05-01" in " ".join(err.split())
