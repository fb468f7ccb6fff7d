"""``filiation infer``: suspected parents from metadata, their calibration, storage and walks.

The quality test uses the real sample with the parents of a seeded half of its children
hidden (the half the shipped model was *not* fitted on: ``benchmarks/infer.py``); the other
tests build small dumps in the hub-stats format whose answer is known by construction.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from benchmarks import infer as bench
from typer.testing import CliRunner

import filiation
from filiation.errors import SourceError
from filiation.inference import metadata as md
from filiation.inference.candidates import SIZE_LEVEL
from filiation.inference.run import infer_genealogy, refresh_after_ingest
from filiation.lineage.build import SourceTables, build
from filiation.lineage.index import LineageIndex, suspected_confidence
from filiation.lineage.query import TraversalQuery
from filiation.sources.records import LINK_SCHEMA, empty_nodes
from tests.backends import only_sqlite

# -- quality on the real sample ---------------------------------------------------------------
# The shipped model on seed 1's fold B of the real sample: the families it was not fitted on
# (``benchmarks/infer.py`` splits the declared links by family). The bounds are statistical,
# not measured values: a confidence must be the share of right suspects within three
# standard errors of that share, and higher confidence must mean more often right.


def _standard_error(p: float, n: int) -> float:
    return float(np.sqrt(max(p * (1 - p), 0.05 * 0.95) / max(n, 1)))


@pytest.fixture(scope="module")
def masked() -> list[dict[str, Any]]:
    feat = md.read_features(bench.SAMPLE)
    declared, truth = bench.sample_truth(feat)
    _, fold_b = bench.folds(truth, 1)
    return bench.evaluate(feat, declared, truth, fold_b, md.Model.bundled())


def test_hidden_parents_are_found_with_the_precision_the_confidence_states(masked) -> None:
    said = [r for r in masked if r["confidence"] is not None and r["relation"] != "merge"]
    assert len(said) >= 100
    # Calibrated: over every suspect, and over those of confidence >= 0.5, the mean
    # confidence is the share that is right.
    for group in (said, [r for r in said if r["confidence"] >= 0.5]):
        mean_conf = float(np.mean([r["confidence"] for r in group]))
        observed = float(np.mean([r["right"] for r in group]))
        assert abs(mean_conf - observed) <= 3 * _standard_error(observed, len(group))
    # Higher confidence means more often right.
    low = bench.pr(masked, 0.0, bench.CORE)["precision"]
    assert bench.pr(masked, 0.5, bench.CORE)["precision"] > low + 3 * _standard_error(
        low, len(said)
    )


def test_families_never_straddle_the_two_folds() -> None:
    feat = md.read_features(bench.SAMPLE)
    _, truth = bench.sample_truth(feat)
    fam = bench.families(truth)
    fold_a, fold_b = bench.folds(truth, 1)
    assert {fam[int(c)] for c in fold_a}.isdisjoint({fam[int(c)] for c in fold_b})
    # A child and its declared parents (when children themselves) are in the same fold.
    side = {int(c): "a" for c in fold_a} | {int(c): "b" for c in fold_b}
    assert all(side[p] == side[c] for c, t in truth.items() for p in t["parents"] if p in side)


# -- the targets on generated families ------------------------------------------------------
def _generated_hub(seed: int) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    """A small hub drawn from ``seed``: publishers' base and instruct models (the instruct
    declares its base), and undeclared children: format copies by quantising accounts,
    adapters and fine-tunes named after their parent, and fine-tunes whose name says
    nothing (only their size: base and instruct are then indistinguishable)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    truth: dict[str, tuple[str, str]] = {}
    t0 = datetime(2024, 1, 1)
    names = ["Orca", "Falcon", "Heron", "Lynx", "Otter", "Marten", "Ibis", "Puffin", "Wren"]
    tasks = ["medical", "legal", "code", "math", "chat-fr", "story", "sql", "rp"]
    quanters = ["bartowski", "TheBloke", "mradermacher", "QuantFactory", "mlx-community"]
    formats = [
        ("GGUF", ["gguf"], "gguf"),
        ("Q4_K_M-GGUF", ["gguf", "llama-cpp"], "gguf"),
        ("AWQ", ["awq"], "transformers"),
        ("GPTQ", ["gptq"], "transformers"),
        ("4bit", ["mlx"], "mlx"),
        ("bnb-4bit", ["bitsandbytes", "4-bit"], "transformers"),
    ]

    def days(lo: int, hi: int) -> timedelta:
        return timedelta(days=int(rng.integers(lo, hi)))

    for f, name in enumerate(names):
        org = f"lab{f}"
        for size in rng.choice([1, 3, 7, 8, 13, 70], size=2, replace=False):
            params = int(size * 1e9 + rng.integers(1e6, 9e8))
            when = t0 + days(0, 200)
            base, inst = f"{org}/{name}-{size}B", f"{org}/{name}-{size}B-Instruct"
            common = {"author": org, "params": params}
            rows.append({"id": base, "created": when, "downloads": int(rng.integers(5e4, 5e6))})
            rows[-1].update(common)
            rows.append(
                {"id": inst, "created": when + days(1, 2), "parents": [base], **common}
                | {"downloads": int(rng.integers(5e4, 5e6))}
            )
            for _ in range(int(rng.integers(2, 6))):
                q = quanters[int(rng.integers(len(quanters)))]
                suffix, tags, lib = formats[int(rng.integers(len(formats)))]
                parent = inst if rng.random() < 0.7 else base
                cid = f"{q}/{parent.split('/')[1]}-{suffix}"
                if cid in truth:
                    continue
                size_of = (
                    {"gguf": f'{{"total": {params}, "architecture": "llama"}}'}
                    if lib == "gguf"
                    else {"params": params}
                )
                rows.append(
                    {"id": cid, "author": q, "created": when + days(2, 60), "tags": tags}
                    | {"library": lib, "downloads": int(rng.integers(10, 5e4)), **size_of}
                )
                truth[cid] = (parent, "quantized")
            for _ in range(int(rng.integers(2, 5))):
                user = f"user{int(rng.integers(10_000))}"
                task = tasks[int(rng.integers(len(tasks)))]
                parent = inst if rng.random() < 0.6 else base
                kind = rng.random()
                if kind < 0.35:
                    cid = f"{user}/{parent.split('/')[1].lower()}-{task}-lora"
                    extra = {"tags": ["lora", "peft"], "library": "peft"}
                    truth[cid] = (parent, "adapter")
                elif kind < 0.7:
                    cid = f"{user}/{task.title()}-{parent.split('/')[1]}"
                    extra = {"params": params, "tags": ["trl", "sft"]}
                    truth[cid] = (parent, "finetune")
                else:  # a name that says nothing: only the size links it to its family
                    cid = f"{user}/{task.title()}Bot-{int(rng.integers(100))}"
                    extra = {"params": params, "tags": ["trl", "sft"]}
                    truth[cid] = (parent, "finetune")
                if any(r["id"] == cid for r in rows):
                    del truth[cid]
                    continue
                rows.append(
                    {"id": cid, "author": user, "created": when + days(2, 90), **extra}
                    | {"downloads": int(rng.integers(0, 5000))}
                )
    return rows, truth


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_the_issue_targets_hold_on_families_the_fit_never_saw(tmp_path: Path, seed: int) -> None:
    """The method (fit on half the families, measured on the other half) meets the issue's
    targets where metadata can tell (the nameless fine-tunes count among the children to
    find): precision >= 0.9 and recall >= 0.3 at confidence >= 0.8."""
    rows, named = _generated_hub(seed)
    feat = md.read_features(_dump(tmp_path / "hub.parquet", rows))
    row = {k: i for i, k in enumerate(feat.ids.to_pylist())}
    truth = {
        row[c]: {"parents": {row[p]}, "absent": 0, "relation": r} for c, (p, r) in named.items()
    }
    declared = feat.dump_declared.copy()
    declared[list(truth)] = True
    fold_a, fold_b = bench.folds(truth, seed)
    model = bench.fit_fold(feat, declared, truth, fold_a)
    measured = bench.evaluate(feat, declared, truth, fold_b, model)
    at08 = bench.pr(measured, 0.8, bench.CORE)
    assert at08["precision"] is not None and at08["precision"] >= 0.9
    assert at08["recall"] >= 0.3


