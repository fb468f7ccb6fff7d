#!/usr/bin/env python3
"""Baselines for the filiation benchmark: networkx and SQLite recursive CTEs.

Both read the hub-stats parquet independently of filiation, using only ``baseModels``
(the Hub's typed parent list), and answer the same questions as filiation:

* ``descendants(root, relations=None)`` -> {node: (depth, relation of the link that reached it)}
* ``ancestors(node, relations=None)``   -> same, upwards
* ``lineage(node)``                      -> (ancestors, descendants)
* ``children(node, limit=50)``           -> [(child, relation, downloads)] by downloads desc
* ``search(text, limit=20)``             -> ids containing ``text`` (case-insensitive),
  most downloaded first (networkx: a Python scan; SQLite: ``LIKE '%text%'``)

Depth is the BFS depth (shortest number of links). Cycles and self-loops are tolerated:
networkx BFS keeps a visited set; the SQLite CTE deduplicates with ``UNION`` and bounds the
recursion depth (``MAX_DEPTH``), which is what terminates it on cycles.

Small CLI used by run.py (builds measured in a child process, like filiation's ingest;
"time to first answer" of SQLite in a fresh process):

    python benchmarks/baselines.py build-networkx PARQUET
    python benchmarks/baselines.py build-sqlite PARQUET DB
    python benchmarks/baselines.py sqlite-descendants DB ROOT
"""

from __future__ import annotations

import heapq
import os
import sqlite3
import sys
import time
from collections import deque
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

MAX_DEPTH = 200  # longest chain in the synthetic dumps is 96 links
UNSPECIFIED = "unspecified"


