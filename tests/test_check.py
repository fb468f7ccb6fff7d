"""``filiation check``: links of the genealogy that the evidence contradicts.

The expectations are recomputed here from the real sample dump with plain Python, one row
at a time (the Hub's ``baseModels``, ``createdAt``, ``safetensors``/``gguf`` columns and
tags), sharing no code with the vectorised rules: every flag filiation raises must be one
this oracle raises, and the other way round. Cycles, self-loops and edge lists'
architectures come from small edge lists written by the tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import filiation
from filiation.errors import InvalidArgumentError, NodeNotFoundError
from filiation.inference.check_facts import check_genealogy
from filiation.inference.checks import CREATED_MARGIN_US, SIZE_FACTOR
from tests import reference
from tests.backends import only_sqlite


def _links(hub_sample: Path) -> list[dict[str, Any]]:
    """The dump's typed links (as the reference reading finds them), with each end's row."""
    rows = {r["id"].lower(): r for r in reference.rows(hub_sample)}
    graph = reference.model_graph(hub_sample)
    out = []
    for parent, child, data in graph.edges(data=True):
        rel = data["relation"]
        merges = sum(1 for _, _, d in graph.in_edges(child, data=True) if d["relation"] == "merge")
        out.append(
            {
                "child": rows[child],
                "parent": rows.get(parent),
                "pkey": parent,
                "rel": rel,
                "n": merges,
            }
        )
    return out


def _arch(row: dict[str, Any], vocab: set[str]) -> str | None:
    if row["gguf"]:
        found = json.loads(row["gguf"]).get("architecture")
        if found:
            return str(found)
    tags = {t for t in row["tags"] or [] if t in vocab}
    return tags.pop() if len(tags) == 1 else None


def oracle(hub_sample: Path) -> dict[str, set[tuple[str, str]]]:
    """(child, parent) lower-case pairs each rule must flag, from the dump row by row."""
    rows = reference.rows(hub_sample)
    vocab = {json.loads(r["gguf"]).get("architecture") for r in rows if r["gguf"]} - {None}
    margin = timedelta(microseconds=CREATED_MARGIN_US)
    out: dict[str, set[tuple[str, str]]] = {
        k: set() for k in ("child_older", "single_parent_merge", "gguf_finetune", "other_size")
    }
    out["other_architecture"] = set()
    for link in _links(hub_sample):
        c, p, rel = link["child"], link["parent"], link["rel"]
        pair = (c["id"].lower(), link["pkey"])
        if rel == "merge" and link["n"] == 1:
            out["single_parent_merge"].add(pair)
        if rel == "finetune" and c["gguf"] and c["safetensors"] is None:
            out["gguf_finetune"].add(pair)
        if p is None:
            continue
        if c["createdAt"] and p["createdAt"] and c["createdAt"] < p["createdAt"] - margin:
            out["child_older"].add(pair)
        ca, pa_ = _arch(c, vocab), _arch(p, vocab)
        if ca and pa_ and ca != pa_:
            out["other_architecture"].add(pair)

        def params(row: dict[str, Any]) -> int | None:
            if row["safetensors"] and row["safetensors"]["total"]:
                return int(row["safetensors"]["total"])
            if row["gguf"]:
                return json.loads(row["gguf"]).get("total")
            return None

        pc, pp = params(c), params(p)
        if pc and pp:
            ratio = pc / pp
            if (
                (rel == "finetune" and not 1 / SIZE_FACTOR <= ratio <= SIZE_FACTOR)
                or (rel == "merge" and ratio < 1 / SIZE_FACTOR)
                or (rel == "quantized" and ratio > SIZE_FACTOR)
            ):
                out["other_size"].add(pair)
    return out


def _flagged(report: Any) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {r: set() for r in report.counts}
    for f in report.flags:
        out[f.rule].add((f.child.lower(), f.parent.lower()))
    return out


@only_sqlite
def test_whole_sample_matches_the_row_by_row_oracle(
    sample: filiation.Genealogy, hub_sample: Path
) -> None:
    """Every rule over the real sample flags exactly the links a row-by-row reading flags."""
    report = check_genealogy(sample, limit=None)
    got = _flagged(report)
    want = oracle(hub_sample)
    for rule, pairs in want.items():
        assert got[rule] == pairs, rule
        assert report.counts[rule] == len(pairs)
    # The sample has real cases of each rule but cycles (self-loops are dropped at ingest).
    assert all(want[r] for r in want), {r: len(p) for r, p in want.items()}
    assert report.counts["cycle"] == 0
    assert not report.not_evaluated
    assert any("GGUF" in f for f in report.facts)


def test_real_cases_are_flagged_with_their_values(sample: filiation.Genealogy) -> None:
    """Named links of the real sample, each breaking one rule, with the values shown."""
    one = check_genealogy(sample, "ReadyArt/The-Omega-Abomination-L-70B-v1.0")
    assert [(f.rule, f.parent) for f in one.flags] == [
        ("single_parent_merge", "ReadyArt/The-Omega-Directive-L-70B-v1.0")
    ]
    assert one.summary() == "checks: 1 (single_parent_merge 1)"
    qwen = check_genealogy(sample, "Qwen/Qwen2.5-7B-Instruct", rules=["other_architecture"])
    llamaified = {f.child: f.values for f in qwen.flags}
    assert llamaified["OpenBuddy/openbuddy-qwen2.5llamaify-7b-v23.1-200k"] == {
        "child": "llama",
        "parent": "qwen2",
    }
    older = check_genealogy(sample, "Kukedlc/NeuralLLaMa-3-8b-ORPO-v0.3", rules=["child_older"])
    (flag,) = older.flags
    assert flag.parent == "meta-llama/Llama-3.1-8B-Instruct"
    assert flag.values["child"] < flag.values["parent"]


def test_a_clean_family_is_not_flagged(sample: filiation.Genealogy, hub_sample: Path) -> None:
    """The model with the most children whose links the oracle finds clean gets no flag."""
    bad = set().union(*oracle(hub_sample).values())
    children: dict[str, set[str]] = {}
    for link in _links(hub_sample):
        children.setdefault(link["pkey"], set()).add(link["child"]["id"].lower())
    clean = [
        (len(kids), parent)
        for parent, kids in children.items()
        if not any((k, parent) in bad for k in kids) and not any(parent == b[0] for b in bad)
    ]
    n, parent = max(clean)
    assert n >= 3
    report = check_genealogy(sample, parent)
    assert report.flags == [] and report.summary() == "checks: none"


@pytest.fixture()
def crooked(new_db: Any, tmp_path: Path) -> filiation.Genealogy:
    """An edge list with a 3-cycle, a self-loop, a one-parent merge and a change of
    architecture (from the node list's architecture column)."""
    edges = tmp_path / "edges.csv"
    edges.write_text(
        "parent_id,child_id,relation\n"
        "org/a,org/b,finetuned\n"
        "org/b,org/c,finetuned\n"
        "org/c,org/a,finetuned\n"
        "org/d,org/d,finetuned\n"
        "org/base,org/merged,merged\n"
        "org/base,org/tuned,finetuned\n"
        "org/base,org/two,merged\n"
        "org/a,org/two,merged\n"
    )
    nodes = tmp_path / "nodes.csv"
    nodes.write_text(
        "id,type,owner,architecture\n"
        "org/base,model,org,LlamaForCausalLM\n"
        "org/tuned,model,org,MistralForCausalLM\n"
        "org/merged,model,org,LlamaForCausalLM\n"
    )
    g = filiation.open(new_db("crooked"), load_bundled=False)
    report = g.ingest_edges(edges, nodes=nodes)
    assert any("self-loop" in k for k in report.as_dict()["skipped"]), report.as_dict()
    return g


def test_cycles_merges_and_architectures_of_an_edge_list(crooked: filiation.Genealogy) -> None:
    report = check_genealogy(crooked, limit=None)
    got = _flagged(report)
    assert got["cycle"] == {("org/b", "org/a"), ("org/c", "org/b"), ("org/a", "org/c")}
    assert {f.values["models_on_cycle"] for f in report.flags if f.rule == "cycle"} == {3}
    assert got["single_parent_merge"] == {("org/merged", "org/base")}
    assert got["other_architecture"] == {("org/tuned", "org/base")}
    # No dump behind an edge list: the files shipped are unknown, said so, not "clean".
    assert "gguf_finetune" in report.not_evaluated
    assert check_genealogy(crooked, "org/two").flags == []
    assert {f.rule for f in check_genealogy(crooked, "org/b").flags} == {"cycle"}


def test_bad_input(sample: filiation.Genealogy) -> None:
    with pytest.raises(NodeNotFoundError):
        check_genealogy(sample, "nobody/no-such-model")
    with pytest.raises(InvalidArgumentError, match="unknown rule"):
        check_genealogy(sample, rules=["vibes"])


@only_sqlite
def test_cli_check(sample_db: Any) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "from filiation.cli import main; main()",
                "--db",
                str(sample_db),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**__import__("os").environ, "PYTHONPATH": "src"},
        )

    whole = run("check", "--json", "--limit", "3")
    assert whole.returncode == 0, whole.stderr
    doc = json.loads(whole.stdout)
    assert len(doc["flags"]) == 3 and doc["truncated"] and doc["counts"]["single_parent_merge"] == 1
    text = run("check", "ReadyArt/The-Omega-Abomination-L-70B-v1.0")
    assert text.returncode == 0 and "single_parent_merge" in text.stdout
    # Piped, standard output holds the flags' rows only; the summary goes to standard error.
    assert "checks: 1" in text.stderr
    assert text.stdout.splitlines()[1].split()[:2] == [
        "ReadyArt/The-Omega-Abomination-L-70B-v1.0",
        "ReadyArt/The-Omega-Directive-L-70B-v1.0",
    ]
    missing = run("check", "nobody/no-such-model")
    assert missing.returncode == NodeNotFoundError.exit_code
    assert "not in the loaded genealogy" in missing.stderr


