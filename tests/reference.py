"""An independent reading of the sample dump, with plain Python and networkx, as a test oracle.

It follows the Hub's documented semantics (baseModels first, then the card's base_model for
rows without it; datasets from ``dataset:`` tags and the card) and shares no code with
filiation, so a bug in filiation's parsing or traversal shows as a disagreement.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import networkx as nx
import pyarrow.parquet as pq


@cache
def rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


@cache
def model_graph(path: Path) -> nx.DiGraph:
    """parent -> child, lower-case ids, attribute 'relation'; self-loops left out."""
    g = nx.DiGraph()
    for r in rows(path):
        child = r["id"].lower()
        g.add_node(child)
        parents: list[tuple[str, str]] = []
        bm = r["baseModels"]
        if bm and bm["models"]:
            parents = [(m["id"].lower(), bm["relation"]) for m in bm["models"]]
        else:
            card = json.loads(r["cardData"]) if r["cardData"] else {}
            base = card.get("base_model") if isinstance(card, dict) else None
            if isinstance(base, str):
                base = [base]
            if isinstance(base, list):
                rel = card.get("base_model_relation") or (
                    "merge" if len(base) > 1 else "unspecified"
                )
                parents = [(b.lower(), rel) for b in base if isinstance(b, str) and b.strip()]
        for parent, rel in parents:
            if parent != child:
                g.add_edge(parent, child, relation=rel)
    return g


@cache
def trained_on(path: Path) -> dict[str, set[str]]:
    """dataset (lower-case) -> models (lower-case) that name it."""
    out: dict[str, set[str]] = {}
    for r in rows(path):
        names = {t.removeprefix("dataset:") for t in r["tags"] if t.startswith("dataset:")}
        card = json.loads(r["cardData"]) if r["cardData"] else {}
        ds = card.get("datasets") if isinstance(card, dict) else None
        if isinstance(ds, str):
            ds = [ds]
        if isinstance(ds, list):
            names |= {d for d in ds if isinstance(d, str) and d.strip()}
        for name in names:
            out.setdefault(name.strip().lower(), set()).add(r["id"].lower())
    return out


def downloads(path: Path) -> dict[str, int]:
    return {r["id"].lower(): r["downloads"] for r in rows(path)}