def rss_mb() -> float:
    """Current resident set size of this process (Linux), in MB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def read_links(parquet: str | Path) -> tuple[pa.Table, pa.Table]:
    """(models: id, downloads) and (links: parent, child, relation) from baseModels."""
    t = pq.read_table(parquet, columns=["id", "downloads", "baseModels"])
    bm = t.column("baseModels").combine_chunks()
    models_col = pc.struct_field(bm, "models")
    rel_col = pc.struct_field(bm, "relation")
    child_row = pc.list_parent_indices(models_col)
    flat = pc.list_flatten(models_col)
    ids = t.column("id").combine_chunks()
    links = pa.table(
        {
            "parent": pc.struct_field(flat, "id"),
            "child": pc.take(ids, child_row),
            "relation": pc.fill_null(pc.take(rel_col, child_row), UNSPECIFIED),
        }
    )
    links = links.filter(pc.is_valid(links["parent"]))
    models = pa.table({"id": ids, "downloads": pc.fill_null(t.column("downloads"), 0)})
    return models, links


# ----------------------------------------------------------------- networkx
class NetworkXBaseline:
    name = "networkx"

    def __init__(self, parquet: str | Path):
        import networkx as nx

        t0 = time.perf_counter()
        rss0 = rss_mb()
        models, links = read_links(parquet)
        ids = models.column("id").to_pylist()
        dls = models.column("downloads").to_pylist()
        g = nx.DiGraph()
        g.add_edges_from(
            (p, c, {"relation": r})
            for p, c, r in zip(
                links.column("parent").to_pylist(),
                links.column("child").to_pylist(),
                links.column("relation").to_pylist(),
                strict=False,
            )
        )
        downloads = dict(zip(ids, dls, strict=False))
        nx.set_node_attributes(g, {n: downloads.get(n, 0) for n in g}, "downloads")
        # search: ids ordered by downloads, lower-cased once
        order = sorted(range(len(ids)), key=dls.__getitem__, reverse=True)
        self.search_ids = [ids[i] for i in order]
        self.search_lower = [s.lower() for s in self.search_ids]
        del downloads, ids, dls, order
        self.g = g
        self.build_seconds = time.perf_counter() - t0
        self.build_rss_mb = rss_mb() - rss0
        self.nodes, self.edges = g.number_of_nodes(), g.number_of_edges()

    def _bfs(self, start: str, adj, relations=None, rel_attr="relation") -> dict:
        if start not in adj:
            return {}
        rel_ok = set(relations) if relations else None
        seen = {start: (0, None)}
        q = deque([start])
        while q:
            n = q.popleft()
            d = seen[n][0] + 1
            for m, attrs in adj[n].items():
                if m in seen:
                    continue
                r = attrs[rel_attr]
                if rel_ok is not None and r not in rel_ok:
                    continue
                seen[m] = (d, r)
                q.append(m)
        del seen[start]
        return seen

    def descendants(self, node: str, relations=None) -> dict:
        return self._bfs(node, self.g._succ, relations)

    def ancestors(self, node: str, relations=None) -> dict:
        return self._bfs(node, self.g._pred, relations)

    def lineage(self, node: str):
        return self.ancestors(node), self.descendants(node)

    def children(self, node: str, limit: int = 50, relations=None):
        if node not in self.g:
            return []
        nodes = self.g._node
        succ = self.g._succ[node].items()
        if relations:
            succ = [(c, a) for c, a in succ if a["relation"] in relations]
        return heapq.nlargest(limit, ((nodes[c]["downloads"], c, a["relation"]) for c, a in succ))

    def search(self, text: str, limit: int = 20) -> list[str]:
        q = text.lower()
        out = []
        for i, s in enumerate(self.search_lower):
            if q in s:
                out.append(self.search_ids[i])
                if len(out) >= limit:
                    break
        return out

    def close(self) -> None:
        self.g = None


# ----------------------------------------------------------------- SQLite
DESC_SQL = """
WITH RECURSIVE d(node, depth, relation) AS (
  SELECT child, 1, relation FROM edges WHERE parent = :node {rel0}
  UNION
  SELECT e.child, d.depth + 1, e.relation FROM d JOIN edges e ON e.parent = d.node
  WHERE d.depth < :maxd {rel1}
)
SELECT node, MIN(depth), relation FROM d WHERE node <> :node GROUP BY node
"""
ANC_SQL = """
WITH RECURSIVE a(node, depth, relation) AS (
  SELECT parent, 1, relation FROM edges WHERE child = :node {rel0}
  UNION
  SELECT e.parent, a.depth + 1, e.relation FROM a JOIN edges e ON e.child = a.node
  WHERE a.depth < :maxd {rel1}
)
SELECT node, MIN(depth), relation FROM a WHERE node <> :node GROUP BY node
"""
CHILDREN_SQL = """
SELECT e.child, e.relation, COALESCE(m.downloads, 0) AS dl
FROM edges e LEFT JOIN models m ON m.id = e.child
WHERE e.parent = :node {rel}
ORDER BY dl DESC LIMIT :limit
"""
SEARCH_SQL = """
SELECT id FROM models WHERE id LIKE :pat ESCAPE '\\' ORDER BY downloads DESC LIMIT :limit
"""


def _rel_filter(relations, alias: str) -> tuple[str, dict]:
    if not relations:
        return "", {}
    names = {f"r{i}": r for i, r in enumerate(relations)}
    col = f"{alias}.relation" if alias else "relation"
    return f"AND {col} IN ({', '.join(':' + k for k in names)})", names


def desc_sql(relations=None) -> tuple[str, dict]:
    f0, p = _rel_filter(relations, "")
    f1, _ = _rel_filter(relations, "e")
    return DESC_SQL.format(rel0=f0, rel1=f1), p


def anc_sql(relations=None) -> tuple[str, dict]:
    f0, p = _rel_filter(relations, "")
    f1, _ = _rel_filter(relations, "e")
    return ANC_SQL.format(rel0=f0, rel1=f1), p


def sqlite_connect(db: str | Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(db))
    con.execute("PRAGMA cache_size = -262144")  # 256 MB page cache
    con.execute("PRAGMA mmap_size = 1073741824")
    con.execute("PRAGMA temp_store = MEMORY")
    return con


class SqliteBaseline:
    name = "SQLite CTE"

    def __init__(self, parquet: str | Path | None, db: str | Path):
        """Build the database from parquet (parquet=None: open an existing one)."""
        if parquet is None:
            self.db = Path(db)
            self.con = sqlite_connect(db)
            self.build_seconds = self.build_rss_mb = float("nan")
            self.db_bytes = self.db.stat().st_size
            self._desc, self._anc = {}, {}
            return
        t0 = time.perf_counter()
        rss0 = rss_mb()
        db = Path(db)
        for suffix in ("", "-wal", "-shm", "-journal"):
            p = Path(str(db) + suffix)
            if p.exists():
                p.unlink()
        models, links = read_links(parquet)
        con = sqlite3.connect(str(db))
        con.execute("PRAGMA journal_mode = OFF")
        con.execute("PRAGMA synchronous = OFF")
        con.execute("CREATE TABLE models(id TEXT PRIMARY KEY, downloads INTEGER NOT NULL)")
        con.execute("CREATE TABLE edges(parent TEXT NOT NULL, child TEXT NOT NULL, relation TEXT)")
        with con:
            con.executemany(
                "INSERT OR IGNORE INTO models VALUES (?, ?)",
                zip(
                    models.column("id").to_pylist(),
                    models.column("downloads").to_pylist(),
                    strict=False,
                ),
            )
            con.executemany(
                "INSERT INTO edges VALUES (?, ?, ?)",
                zip(
                    links.column("parent").to_pylist(),
                    links.column("child").to_pylist(),
                    links.column("relation").to_pylist(),
                    strict=False,
                ),
            )
        con.execute("CREATE INDEX edges_parent ON edges(parent)")
        con.execute("CREATE INDEX edges_child ON edges(child)")
        con.execute("ANALYZE")
        con.commit()
        con.close()
        del models, links
        self.db = db
        self.con = sqlite_connect(db)
        self.build_seconds = time.perf_counter() - t0
        self.build_rss_mb = rss_mb() - rss0
        self.db_bytes = db.stat().st_size
        self._desc = {}
        self._anc = {}

    def _run(self, cache, make, node, relations):
        key = tuple(relations) if relations else None
        if key not in cache:
            cache[key] = make(relations)
        sql, params = cache[key]
        rows = self.con.execute(sql, {**params, "node": node, "maxd": MAX_DEPTH}).fetchall()
        return {n: (d, r) for n, d, r in rows}

    def descendants(self, node: str, relations=None) -> dict:
        return self._run(self._desc, desc_sql, node, relations)

    def ancestors(self, node: str, relations=None) -> dict:
        return self._run(self._anc, anc_sql, node, relations)

    def lineage(self, node: str):
        return self.ancestors(node), self.descendants(node)

    def children(self, node: str, limit: int = 50, relations=None):
        f, p = _rel_filter(relations, "e")
        return self.con.execute(
            CHILDREN_SQL.format(rel=f), {**p, "node": node, "limit": limit}
        ).fetchall()

    def search(self, text: str, limit: int = 20) -> list[str]:
        pat = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return [r[0] for r in self.con.execute(SEARCH_SQL, {"pat": pat, "limit": limit})]

    def close(self) -> None:
        self.con.close()


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "sqlite-descendants":
        con = sqlite_connect(argv[1])
        sql, p = desc_sql()
        rows = con.execute(sql, {**p, "node": argv[2], "maxd": MAX_DEPTH}).fetchall()
        print(len(rows))
        return 0
    if len(argv) == 2 and argv[0] == "build-networkx":
        b = NetworkXBaseline(argv[1])
        print(f"networkx: {b.nodes} nodes, {b.edges} edges, {b.build_seconds:.2f}s")
        return 0
    if len(argv) == 3 and argv[0] == "build-sqlite":
        b = SqliteBaseline(argv[1], argv[2])
        print(f"sqlite: {b.db_bytes} bytes, {b.build_seconds:.2f}s")
        return 0
    if len(argv) == 2 and argv[0] == "selftest":
        parquet = argv[1]
        t = time.perf_counter()
        nxb = NetworkXBaseline(parquet)
        print(f"networkx build {time.perf_counter() - t:.1f}s nodes={nxb.nodes} edges={nxb.edges}")
        t = time.perf_counter()
        sq = SqliteBaseline(parquet, os.environ.get("TMPDB", "/tmp/filiation-bench/selftest.db"))
        print(f"sqlite build {time.perf_counter() - t:.1f}s")
        root = "black-forest-labs/FLUX.1-dev"
        for name, b in (("nx", nxb), ("sql", sq)):
            t = time.perf_counter()
            d = b.descendants(root)
            t1 = time.perf_counter()
            r = b.descendants(root, ["finetune", "adapter"])
            t2 = time.perf_counter()
            c = b.children(root, 50)
            t3 = time.perf_counter()
            print(
                name,
                len(d),
                f"{(t1 - t) * 1e3:.1f}ms",
                len(r),
                f"{(t2 - t1) * 1e3:.1f}ms",
                len(c),
                f"{(t3 - t2) * 1e3:.2f}ms",
                b.search("FLUX", 5),
            )
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