@only_sqlite
def test_facts_are_kept_beside_the_index(
    sample_db: Any, sample: filiation.Genealogy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dump is read once per index: another process finds the facts saved beside it."""
    from filiation.inference import check_facts

    first = check_genealogy(sample, limit=None)
    cache = check_facts._cache_path(sample, sample.index.a)
    assert cache is not None and cache.exists()

    def no_dump(*_a: Any, **_k: Any) -> None:
        raise AssertionError("the dump was read again")

    monkeypatch.setattr(check_facts, "add_dump_facts", no_dump)
    again = check_genealogy(filiation.open(sample_db), limit=None)
    assert again.counts == first.counts and again.flags == first.flags


@only_sqlite
def test_architectures_of_the_real_edge_list(new_db: Any, lineage_csv: tuple[Path, Path]) -> None:
    """The real llm-lineage list: every link whose two ends' ``architecture`` (nodes.csv)
    differ is flagged, "unknown" is not an architecture, and nothing else is."""
    import csv

    edges_path, nodes_path = lineage_csv
    with nodes_path.open(newline="", encoding="utf-8") as f:
        arch = {
            r["id"].lower(): r["architecture"].strip().lower()
            for r in csv.DictReader(f)
            if r["architecture"].strip().lower() not in ("", "unknown")
        }
    with edges_path.open(newline="", encoding="utf-8") as f:
        want = {
            (r["child_id"].lower(), r["parent_id"].lower())
            for r in csv.DictReader(f)
            if r["child_id"].lower() != r["parent_id"].lower()
            and r["child_id"].lower() in arch
            and r["parent_id"].lower() in arch
            and arch[r["child_id"].lower()] != arch[r["parent_id"].lower()]
        }
    g = filiation.open(new_db("lineage"), load_bundled=False)
    g.ingest_edges(edges_path, nodes=nodes_path)
    report = check_genealogy(g, limit=None, rules=["other_architecture"])
    got = _flagged(report)["other_architecture"]
    assert len(want) > 100 and got == want
    assert all(f.values["child"] != "unknown" for f in report.flags)


def test_flags_show_where_people_look(sample: filiation.Genealogy, sample_db: Any) -> None:
    """``show`` ends with the model's checks; its page lists them in the page's language."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from filiation.api import create_app
    from filiation.cli import app

    merge = "ReadyArt/The-Omega-Abomination-L-70B-v1.0"
    res = CliRunner().invoke(app, ["--db", str(sample_db), "show", merge])
    assert res.exit_code == 0, res.output
    assert "checks: 1 (single_parent_merge 1)" in res.output
    clean = CliRunner().invoke(app, ["--db", str(sample_db), "show", "meta-llama/Llama-3.1-8B"])
    assert "checks: none" in clean.output

    client = TestClient(create_app(sample))
    llamaified = "OpenBuddy/openbuddy-qwen2.5llamaify-7b-v23.1-200k"
    for lang, words in (("en", "another architecture"), ("fr", "une autre architecture")):
        page = client.get(f"/{lang}/models/{llamaified}").text
        assert 'id="checks"' in page and words in page and "Qwen/Qwen2.5-7B-Instruct" in page
    assert 'id="checks"' not in client.get("/en/models/meta-llama/Llama-3.1-8B").text


def _touching(report: Any, node: str) -> set[tuple[str, str, str, str]]:
    return {
        (f.child.lower(), f.parent.lower(), f.rule, json.dumps(f.values, sort_keys=True))
        for f in report.flags
        if node in (f.child.lower(), f.parent.lower())
    }


def test_one_node_is_checked_alone_as_in_the_whole(
    sample: filiation.Genealogy, crooked: filiation.Genealogy
) -> None:
    """``show`` and the model page check one node's links only (not the whole Hub's graph):
    the flags, their values and the cycle sizes equal those of the whole-genealogy check."""
    for g in (sample, crooked):
        whole = check_genealogy(g, limit=None)
        nodes = {n for f in whole.flags for n in (f.child.lower(), f.parent.lower())}
        assert nodes
        for node in sorted(nodes)[:60]:
            alone = check_genealogy(g, node, limit=None)
            assert _touching(alone, node) == _touching(whole, node), node
            assert sum(alone.counts.values()) == len(alone.flags)
