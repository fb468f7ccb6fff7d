"""``filiation check`` over a genealogy: the facts the rules need, read from what the
genealogy was built from (the hub-stats dumps still on disk, the architectures edge lists
name), kept beside the index, and the one entry point every interface calls.

The rules themselves, and how they are evaluated over the index's arrays, are in
:mod:`filiation.inference.checks`, which knows nothing of stores or files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from filiation.inference.checks import (
    CheckReport,
    Facts,
    add_dump_facts,
    add_extra_facts,
    check,
)
from filiation.lineage.arrays import IndexArrays


def dump_of(label: str) -> Path | None:
    """The dump a hub-stats snapshot was read from, if it is still on disk."""
    from filiation.service import BUNDLED_LABEL, bundled_snapshot

    path = bundled_snapshot() if label == BUNDLED_LABEL else Path(label)
    return path if path.is_file() else None


def _extras(genealogy: Any, snapshot_ids: list[int]) -> list[tuple[str, str]]:
    """``(key, extra)`` of every model with source-specific fields in these snapshots."""
    from sqlalchemy import select

    from filiation.store import schema

    if not snapshot_ids:
        return []
    n = schema.nodes.c
    with genealogy.store.engine.connect() as conn:
        rows = conn.execute(
            select(n.key, n.extra).where(
                n.snapshot_id.in_(snapshot_ids), n.kind == "model", n.extra.is_not(None)
            )
        ).all()
    return [(str(k), str(x)) for k, x in rows]


#: The facts' description (the dumps they came from, the architectures' names), naming the
#: file of their arrays: one structured ``.npy`` mapped, not read, by a fresh ``show``.
CACHE_FILE = "checks-facts.json"
_ARRAYS = "checks-facts-{token}.npy"
_FIELDS = [("architecture", np.int32), ("gguf_only", np.int8)]


def _cache_path(genealogy: Any, arrays: IndexArrays) -> Path | None:
    """Where the facts of this index are kept: in the index's own folder (so they go when
    the index goes), or None for a store without one."""
    from filiation.lineage.arrays import FORMAT_VERSION

    ids = [str(s["id"]) for s in arrays.meta.get("snapshots", [])]
    try:
        folder = genealogy.store.index_dir() / (f"f{FORMAT_VERSION}-" + "-".join(ids))
    except Exception:  # a store without an index folder: nothing cached
        return None
    return folder / CACHE_FILE if (folder / "meta.json").exists() else None


def _stamp(dumps: list[Path]) -> str:
    return json.dumps([[str(d), d.stat().st_size, d.stat().st_mtime_ns] for d in dumps])


def genealogy_facts(genealogy: Any, arrays: IndexArrays) -> Facts:
    """The facts of the snapshots an index covers: the hub-stats dumps still on disk, and
    the architectures edge lists name.

    Reading the dump's tags is the slow part at Hub scale (seconds), so the facts are saved
    beside the index the first time and read back after (a fraction of a second), as long as
    the dumps they came from have not changed."""
    snaps = arrays.meta.get("snapshots", [])
    dumps = [
        d
        for snap in snaps
        if snap.get("source") == "hub-stats"
        for d in [dump_of(str(snap.get("label", "")))]
        if d is not None
    ]
    stamp = _stamp(dumps)
    cache = _cache_path(genealogy, arrays)
    if cache is not None and cache.exists():
        saved = _read_cache(cache, stamp, arrays.n_nodes)
        if saved is not None:
            return saved
    facts = Facts.unknown(arrays.n_nodes)
    for dump in dumps:
        add_dump_facts(facts, arrays, dump)
    with_extra = genealogy.store.snapshots_with_extra([int(s["id"]) for s in snaps])
    add_extra_facts(facts, arrays, _extras(genealogy, with_extra))
    if cache is not None:
        _write_cache(cache, stamp, facts)
    return facts


def _read_cache(cache: Path, stamp: str, n_nodes: int) -> Facts | None:
    """The facts saved at ``cache`` for these dumps, their arrays mapped; None when they are
    for other dumps, damaged, or from another version (then computed again)."""
    try:
        meta = json.loads(cache.read_text())
        if meta["stamp"] != stamp:
            return None
        table = np.load(cache.with_name(meta["arrays"]), mmap_mode="r", allow_pickle=False)
        if table.dtype != np.dtype(_FIELDS) or len(table) != n_nodes:
            return None
        return Facts(table["architecture"], meta["vocab"], table["gguf_only"], meta["sources"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(cache: Path, stamp: str, facts: Facts) -> None:
    """Save the facts beside the index: their arrays under a new name, then the description
    naming them (each written then renamed, so a reader sees the old facts or the new)."""
    import uuid

    name = _ARRAYS.format(token=uuid.uuid4().hex[:12])
    table = np.empty(len(facts.architecture), _FIELDS)
    table["architecture"] = facts.architecture
    table["gguf_only"] = facts.gguf_only
    meta = {"stamp": stamp, "vocab": facts.arch_vocab, "sources": facts.sources, "arrays": name}
    tmp_arrays = cache.with_name(f"{name}.{os.getpid()}.tmp")
    tmp_meta = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        with tmp_arrays.open("wb") as out:
            np.save(out, table, allow_pickle=False)
        os.replace(tmp_arrays, cache.with_name(name))
        tmp_meta.write_text(json.dumps(meta))
        os.replace(tmp_meta, cache)
    except OSError:
        for tmp in (tmp_arrays, tmp_meta):
            tmp.unlink(missing_ok=True)  # a read-only place: computed again next time
        return
    for old in cache.parent.glob(_ARRAYS.format(token="*")):
        if old.name != name:
            old.unlink(missing_ok=True)  # the facts of dumps that changed since


def check_genealogy(
    genealogy: Any,
    node_id: str | None = None,
    *,
    limit: int | None = 100,
    rules: Iterable[str] | None = None,
    children: np.ndarray | None = None,
) -> CheckReport:
    """``filiation check [ID]``: what ``Genealogy.check`` returns (the CLI, the API, ``show``,
    the model page and the dossier call this one function; the dossier gives ``children``,
    its affected models as node numbers of the genealogy's index)."""
    node = genealogy._node(node_id) if node_id is not None else None
    index = genealogy.index
    return check(
        index,
        lambda arrays: genealogy_facts(genealogy, arrays),
        node,
        limit=limit,
        rules=rules,
        children=children,
    )