def test_the_shipped_model_says_what_it_was_fitted_on() -> None:
    model = md.Model.bundled()
    assert "fold A of seed 1" in model.fitted_on
    assert len(model.stage1) == len(md.FEATURES)


# -- small dumps whose answer is known ----------------------------------------------------
def _dump(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A models.parquet in the hub-stats layout (the columns inference reads)."""
    bm_type = pa.struct(
        [("relation", pa.string()), ("models", pa.list_(pa.struct([("id", pa.string())])))]
    )

    def base(r: dict[str, Any]) -> Any:
        if not r.get("parents"):
            return None
        return {
            "relation": r.get("relation", "finetune"),
            "models": [{"id": p} for p in r["parents"]],
        }

    table = pa.table(
        {
            "id": [r["id"] for r in rows],
            "author": [r.get("author") for r in rows],
            "createdAt": pa.array([r["created"] for r in rows], pa.timestamp("us")),
            "downloads": pa.array([r.get("downloads", 0) for r in rows], pa.int64()),
            "tags": pa.array([r.get("tags", []) for r in rows], pa.list_(pa.string())),
            "safetensors": pa.array(
                [{"total": r["params"]} if r.get("params") else None for r in rows],
                pa.struct([("total", pa.int64())]),
            ),
            "gguf": pa.array([r.get("gguf") for r in rows], pa.string()),
            "baseModels": pa.array([base(r) for r in rows], bm_type),
            "pipeline_tag": ["text-generation"] * len(rows),
            "library_name": [r.get("library", "transformers") for r in rows],
        }
    )
    pq.write_table(table, path)
    return path


def _family() -> list[dict[str, Any]]:
    day = datetime(2025, 1, 1)
    return [
        {
            "id": "org/Base-7B",
            "author": "org",
            "created": day,
            "downloads": 90_000,
            "params": 7_241_732_096,
        },
        {
            "id": "org/Base-7B-Instruct",
            "author": "org",
            "created": datetime(2025, 2, 1),
            "downloads": 50_000,
            "params": 7_241_732_096,
            "parents": ["org/Base-7B"],
        },
        # undeclared copies: a GGUF quantisation, an adapter, a fine-tune of the same size
        {
            "id": "quanter/Base-7B-Instruct-Q4_K_M-GGUF",
            "author": "quanter",
            "created": datetime(2025, 3, 1),
            "downloads": 800,
            "library": "gguf",
            "tags": ["gguf"],
            "gguf": '{"total": 7241732096, "architecture": "llama"}',
        },
        {
            "id": "someone/base-7b-instruct-lora",
            "author": "someone",
            "created": datetime(2025, 3, 2),
            "downloads": 10,
            "library": "peft",
            "tags": ["lora"],
        },
        # no author column value, no slash in the id: still a model, never its own parent
        {"id": "Base-7B-Instruct-AWQ", "created": datetime(2025, 3, 3), "tags": ["awq"]},
        # a cycle of declared links and a self-loop: nothing to infer for them, no crash
        {"id": "loop/a", "created": day, "parents": ["loop/b"]},
        {"id": "loop/b", "created": day, "parents": ["loop/a"]},
        {"id": "loop/self", "created": day, "parents": ["loop/self"]},
    ]


def test_suspects_name_the_parent_relation_confidence_and_evidence(tmp_path: Path) -> None:
    feat = md.read_features(_dump(tmp_path / "m.parquet", _family()))
    sus = md.infer(feat, min_confidence=0.0)
    ids = feat.ids.to_pylist()
    found = {
        ids[c]: (ids[p], r) for c, p, r in zip(sus.child, sus.parent, sus.relation, strict=True)
    }
    assert found["quanter/Base-7B-Instruct-Q4_K_M-GGUF"] == ("org/Base-7B-Instruct", "quantized")
    # the adapter's name fits both models of the family: either may be suspected
    parent, relation = found["someone/base-7b-instruct-lora"]
    assert relation == "adapter" and parent in {"org/Base-7B-Instruct", "org/Base-7B"}
    assert found["Base-7B-Instruct-AWQ"][1] == "quantized"
    assert not any(c == p for c, p in zip(sus.child, sus.parent, strict=True))
    assert "org/Base-7B-Instruct" not in found  # it declares its parent
    assert all(0.0 <= c <= 1.0 for c in sus.confidence)
    i = ids.index("quanter/Base-7B-Instruct-Q4_K_M-GGUF")
    ev = sus.evidence(int(np.flatnonzero(sus.child == i)[0]))
    assert ev["name_key"] == "base-7b-instruct" and "format" in ev["child_flags"]
    assert ev["child_parameters"] == 7_241_732_096 and ev["child_architecture"] == "llama"
    assert ev["parent_created"] < ev["child_created"]


def test_a_parent_is_never_younger_than_its_child(tmp_path: Path) -> None:
    rows = _family()
    rows[0]["created"] = datetime(2026, 1, 1)  # the base now looks newer than everything
    feat = md.read_features(_dump(tmp_path / "m.parquet", rows))
    sus = md.infer(feat, min_confidence=0.0)
    assert not any(
        feat.created[p] > feat.created[c] for c, p in zip(sus.child, sus.parent, strict=True)
    )


def test_missing_columns_are_missing_signals_and_a_dump_without_ids_is_refused(
    tmp_path: Path,
) -> None:
    only_ids = pa.table({"id": ["org/Base-7B", "x/Base-7B-GGUF", None, "  "]})
    feat = md.read_features(only_ids)
    assert "tags" in feat.missing and "createdAt" in feat.missing
    sus = md.infer(feat, min_confidence=0.0)
    said = {
        feat.ids[int(c)].as_py(): (feat.ids[int(p)].as_py(), float(conf))
        for c, p, conf in zip(sus.child, sus.parent, sus.confidence, strict=True)
    }
    # Without dates either could be the parent; the copy named as a format is the likelier
    # child, and the empty ids are never anyone's.
    assert said["x/Base-7B-GGUF"][0] == "org/Base-7B"
    assert said["x/Base-7B-GGUF"][1] > said.get("org/Base-7B", ("", 0.0))[1]
    assert set(said) <= {"x/Base-7B-GGUF", "org/Base-7B"}
    with pytest.raises(SourceError, match="no 'id' column"):
        md.read_features(pa.table({"name": ["a"]}))
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(SourceError, match="not a readable Parquet file"):
        md.read_features(bad)


# -- storage, index, walks ----------------------------------------------------------------
def test_infer_stores_suspects_apart_and_walks_follow_them_only_when_asked(
    tmp_path: Path, fresh_db
) -> None:
    g = filiation.open(fresh_db, load_bundled=False)
    g.ingest_hub_stats(_dump(tmp_path / "m.parquet", _family()))
    before = g.descendants("org/Base-7B-Instruct")
    counted = int(g.index.a.descendants[g.index.lookup("org/Base-7B-Instruct")])
    result = infer_genealogy(g, min_confidence=0.0)
    assert result.stored >= 2 and result.snapshot_id is not None
    assert {s.source for s in g.store.current_snapshots()} == {"hub-stats", md.SOURCE}

    idx = g.index
    base = idx.lookup("org/Base-7B")
    # Declared links, counts and the service's walks are unchanged.
    assert g.descendants("org/Base-7B-Instruct").ids() == before.ids()
    assert int(idx.a.descendants[idx.lookup("org/Base-7B-Instruct")]) == counted
    assert g.ancestors("org/Base-7B-Instruct").ids() == ["org/Base-7B"]
    # The index walks suspects only with a minimum confidence.
    plain = idx.walk([base], down=True)
    with_sus = idx.walk([base], down=True, min_confidence=0.0)
    found = set(idx.a.ids_of(with_sus.nodes)) - set(idx.a.ids_of(plain.nodes))
    assert {"quanter/Base-7B-Instruct-Q4_K_M-GGUF", "someone/base-7b-instruct-lora"} <= found
    assert idx.suspected(with_sus.edges).any() and not idx.suspected(plain.edges).any()
    top = max(idx.confidence(int(e)) or 0.0 for e in with_sus.edges)
    above = idx.walk([base], down=True, min_confidence=min(1.0, top + 1e-6))
    assert set(above.nodes) == set(plain.nodes)
    # Upwards too, and the traversal query says what to pass.
    child = idx.lookup("quanter/Base-7B-Instruct-Q4_K_M-GGUF")
    assert len(idx.walk([child], down=False).nodes) == 0
    query = TraversalQuery.parse(include_suspected=True, min_confidence=0.0)
    up = idx.walk([child], down=False, min_confidence=suspected_confidence(query))
    assert idx.lookup("org/Base-7B-Instruct") in set(up.nodes.tolist())
    assert suspected_confidence(TraversalQuery.parse()) is None

    # show() counts declared links only.
    shown = g.show("org/Base-7B")
    assert shown.children == 1
    assert [c.id for c in shown.important_children] == ["org/Base-7B-Instruct"]

    # Recomputing (as after an ingest) replaces the previous suspects: one current snapshot.
    again = refresh_after_ingest(g)
    assert again is not None and again.links == []
    assert again.snapshot_id != result.snapshot_id and again.stored == result.stored
    assert g.index.a.n_suspected == result.stored
    assert sum(s.source == md.SOURCE for s in g.store.current_snapshots()) == 1


@only_sqlite
def test_without_a_dump_suspects_are_left_as_they_are(tmp_path: Path, fresh_db) -> None:
    g = filiation.open(fresh_db, load_bundled=False)
    dump = _dump(tmp_path / "m.parquet", _family())
    g.ingest_hub_stats(dump)
    stored = infer_genealogy(g).stored
    dump.unlink()
    said: list[str] = []
    assert refresh_after_ingest(g, say=said.append) is None
    assert "no longer there" in said[-1] and "--dump" in said[-1]
    assert g.index.a.n_suspected == stored


@only_sqlite
def test_a_suspect_never_stands_beside_a_declared_link(fresh_db) -> None:
    g = filiation.open(fresh_db, load_bundled=False)
    declared = pa.table(
        {
            "child_kind": ["model", "model"],
            "child_key": ["org/b", "org/c"],
            "child_id": ["org/B", "org/C"],
            "parent_kind": ["model", "model"],
            "parent_key": ["org/a", "org/a"],
            "parent_id": ["org/A", "org/A"],
            "relation": ["finetune", "finetune"],
            "declared": [True, True],
            "evidence": ["edges.csv:1", "edges.csv:2"],
        },
        schema=LINK_SCHEMA,
    )
    ev = json.dumps({"confidence": 0.9, "signals": {}})
    suspected = declared.set_column(
        declared.schema.get_field_index("relation"), "relation", pa.array(["quantized", "merge"])
    )
    suspected = suspected.set_column(
        suspected.schema.get_field_index("declared"), "declared", pa.array([False, False])
    )
    suspected = suspected.set_column(
        suspected.schema.get_field_index("evidence"), "evidence", pa.array([ev, ev])
    )
    extra = pa.table({**{c: suspected[c] for c in suspected.column_names}}).slice(0, 1)
    extra = extra.set_column(1, "child_key", pa.array(["org/d"])).set_column(
        2, "child_id", pa.array(["org/D"])
    )
    sources = [
        SourceTables(2, md.SOURCE, "s", empty_nodes(), pa.concat_tables([suspected, extra])),
        SourceTables(1, "edges:x", "e", empty_nodes(), declared),
    ]
    index = LineageIndex(build(sources))
    a = index.a
    assert a.n_suspected == 1  # only org/D's: the two others duplicate declared pairs
    d = index.lookup("org/D")
    walk = index.walk([d], down=False, min_confidence=0.5)
    assert index.a.ids_of(walk.nodes) == ["org/A"]
    assert index.confidence(int(walk.edges[0])) == pytest.approx(0.9)
    assert len(index.walk([d], down=False, min_confidence=0.95).nodes) == 0
    del g


@only_sqlite
def test_cli_json_has_the_documented_shape(tmp_path: Path, fresh_db) -> None:
    from filiation.cli import app

    g = filiation.open(fresh_db, load_bundled=False)
    g.ingest_hub_stats(_dump(tmp_path / "m.parquet", _family()))
    res = CliRunner().invoke(
        app, ["--db", str(fresh_db), "infer", "--json", "--min-confidence", "0", "--limit", "2"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["links"]) == 2
    for link in data["links"]:
        assert set(link) == {"parent", "child", "relation", "confidence", "evidence", "source"}
        assert link["source"] == "inferred:metadata" and 0 <= link["confidence"] <= 1
        assert link["relation"] in {"finetune", "quantized", "adapter", "merge"}
        assert isinstance(link["evidence"], dict) and link["evidence"]["name_match"]
    assert data["links"][0]["confidence"] >= data["links"][1]["confidence"]
    res = CliRunner().invoke(app, ["--db", str(fresh_db), "infer", "--min-confidence", "2"])
    assert res.exit_code != 0


def test_suspects_reach_every_interface_only_when_asked(tmp_path: Path, fresh_db) -> None:
    """The CLI's lineage commands and the JSON API follow suspects with ``--suspected`` /
    ``include_suspected=true`` only, and mark each with its confidence."""
    from fastapi.testclient import TestClient

    from filiation.api import create_app
    from filiation.cli import app

    g = filiation.open(fresh_db, load_bundled=False)
    g.ingest_hub_stats(_dump(tmp_path / "m.parquet", _family()))
    inferred = {(x.parent, x.child): x.evidence for x in g.infer(min_confidence=0.0).links}
    root, gguf = "org/Base-7B", "quanter/Base-7B-Instruct-Q4_K_M-GGUF"

    def cli(*extra: str) -> dict[str, Any]:
        args = ["--db", str(fresh_db), "descendants", root, "--json", *extra]
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        return json.loads(res.output)

    plain, asked = cli(), cli("--suspected", "--min-confidence", "0")
    assert gguf not in {n["id"] for n in plain["nodes"]}
    marked = {n["id"]: n for n in asked["nodes"] if n.get("suspected")}
    assert gguf in marked and 0.0 <= marked[gguf]["confidence"] <= 1.0
    assert all(e["declared"] is False for e in asked["edges"] if e.get("suspected"))
    # Each suspected link says why: its signals, as `infer --json` gives them.
    shown = [e for e in asked["edges"] if e.get("suspected")]
    assert shown and all(e["evidence"] == inferred[e["parent"], e["child"]] for e in shown)
    assert all(e["evidence"]["name_match"] for e in shown)
    assert not any(n.get("suspected") for n in plain["nodes"])

    client = TestClient(create_app(filiation.open(fresh_db)))
    url = f"/api/models/{root}/descendants"
    assert client.get(url).json()["nodes"] == plain["nodes"]
    via_api = client.get(url, params={"include_suspected": "true", "min_confidence": 0}).json()
    assert via_api["nodes"] == asked["nodes"]
    assert via_api["edges"] == asked["edges"]
    high = client.get(url, params={"include_suspected": "true", "min_confidence": 1}).json()
    assert not any(n.get("suspected") for n in high["nodes"])
    assert client.get(url, params={"min_confidence": 2}).status_code == 422


def test_a_dossier_lists_models_reached_through_suspects_apart(tmp_path: Path, fresh_db) -> None:
    """The dossier never counts a suspect as affected: models reached only through suspected
    links are "possibly affected, to verify", in their own section and letter paragraph."""
    g = filiation.open(fresh_db, load_bundled=False)
    g.ingest_hub_stats(_dump(tmp_path / "m.parquet", _family()))
    g.infer(min_confidence=0.0)
    root = "org/Base-7B-Instruct"
    declared = {m.id for m in g.rights.dossier(model=root, suspects=None).affected}
    d = g.rights.dossier(model=root, suspects=0.0)
    assert {m.id for m in d.affected} == declared  # suspects never join the affected set
    maybe = {m.id: m for m in d.possibly_affected}
    gguf = "quanter/Base-7B-Instruct-Q4_K_M-GGUF"
    assert gguf in maybe and not set(maybe) & declared
    assert all(lk.confidence is not None for lk in maybe[gguf].path if not lk.declared)
    md_text = g.rights.export_dossier(d, "md").decode()
    section = md_text.split("## Possibly affected, to verify")[1].split("## Letters")[0]
    assert gguf in section and "suspected" in section
    # Above every suspect's confidence, nothing is possibly affected.
    assert g.rights.dossier(model=root, suspects=1.0).possibly_affected == []


def test_an_ingest_recomputes_suspects_once_they_exist(tmp_path: Path, fresh_db) -> None:
    """After ``infer``, the next ingest of the dump recomputes the suspects (one current
    snapshot of them, from the new dump); before it, an ingest stores none."""
    g = filiation.open(fresh_db, load_bundled=False)
    dump = _dump(tmp_path / "m.parquet", _family())
    g.ingest_hub_stats(dump)
    assert not any(s.source == md.SOURCE for s in g.store.current_snapshots())
    first = g.infer(min_confidence=0.0)
    g.ingest_hub_stats(dump)
    current = [s for s in g.store.current_snapshots() if s.source == md.SOURCE]
    assert len(current) == 1 and current[0].id != first.snapshot_id
    assert g.index.a.n_suspected == first.stored


# -- candidate generation ---------------------------------------------------------------------
def _best(feat: md.Features, sus: md.Suspects) -> dict[str, tuple[str, str]]:
    ids = feat.ids.to_pylist()
    order = sus.order()
    best: dict[str, tuple[str, str]] = {}
    for i in order.tolist():
        best.setdefault(ids[sus.child[i]], (ids[sus.parent[i]], str(sus.relation[i])))
    return best


def test_a_quantised_copy_by_another_org_is_proposed_with_its_parent_not_the_grandparent(
    tmp_path: Path,
) -> None:
    # TheBloke's GGUF of Llama-2-7b-chat-hf: another org, the name without ``-hf`` and with
    # ``-GGUF``; the grandparent (Llama-2-7b-hf, more downloaded, same size) must not win.
    size = 6_738_415_616
    rows = [
        {
            "id": "meta-llama/Llama-2-7b-hf",
            "author": "meta-llama",
            "created": datetime(2023, 7, 1),
            "downloads": 900_000,
            "params": size,
        },
        {
            "id": "meta-llama/Llama-2-7b-chat-hf",
            "author": "meta-llama",
            "created": datetime(2023, 7, 2),
            "downloads": 500_000,
            "params": size,
            "parents": ["meta-llama/Llama-2-7b-hf"],
        },
        {
            "id": "TheBloke/Llama-2-7B-Chat-GGUF",
            "author": "TheBloke",
            "created": datetime(2023, 9, 1),
            "downloads": 40_000,
            "library": "gguf",
            "tags": ["gguf"],
            "gguf": f'{{"total": {size}, "architecture": "llama"}}',
        },
    ]
    feat = md.read_features(_dump(tmp_path / "m.parquet", rows))
    best = _best(feat, md.infer(feat, min_confidence=0.0))
    assert best["TheBloke/Llama-2-7B-Chat-GGUF"] == ("meta-llama/Llama-2-7b-chat-hf", "quantized")


def test_a_finetune_whose_name_says_nothing_meets_the_popular_base_of_its_size(
    tmp_path: Path,
) -> None:
    # A fine-tune that resized its vocabulary: 0.02 % more or less parameters than its base,
    # same architecture, a name of its own. Its base is the popular model of that size
    # class, not an unrelated model of another architecture with the same count.
    day = datetime(2024, 9, 1)
    rows = [
        {
            "id": "Qwen/Qwen2.5-3B",
            "author": "Qwen",
            "created": day,
            "downloads": 300_000,
            "params": 3_085_938_688,
            "tags": ["qwen2"],
        },
        {
            "id": "other/Unrelated-3B",
            "author": "other",
            "created": day,
            "downloads": 900_000,
            "params": 3_085_938_688,
            "tags": ["llama"],
        },
        {
            "id": "q/Qwen2.5-3B-GGUF",  # puts ``qwen2`` and ``llama`` in the vocabulary
            "author": "q",
            "created": day + timedelta(days=2),
            "gguf": '{"total": 3085938688, "architecture": "qwen2"}',
            "tags": ["gguf"],
        },
        {
            "id": "l/Unrelated-3B-GGUF",
            "author": "l",
            "created": day + timedelta(days=2),
            "gguf": '{"total": 3085938688, "architecture": "llama"}',
            "tags": ["gguf"],
        },
        {
            "id": "maziyarpanahi/calme-baguette",
            "author": "maziyarpanahi",
            "created": day + timedelta(days=60),
            "downloads": 50,
            "params": 3_085_383_680,
            "tags": ["qwen2"],
        },
    ]
    feat = md.read_features(_dump(tmp_path / "m.parquet", rows))
    ids = feat.ids.to_pylist()
    pairs = md.candidates(feat, ~feat.dump_declared)
    child = ids.index("maziyarpanahi/calme-baguette")
    found = {
        ids[p]: int(lv)
        for c, p, lv in zip(pairs.child, pairs.parent, pairs.level, strict=True)
        if c == child
    }
    assert found == {"Qwen/Qwen2.5-3B": SIZE_LEVEL}
    best = _best(feat, md.infer(feat, min_confidence=0.0))
    assert best["maziyarpanahi/calme-baguette"] == ("Qwen/Qwen2.5-3B", "finetune")


def test_a_release_base_created_just_after_its_instruct_model_is_still_its_parent(
    tmp_path: Path,
) -> None:
    # Qwen created Qwen2-7B an hour after Qwen2-7B-Instruct: one release, so the base stays a
    # candidate of its own instruct model. The slack is the publisher's own and short: a
    # model of another publisher an hour younger, or the publisher's a month younger, is not.
    size = 7_615_616_512
    t0 = datetime(2024, 6, 6, 12)
    rows = [
        {
            "id": "Qwen/Qwen2-7B-Instruct",
            "author": "Qwen",
            "created": t0,
            "downloads": 500_000,
            "params": size,
        },
        {
            "id": "Qwen/Qwen2-7B",
            "author": "Qwen",
            "created": t0 + timedelta(hours=1),
            "downloads": 300_000,
            "params": size,
        },
        {
            "id": "other/Qwen2-7B",
            "author": "other",
            "created": t0 + timedelta(hours=1),
            "downloads": 900_000,
            "params": size,
        },
        {
            "id": "Qwen/Qwen2-7B-Chat",
            "author": "Qwen",
            "created": t0 - timedelta(days=3),
            "params": size,
        },
        {
            "id": "Qwen/Qwen2-7B-Base",
            "author": "Qwen",
            "created": t0 + timedelta(days=30),
            "params": size,
        },
    ]
    feat = md.read_features(_dump(tmp_path / "m.parquet", rows))
    ids = feat.ids.to_pylist()
    pairs = md.candidates(feat, ~feat.dump_declared)
    child = ids.index("Qwen/Qwen2-7B-Instruct")
    found = {ids[p] for c, p in zip(pairs.child, pairs.parent, strict=True) if c == child}
    assert "Qwen/Qwen2-7B" in found
    assert not found & {"other/Qwen2-7B", "Qwen/Qwen2-7B-Base"}
    chat = ids.index("Qwen/Qwen2-7B-Chat")  # three days older than the base: past the slack
    assert not any(
        c == chat and ids[p] == "Qwen/Qwen2-7B"
        for c, p in zip(pairs.child, pairs.parent, strict=True)
    )
    best = _best(feat, md.infer(feat, min_confidence=0.0))
    assert best["Qwen/Qwen2-7B-Instruct"] == ("Qwen/Qwen2-7B", "finetune")


def test_a_format_copy_is_never_the_parent_of_the_model_it_copies(tmp_path: Path) -> None:
    # The FP8 copy of Llama-4-Maverick-...-Instruct, created the same day and named like it,
    # must not be proposed as the instruct model's parent: it is its child.
    t0 = datetime(2025, 4, 5)
    rows = [
        {
            "id": "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8",
            "author": "meta-llama",
            "created": t0,
            "downloads": 90_000,
            "params": 401_583_781_376,
            "tags": ["fp8"],
        },
        {
            "id": "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
            "author": "meta-llama",
            "created": t0 + timedelta(minutes=5),
            "downloads": 50_000,
            "params": 401_583_781_376,
        },
    ]
    feat = md.read_features(_dump(tmp_path / "m.parquet", rows))
    ids = feat.ids.to_pylist()
    pairs = md.candidates(feat, ~feat.dump_declared)
    original = ids.index("meta-llama/Llama-4-Maverick-17B-128E-Instruct")
    assert original not in pairs.child.tolist()
