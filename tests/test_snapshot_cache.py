"""Snapshots kept beside the index as Arrow files (``store/snapshot_cache.py``).

A small ingest beside a big dump rebuilds the index from every current snapshot; the copies
spare reading the big one back from the store. What users rely on: the answers are the same
with or without the copies, a damaged or foreign copy is never used, and copies of deleted
snapshots go away. On both back ends, from copies of the store of the real sample.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import filiation
from filiation.store import snapshot_cache
from tests.backends import Stores


@pytest.fixture()
def db(tmp_path: Path, stores: Stores, sample_db: Any) -> Any:
    return stores.copy(sample_db, tmp_path)


@pytest.fixture(scope="module")
def edges_csv(hub_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An edge list naming real models of the sample as parents of two new ones."""
    ids = pq.read_table(hub_sample, columns=["id"]).column("id").to_pylist()[:2]
    path = tmp_path_factory.mktemp("edges") / "edges.csv"
    path.write_text(
        "parent,child,relation\n"
        f"{ids[0]},acme/in-house-ft,finetune\n"
        f"{ids[1]},acme/in-house-q4,quantized\n"
    )
    return path


def copies(g: filiation.Genealogy) -> dict[str, int]:
    folder = g.store.index_dir() / snapshot_cache.FOLDER
    return {p.name: p.stat().st_size for p in folder.iterdir()} if folder.is_dir() else {}


def rebuilt(db: Any) -> filiation.Genealogy:
    """A new genealogy of ``db`` whose index is built again (cached indexes deleted)."""
    g = filiation.open(db, load_bundled=False)
    folder = g.store.index_dir()
    for index in folder.glob("f*"):
        shutil.rmtree(index)
    return g


def answers(g: filiation.Genealogy) -> tuple[Any, ...]:
    stats = g.stats()
    root = g.search("acme/in-house-ft", limit=1)[0].id
    return (
        stats.nodes_by_kind,
        stats.links_by_relation,
        [n["id"] for n in g.ancestors(root).to_dict()["nodes"]],
        [h.id for h in g.search("llama", limit=50)],
    )


def test_a_small_ingest_rebuilds_from_the_copies_not_the_store(
    db: Any, edges_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = filiation.open(db, load_bundled=False)
    _ = g.index  # built from the store: the dump's snapshot is copied on the way
    (dump,) = g.store.current_snapshots()
    assert sorted(n.split("-")[0] for n in copies(g)) == [str(dump.id)] * 2

    def no_store(*_: Any) -> Any:
        raise AssertionError("the dump's rows were read back from the store")

    monkeypatch.setattr(g.store, "read_nodes", no_store)
    monkeypatch.setattr(g.store, "read_links", no_store)
    report = g.ingest_edges(edges_csv)
    monkeypatch.undo()

    current = g.store.current_snapshots()
    assert report.snapshot_id in {s.id for s in current}
    # one nodes file and one links file per current snapshot, the new one included (and no
    # by-key files: the sample's copy is small enough to decompress whole)
    assert sorted(n.split(".")[0].split("-")[0] for n in copies(g)) == sorted(
        [str(s.id) for s in current] * 2
    )
    from_copies = answers(g)
    shutil.rmtree(g.store.index_dir() / snapshot_cache.FOLDER)
    assert answers(rebuilt(db)) == from_copies


def test_a_damaged_copy_is_not_used_and_is_written_again(db: Any, edges_csv: Path) -> None:
    g = filiation.open(db, load_bundled=False)
    g.ingest_edges(edges_csv)
    expected = answers(g)
    sizes = copies(g)
    folder = g.store.index_dir() / snapshot_cache.FOLDER
    biggest = max(sizes, key=lambda n: sizes[n])
    (folder / biggest).write_bytes((folder / biggest).read_bytes()[: sizes[biggest] // 2])

    assert answers(rebuilt(db)) == expected
    assert copies(g)[biggest] == sizes[biggest]  # read from the store, copied again


def test_a_copy_of_another_snapshot_under_the_same_id_is_not_used(db: Any, edges_csv: Path) -> None:
    """SQLite may give a deleted snapshot's id to a new one: copies are keyed by the id and
    the start time, so a copy left from the old one never stands for the new one."""
    g = filiation.open(db, load_bundled=False)
    g.ingest_edges(edges_csv)
    expected = answers(g)
    folder = g.store.index_dir()
    (edges,) = [s for s in g.store.current_snapshots() if s.source.startswith("edges")]
    (dump,) = [s for s in g.store.current_snapshots() if s.source == "hub-stats"]
    assert edges.started_at is not None
    # the dump's rows, copied for a snapshot with the edge list's id but another start time
    older = dataclasses.replace(edges, started_at=edges.started_at - timedelta(days=1))
    nodes, links = g.store.read_nodes(dump.id), g.store.read_links(dump.id)
    assert snapshot_cache.write(folder, older, nodes, links)

    assert answers(rebuilt(db)) == expected


def test_copies_of_deleted_snapshots_are_deleted(db: Any, edges_csv: Path) -> None:
    g = filiation.open(db, load_bundled=False)
    g.keep_snapshots = 1
    for _ in range(3):
        g.ingest_edges(edges_csv)
    kept = {str(s.id) for s in g.store.snapshots()}
    assert {n.split("-")[0] for n in copies(g)} == kept


# -- the by-key files of a big copy (what a delta reads) ---------------------------------------


def keyed_files(g: filiation.Genealogy) -> list[str]:
    folder = g.store.index_dir() / snapshot_cache.FOLDER
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".rows", ".keys")))


