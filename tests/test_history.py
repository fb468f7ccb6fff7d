"""`diff` and `watch` on two snapshots built from the real sample with known differences.

Snapshot A (taken 2026-01-01) is the sample without three leaves X of a family (they appear
later) and with one leaf Y hung under an unrelated model; snapshot B (2026-02-01) is the
sample without two other leaves Z (they disappear). So between A and B, in the family of
ROOT: X appeared, Z disappeared and Y changed parents (and joined the family).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import networkx as nx
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

import filiation
from filiation.cli import app
from filiation.errors import InvalidArgumentError, SourceError
from filiation.sources import hub_stats
from tests import reference

ROOT = "meta-llama/Llama-3.1-8B-Instruct"
LINEAGE = ["finetune", "quantized", "adapter", "merge", "unspecified"]


class Plan:
    def __init__(self, hub_sample: Path) -> None:
        g = reference.model_graph(hub_sample)
        family = nx.descendants(g, ROOT.lower())
        leaves = sorted(n for n in family if g.out_degree(n) == 0)
        ids = {r["id"].lower(): r["id"] for r in reference.rows(hub_sample)}
        leaves = [n for n in leaves if n in ids]  # rows of the dump, not stubs
        self.x = leaves[:3]
        self.z = leaves[3:5]
        self.y = leaves[5]
        self.y_parents = sorted(f"{d['relation']}:{p}" for p, _, d in g.in_edges(self.y, data=True))
        outside = next(n for n in sorted(ids) if n not in family and n != ROOT.lower())
        self.outside = ids[outside]
        self.ids = ids


def _drop(records: Any, keys: list[str]) -> None:
    records.nodes = records.nodes.filter(pc.invert(pc.is_in(records.nodes["key"], pa.array(keys))))
    records.links = records.links.filter(
        pc.invert(pc.is_in(records.links["child_key"], pa.array(keys)))
    )


def _snapshot_a(hub_sample: Path, plan: Plan) -> Any:
    rec = hub_stats.read(hub_sample)
    _drop(rec, plan.x)
    links = rec.links
    is_y = pc.and_(
        pc.equal(links["child_key"], plan.y), pc.is_in(links["relation"], pa.array(LINEAGE))
    )
    row = {
        "child_kind": "model",
        "child_key": plan.y,
        "child_id": plan.ids[plan.y],
        "parent_kind": "model",
        "parent_key": plan.outside.lower(),
        "parent_id": plan.outside,
        "relation": "finetune",
        "declared": False,
        "evidence": "test",
    }
    rec.links = pa.concat_tables(
        [links.filter(pc.invert(is_y)), pa.Table.from_pylist([row], links.schema)]
    )
    rec.taken_at = datetime(2026, 1, 1)
    return rec


def _snapshot_b(hub_sample: Path, plan: Plan) -> Any:
    rec = hub_stats.read(hub_sample)
    _drop(rec, plan.z)
    rec.taken_at = datetime(2026, 2, 1)
    return rec


@pytest.fixture(scope="module")
def plan(hub_sample: Path) -> Plan:
    return Plan(hub_sample)


def test_diff_lists_what_appeared_disappeared_and_changed(new_db, hub_sample, plan) -> None:
    g = filiation.open(new_db("diff"), load_bundled=False)
    g.ingest(_snapshot_a(hub_sample, plan))
    g.ingest(_snapshot_b(hub_sample, plan))
    d = g.rights.diff("2026-01-15", ROOT)
    assert [m.lower() for m in d.appeared] == sorted(plan.x)
    assert [m.lower() for m in d.disappeared] == sorted(plan.z)
    assert [c.id.lower() for c in d.changed_parents] == [plan.y]
    change = d.changed_parents[0]
    assert change.before == [f"finetune:{plan.outside}"]
    assert sorted(p.lower() for p in change.after) == plan.y_parents
    assert [s["taken_at"] for s in d.before] == [datetime(2026, 1, 1)]
    # the whole genealogy has exactly these differences too
    whole = g.rights.diff(datetime(2026, 1, 15))
    assert (whole.appeared, whole.disappeared) == (d.appeared, d.disappeared)
    assert [c.id for c in whole.changed_parents] == [change.id]
    # the same day as the newest snapshot: nothing changed
    same = g.rights.diff("2026-02-01", ROOT)
    assert same.appeared == same.disappeared == same.changed_parents == []
    with pytest.raises(InvalidArgumentError, match="no snapshot as old as 2025-06-01"):
        g.rights.diff("2025-06-01", ROOT)
    with pytest.raises(InvalidArgumentError, match="not an ISO date"):
        g.rights.diff("last week", ROOT)
    res = CliRunner().invoke(
        app, ["--db", str(g.store.url), "diff", "--since", "2026-01-15", ROOT, "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["disappeared"] == d.disappeared


def test_kept_snapshots_are_configurable(new_db, hub_sample, plan, monkeypatch) -> None:
    monkeypatch.setenv("FILIATION_KEEP_SNAPSHOTS", "1")
    g = filiation.open(new_db("keep"), load_bundled=False)
    g.ingest(_snapshot_a(hub_sample, plan))
    g.ingest(_snapshot_b(hub_sample, plan))
    assert len(g.snapshots()) == 1
    with pytest.raises(InvalidArgumentError, match="FILIATION_KEEP_SNAPSHOTS"):
        g.rights.diff("2026-01-15")
    monkeypatch.setenv("FILIATION_KEEP_SNAPSHOTS", "none")
    with pytest.raises(InvalidArgumentError, match="1 or more"):
        filiation.open(new_db("keep2"))


class Inbox:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        self.url = ""


@pytest.fixture()
def inbox() -> Iterator[Inbox]:
    box = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if box.status == 200:
                box.bodies.append(json.loads(body))
            self.send_response(box.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_watch_reports_new_descendants_once(new_db, hub_sample, plan, inbox) -> None:
    db = new_db("watch")
    g = filiation.open(db, load_bundled=False)
    g.ingest(_snapshot_a(hub_sample, plan))
    w = g.rights.watch.add(ROOT.lower())
    assert w.id == ROOT and w.kind == "model"
    assert w.known == len(g.descendants(ROOT))
    with pytest.raises(InvalidArgumentError, match="already watched"):
        g.rights.watch.add(ROOT)
    g.ingest(_snapshot_b(hub_sample, plan))
    # a failed post marks nothing as seen
    inbox.status = 500
    with pytest.raises(SourceError, match="answered 500"):
        g.rights.watch.check(post=inbox.url)
    inbox.status = 200
    reports = filiation.open(db).rights.watch.check(post=inbox.url)
    expected = sorted([*plan.x, plan.y])
    assert [sorted(n.id.lower() for n in r.new) for r in reports] == [expected]
    assert (
        inbox.bodies
        and sorted(n["id"].lower() for n in inbox.bodies[0]["watches"][0]["new"]) == expected
    )
    new_y = next(n for n in reports[0].new if n.id.lower() == plan.y)
    assert new_y.depth >= 1 and new_y.via
    assert [r.new for r in g.rights.watch.check()] == [[]]  # seen: not reported again
    res = CliRunner().invoke(app, ["--db", str(db), "watch", "list", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)[0]["id"] == ROOT
    res = CliRunner().invoke(app, ["--db", str(db), "watch", "remove", ROOT])
    assert res.exit_code == 0 and g.rights.watch.list() == []
    res = CliRunner().invoke(app, ["--db", str(db), "watch", "remove", ROOT])
    assert res.exit_code == 2 and "not watched" in res.output
