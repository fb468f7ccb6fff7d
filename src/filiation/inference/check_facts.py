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


CACHE_FILE = "checks-facts.npz"


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
        try:
            with np.load(cache, allow_pickle=False) as saved:
                meta = json.loads(bytes(saved["meta"]).decode())
                if meta["stamp"] == stamp and len(saved["architecture"]) == arrays.n_nodes:
                    return Facts(
                        saved["architecture"], meta["vocab"], saved["gguf_only"], meta["sources"]
                    )
        except (OSError, ValueError, KeyError):
            pass  # damaged or from another version: computed again below
    facts = Facts.unknown(arrays.n_nodes)
    for dump in dumps:
        add_dump_facts(facts, arrays, dump)
    with_extra = genealogy.store.snapshots_with_extra([int(s["id"]) for s in snaps])
    add_extra_facts(facts, arrays, _extras(genealogy, with_extra))
    if cache is not None:
        meta = json.dumps({"stamp": stamp, "vocab": facts.arch_vocab, "sources": facts.sources})
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as out:
                np.savez(
                    out,
                    architecture=facts.architecture,
                    gguf_only=facts.gguf_only,
                    meta=np.frombuffer(meta.encode(), np.uint8),
                )
            os.replace(tmp, cache)
        except OSError:
            tmp.unlink(missing_ok=True)  # a read-only place: computed again next time
    return facts


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