def rows_about(g: filiation.Genealogy, keys: list[str]) -> tuple[Any, Any]:
    """The dump's rows about ``keys`` as the cache gives them, in a comparable order."""
    import pyarrow as pa

    (dump,) = [s for s in g.store.current_snapshots() if s.source == "hub-stats"]
    found = snapshot_cache.read(g.store.index_dir(), dump, pa.array(keys, pa.string()))
    assert found is not None
    nodes, links = found
    return (
        nodes.sort_by([("key", "ascending")]).to_pylist(),
        links.sort_by(
            [(c, "ascending") for c in ("child_key", "parent_key", "relation")]
        ).to_pylist(),
    )


@pytest.fixture()
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    """By-key files for copies of any size (the sample is smaller than the threshold)."""
    monkeypatch.setattr(snapshot_cache, "KEYED_MIN_BYTES", 0)


def test_a_delta_finds_the_dumps_rows_by_key(
    db: Any, edges_csv: Path, hub_sample: Path, keyed: None
) -> None:
    g = filiation.open(db, load_bundled=False)
    _ = g.index  # the dump's copy is written from the store
    assert keyed_files(g) == []
    rows = pq.read_table(hub_sample, columns=["id", "baseModels"]).to_pylist()
    parents = [m["id"].lower() for r in rows if r["baseModels"] for m in r["baseModels"]["models"]]
    keys = [rows[0]["id"].lower(), rows[5]["id"].lower(), *parents[:20], "acme/not-in-the-dump"]
    expected_nodes = {r["id"].lower() for r in rows} & set(keys)
    scanned = rows_about(g, keys)  # the whole copy read: its by-key files written
    assert [n.split(".", 1)[1] for n in keyed_files(g)] == [
        "links.keys",
        "links.rows",
        "nodes.keys",
        "nodes.rows",
    ]
    nodes, links = rows_about(g, keys)
    assert (nodes, links) == scanned
    assert {n["key"] for n in nodes} == expected_nodes
    assert links and all(x["child_key"] in keys or x["parent_key"] in keys for x in links)
    # an edge list applied as a delta over the dump: the answers of a rebuild from scratch
    report = g.ingest_edges(edges_csv)
    assert report.links == 2
    from_keys = answers(g)
    shutil.rmtree(g.store.index_dir() / snapshot_cache.FOLDER)
    assert answers(rebuilt(db)) == from_keys


def test_keys_sharing_a_hash_are_told_apart(
    db: Any, keyed: None, monkeypatch: pytest.MonkeyPatch, hub_sample: Path
) -> None:
    g = filiation.open(db, load_bundled=False)
    _ = g.index
    ids = pq.read_table(hub_sample, columns=["id"]).column("id").to_pylist()
    keys = [i.lower() for i in ids[:3]]
    expected = rows_about(g, keys)
    assert len(keyed_files(g)) == 4 and expected[0] and rows_about(g, keys) == expected

    def few_hashes(values: Any) -> Any:  # every key in one of two buckets
        import numpy as np
        import pyarrow.compute as pc

        return np.asarray(pc.utf8_length(values), dtype=np.uint64) % 2

    monkeypatch.setattr(snapshot_cache, "_hashes", few_hashes)
    for name in keyed_files(g):
        (g.store.index_dir() / snapshot_cache.FOLDER / name).unlink()
    assert rows_about(g, keys)  # written with the colliding hash
    assert rows_about(g, keys) == expected  # and read through it


def test_damaged_by_key_files_are_not_used(db: Any, keyed: None, hub_sample: Path) -> None:
    g = filiation.open(db, load_bundled=False)
    _ = g.index
    ids = pq.read_table(hub_sample, columns=["id"]).column("id").to_pylist()
    keys = [i.lower() for i in ids[10:14]]
    expected = rows_about(g, keys)
    assert len(keyed_files(g)) == 4
    folder = g.store.index_dir() / snapshot_cache.FOLDER
    for name in keyed_files(g):
        if name.endswith(".keys"):
            data = (folder / name).read_bytes()
            (folder / name).write_bytes(data[: len(data) // 2])
    assert rows_about(g, keys) == expected


def test_by_key_files_go_with_their_copy(db: Any, edges_csv: Path, keyed: None) -> None:
    g = filiation.open(db, load_bundled=False)
    g.keep_snapshots = 1
    _ = g.index  # the dump's copy written
    first = g.ingest_edges(edges_csv)  # its by-key files, and the dump's, are written
    assert {n.split("-")[0] for n in keyed_files(g)} == {"1", str(first.snapshot_id)}
    second = g.ingest_edges(edges_csv)  # the first edge list's snapshot is deleted
    current = {str(s.id) for s in g.store.current_snapshots()}
    assert current == {"1", str(second.snapshot_id)}
    assert {n.split("-")[0] for n in keyed_files(g)} == current
    snapshot_cache.prune(g.store.index_dir(), [])
    assert keyed_files(g) == []


def test_an_ingest_writes_the_by_key_files_of_its_copy(
    fresh_db: Any, hub_sample: Path, edges_csv: Path, keyed: None
) -> None:
    g = filiation.open(fresh_db, load_bundled=False)
    g.ingest_hub_stats(hub_sample)
    written = keyed_files(g)
    assert len(written) == 4  # once the index is published
    ids = pq.read_table(hub_sample, columns=["id"]).column("id").to_pylist()
    keys = [i.lower() for i in ids[20:30]]
    by_key = rows_about(g, keys)
    assert len(by_key[0]) == len(set(keys))
    folder = g.store.index_dir() / snapshot_cache.FOLDER
    for name in written:
        (folder / name).unlink()
    assert rows_about(g, keys) == by_key  # the same rows as the copy's own
    assert keyed_files(g) == written  # written again by that read
