"""Ingesting lineage edge lists (``parent_id,child_id,relation``) and their node lists.

Expectations are counted here from the real llm-lineage CSV files with the csv module;
filiation's answers are read back through ``filiation.open(db, load_bundled=False)``.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import filiation

#: The edge list's relation names and the names filiation uses for them.
RELATION_NAMES = {
    "finetuned": "finetune",
    "merged": "merge",
    "quantized": "quantized",
    "adapter": "adapter",
}


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def unique_links(edges: list[list[str]]) -> set[tuple[str, str, str]]:
    """(parent lower, child lower, normalised relation), self-loops left out."""
    return {
        (p.lower(), c.lower(), RELATION_NAMES[r]) for p, c, r in edges if p.lower() != c.lower()
    }


@pytest.fixture(scope="module")
def raw(lineage_csv: tuple[Path, Path]) -> dict[str, list[list[str]]]:
    edges_path, nodes_path = lineage_csv
    edge_header, edges = read_csv(edges_path)
    node_header, nodes = read_csv(nodes_path)
    assert edge_header == ["parent_id", "child_id", "relation"]
    assert node_header[0] == "id"
    return {"edges": edges, "nodes": nodes, "node_header": [node_header]}


@pytest.fixture(scope="module")
def lineage(stores, lineage_csv: tuple[Path, Path]) -> tuple[filiation.Genealogy, Any]:
    """The real edge list ingested once; returns the genealogy and its ingest report."""
    db = stores.new("lineage")
    g = filiation.open(db, load_bundled=False)
    report = g.ingest_edges(*lineage_csv)
    return g, report


def reason(mapping: dict[str, int], *words: str) -> tuple[str, int]:
    keys = [k for k in mapping if all(w in k for w in words)]
    assert len(keys) == 1, f"expected one entry about {words} in {mapping}"
    return keys[0], mapping[keys[0]]


def write_edges(tmp_path: Path, lines: list[str], name: str = "edges.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- the real edge list ---------------------------------------------------------------------------


def test_report_counts_match_the_files(lineage, raw) -> None:
    _, report = lineage
    edges = raw["edges"]
    loops = sum(1 for p, c, _ in edges if p.lower() == c.lower())
    node_ids = {row[0].lower() for row in raw["nodes"]}
    assert report.rows_read == len(edges)
    assert report.links == len(unique_links(edges))
    assert reason(report.skipped, "self-loop")[1] == loops
    assert report.nodes == len(node_ids)
    assert reason(report.skipped, "duplicate node")[1] == len(raw["nodes"]) - len(node_ids)


def test_relation_names_are_normalised(lineage, raw) -> None:
    g, _ = lineage
    expected = Counter(rel for _, _, rel in unique_links(raw["edges"]))
    stats = g.stats()
    lineage_links = {k: v for k, v in stats.links_by_relation.items() if k != "published_by"}
    assert lineage_links == dict(expected)
    assert "finetuned" not in stats.links_by_relation and "merged" not in stats.links_by_relation
    # one merged and one finetuned link, followed through the API
    for raw_rel in ("merged", "finetuned"):
        i, (parent, child, _) = next(
            (i, e) for i, e in enumerate(raw["edges"]) if e[2] == raw_rel and e[0] != e[1]
        )
        (link,) = g.path(parent, child).links
        assert link.relation.value == RELATION_NAMES[raw_rel]
        assert link.evidence == f"edges.csv:{i + 2}"  # provenance: file and line (header is 1)


def test_biggest_families_have_the_children_of_the_csv(lineage, raw) -> None:
    g, _ = lineage
    children: dict[str, Counter[str]] = {}
    for parent, _child, rel in unique_links(raw["edges"]):
        children.setdefault(parent, Counter())[rel] += 1
    biggest = sorted(children, key=lambda p: -sum(children[p].values()))[:3]
    for parent in biggest:
        shown = g.show(parent)
        assert shown.children_by_relation == dict(children[parent])
        listed = g.children(parent, limit=None)
        assert len(listed) == sum(children[parent].values())
        expected_ids = {c for p, c, _ in unique_links(raw["edges"]) if p == parent}
        assert {n.id.lower() for n in listed} == expected_ids
        assert len(g.descendants(parent, max_depth=1)) == len(expected_ids)


def test_descendants_are_everything_reachable_in_the_csv(lineage, raw) -> None:
    g, _ = lineage
    below: dict[str, set[str]] = {}
    above: dict[str, set[str]] = {}
    for p, c, _ in unique_links(raw["edges"]):
        below.setdefault(p, set()).add(c)
        above.setdefault(c, set()).add(p)

    def reach(start: str, graph: dict[str, set[str]]) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen and nxt != start:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    roots = sorted(below, key=lambda p: -len(below[p]))[:3]
    for root in roots:
        assert {i.lower() for i in g.descendants(root).ids()} == reach(root, below)
    # the deepest model of the biggest family: all its ancestors, across generations
    family = reach(roots[0], below)
    deepest = max(family, key=lambda n: len(reach(n, above)))
    ancestors = reach(deepest, above)
    assert len(ancestors) > 1
    assert {i.lower() for i in g.ancestors(deepest).ids()} == ancestors


def test_node_list_fields_are_kept(lineage, raw) -> None:
    g, _ = lineage
    header = raw["node_header"][0]
    seen: set[str] = set()
    checked = 0
    for row in raw["nodes"]:
        key = row[0].lower()
        if key in seen:
            continue
        seen.add(key)
        if checked >= 40:
            continue
        record = dict(zip(header, row, strict=True))
        shown = g.show(record["id"])
        assert shown.id == record["id"]
        assert shown.author == record["owner"]
        assert shown.extra == {k: v for k, v in record.items() if k not in ("id", "owner") and v}
        assert shown.stub is False
        checked += 1
    assert checked == 40


# -- damaged edge lists ---------------------------------------------------------------------------


def test_malformed_rows_are_reported_with_line_numbers(
    tmp_path: Path, fresh_db, lineage_csv: tuple[Path, Path], raw
) -> None:
    header = "parent_id,child_id,relation"
    good = [",".join(e) for e in raw["edges"][:40] if e[0].lower() != e[1].lower()]
    lines = [header, *good]
    bad = {
        5: "onlyparent/without-child",  # missing columns
        9: f"{raw['edges'][8][0]},{raw['edges'][8][1]}",  # missing relation column
        14: f",{raw['edges'][13][1]},finetuned",  # empty parent
        20: f"{raw['edges'][19][0]},,merged",  # empty child
        27: f"   ,{raw['edges'][26][1]},quantized",  # blank parent
        33: f"evil/\x01bell,{raw['edges'][32][1]},adapter",  # control character
    }
    for line_no, text in sorted(bad.items()):
        lines.insert(line_no - 1, text)  # line 1 is the header
    path = write_edges(tmp_path, lines)
    for line_no, text in bad.items():
        assert lines[line_no - 1] == text
    g = filiation.open(fresh_db, load_bundled=False)
    report = g.ingest_edges(path)
    key, count = reason(report.skipped, "lines")
    assert count == len(bad)
    assert [int(n) for n in key.split("lines ")[1].rstrip(")").split(", ")] == sorted(bad)
    assert report.links == len(
        {tuple(x.lower() for x in e) for e in (g_.split(",") for g_ in good)}
    )
    for text in good:
        parent, child, _ = text.split(",")
        assert child.lower() in {c.id.lower() for c in g.children(parent, limit=None)}
    assert g.snapshots()[-1]["report"]["skipped"] == report.skipped


def test_many_malformed_rows_are_all_counted(tmp_path: Path, fresh_db, raw) -> None:
    lines = ["parent_id,child_id,relation"]
    for p, c, r in raw["edges"][:30]:
        lines.append(f"{p},{c},{r}")
        lines.append(f",{c},{r}")
    g = filiation.open(fresh_db, load_bundled=False)
    report = g.ingest_edges(write_edges(tmp_path, lines))
    key, count = reason(report.skipped, "lines")
    assert count == 30
    assert key.split("lines ")[1].startswith("3, 5, 7")  # the first ones are named


def test_unknown_relation_is_kept_as_unspecified_and_noted(tmp_path: Path, fresh_db, raw) -> None:
    edges = [e for e in raw["edges"][:50] if e[0].lower() != e[1].lower()]
    odd = {3: "distilled", 7: "distilled", 11: "pruned"}
    lines = ["parent_id,child_id,relation"]
    for i, (p, c, r) in enumerate(edges):
        lines.append(f"{p},{c},{odd.get(i, r)}")
    g = filiation.open(fresh_db, load_bundled=False)
    report = g.ingest_edges(write_edges(tmp_path, lines))
    assert reason(report.notes, "distilled")[1] == 2
    assert reason(report.notes, "pruned")[1] == 1
    assert report.links == len(edges)
    for i in odd:
        p, c, _ = edges[i]
        links = g.path(p, c).links
        assert [(link.relation.value, link.declared) for link in links] == [("unspecified", False)]
        assert c in g.descendants(p).ids()


def test_csv_without_parent_and_child_columns_is_a_source_error(
    tmp_path: Path, fresh_db, raw
) -> None:
    lines = ["from_model;to_model;kind"] + [";".join(e) for e in raw["edges"][:10]]
    path = write_edges(tmp_path, lines)
    g = filiation.open(fresh_db, load_bundled=False)
    with pytest.raises(filiation.SourceError) as err:
        g.ingest_edges(path)
    assert "parent" in str(err.value) and "child" in str(err.value)
    assert "from_model" in str(err.value)  # shows the header it found
    assert g.snapshots() == []


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe\x00p\x00a\x00r\x00e\x00n\x00t\x80\x81"],
    ids=["empty", "not-utf8"],
)
def test_unreadable_csv_is_a_source_error(tmp_path: Path, fresh_db, content: bytes) -> None:
    path = tmp_path / "edges.csv"
    path.write_bytes(content)
    g = filiation.open(fresh_db, load_bundled=False)
    with pytest.raises(filiation.SourceError, match=r"edges\.csv"):
        g.ingest_edges(path)
    assert g.snapshots() == []


def test_other_header_names_and_no_relation_column(tmp_path: Path, fresh_db, raw) -> None:
    edges = [e for e in raw["edges"][:25] if e[0].lower() != e[1].lower()]
    lines = ["Source , Target"] + [f"{p},{c}" for p, c, _ in edges]
    g = filiation.open(fresh_db, load_bundled=False)
    report = g.ingest_edges(write_edges(tmp_path, lines), name="mine")
    assert report.links == len(edges)
    assert reason(report.notes, "relation")[1] == 1
    assert g.stats().links_by_relation.get("unspecified") == len(edges)
    assert [s["source"] for s in g.snapshots()] == ["edges:mine"]


# -- an edge list beside the hub-stats dump -------------------------------------------------------


def test_edge_list_and_hub_stats_together(
    tmp_path: Path, stores, hub_sample: Path, sample_db, lineage_csv: tuple[Path, Path], raw
) -> None:
    rows = pq.read_table(hub_sample, columns=["id", "baseModels"]).to_pylist()
    hub_ids = {r["id"].lower() for r in rows}
    hub_links = {
        (m["id"].lower(), r["id"].lower())
        for r in rows
        if r["baseModels"]
        for m in r["baseModels"]["models"]
    }
    hub_parents: dict[str, set[str]] = {}
    for p, c in hub_links:
        hub_parents.setdefault(c, set()).add(p)
    # A link only in the edge list, from a model the dump describes and that has parents there.
    parent, child, rel = next(
        (p, c, r)
        for p, c, r in raw["edges"]
        if p.lower() in hub_parents
        and (p.lower(), c.lower()) not in hub_links
        and c.lower() not in hub_ids
        and p.lower() != c.lower()
    )
    store = stores.copy(sample_db, tmp_path)  # the hub-stats sample, already ingested
    g = filiation.open(store, load_bundled=False)
    assert [s["source"] for s in g.snapshots()] == ["hub-stats"]
    g.ingest_edges(*lineage_csv)
    sources = {s["source"] for s in g.stats().snapshots}
    assert sources == {"hub-stats", "edges:edges"}
    assert all(s["current"] for s in g.stats().snapshots)

    assert child.lower() in {c.id.lower() for c in g.children(parent, limit=None)}
    ancestors = {a.lower() for a in g.ancestors(child).ids()}
    # the walk crosses from the edge list into the dump: the parent's own parents are found
    assert parent.lower() in ancestors
    assert hub_parents[parent.lower()] <= ancestors
    (link,) = g.path(parent, child).links
    assert link.source.startswith("edges:edges")
    assert link.relation.value == RELATION_NAMES[rel]
    # a model both sources describe keeps the dump's indicators and the node list's fields
    header = raw["node_header"][0]
    described = {row[0].lower(): dict(zip(header, row, strict=True)) for row in raw["nodes"]}
    full = pq.read_table(hub_sample, columns=["id", "downloads"]).to_pylist()
    both = next(r for r in full if r["id"].lower() in described and r["downloads"])
    shown = g.show(both["id"])
    assert shown.downloads == both["downloads"]
    record = described[both["id"].lower()]
    assert shown.extra == {k: v for k, v in record.items() if k not in ("id", "owner") and v}


# -- the reader's line numbers and row shapes ------------------------------------------------------


def csv_module_links(path: Path) -> tuple[dict[tuple[str, str, str], str], list[int], int]:
    """What the edge list says, read row by row with the csv module (the reference): each
    usable link's first evidence (``name:line``, the line its row ends on), the lines of
    unusable rows, and the rows read."""
    from filiation.domain import Relation, normalise_relation
    from filiation.sources.hub_columns import clean_id

    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader)]
        ip, ic, ir = header.index("parent_id"), header.index("child_id"), header.index("relation")
        first: dict[tuple[str, str, str], str] = {}
        bad: list[int] = []
        rows = 0
        for row in reader:
            rows += 1
            if all(not cell.strip() for cell in row):
                continue
            if len(row) <= max(ip, ic, ir):
                bad.append(reader.line_num)
                continue
            parent, child = clean_id(row[ip]), clean_id(row[ic])
            if parent is None or child is None:
                bad.append(reader.line_num)
                continue
            rel = normalise_relation(row[ir]) if row[ir].strip() else Relation.UNSPECIFIED
            if rel is None or rel is Relation.PUBLISHED_BY:
                rel = Relation.UNSPECIFIED
            if parent.lower() != child.lower():
                key = (parent.lower(), child.lower(), rel.value)
                first.setdefault(key, f"{path.name}:{reader.line_num}")
    return first, bad, rows


def messy_edge_list(edges: list[list[str]], newline: str, stray_quote: bool) -> str:
    """Real links written the way hand-made files are: blank and whitespace-only lines,
    quoted values (some holding a line break), rows with a field too many or too few,
    repeated links, and (optionally) a quote inside an unquoted id."""
    out = ["parent_id,child_id,relation"]
    for i, (p, c, r) in enumerate(edges):
        if i % 7 == 3:
            out.append("")
        if i % 11 == 5:
            out.append("   ")
        if i % 13 == 6:
            out.append(",,")
        if i % 5 == 1:
            out.append(f'"{p}","{c}",{r}')
        elif i % 9 == 2:
            out.append(f'"{p}","{c}{newline}v2",{r}')  # an id with a line break: unusable
        elif i % 9 == 4:
            out.append(f'{p},{c},"{r}",{newline}"a note{newline}on two lines"')  # one more field
        elif i % 17 == 8:
            out.append(f"{p},{c}")  # one field too few
        elif stray_quote and i == 12:
            out.append(f'{p}"x,{c},{r}')
        else:
            out.append(f"{p},{c},{r}")
        if i % 8 == 0:
            out.append(f"{p.upper()},{c},{r}")  # the same link again
    return newline.join(out) + newline


@pytest.mark.parametrize(
    ("newline", "bom", "stray_quote"),
    [("\n", False, False), ("\r\n", True, False), ("\r", False, False), ("\n", False, True)],
    ids=["lf", "crlf-bom", "cr", "stray-quote"],
)
def test_evidence_names_the_line_each_row_ends_on(
    tmp_path: Path, raw, newline: str, bom: bool, stray_quote: bool
) -> None:
    from filiation.sources import edge_csv

    edges = [e for e in raw["edges"][:120] if e[0].lower() != e[1].lower()]
    path = tmp_path / "edges.csv"
    text = messy_edge_list(edges, newline, stray_quote)
    path.write_text(text, encoding="utf-8-sig" if bom else "utf-8", newline="")
    expected, bad, rows = csv_module_links(path)
    assert len(expected) > 50 and len(bad) > 10  # the file does hold both kinds of rows

    records = edge_csv.read(path)
    links = records.links.to_pylist()
    got = {(x["parent_key"], x["child_key"], x["relation"]): x["evidence"] for x in links}
    assert got == expected
    assert len(links) == len(got)  # duplicates merged
    assert records.report.rows_read == rows
    key, count = reason(records.report.skipped, "lines")
    assert count == len(bad)
    shown = [int(n) for n in key.split("lines ")[1].rstrip(")").removesuffix(" ...").split(", ")]
    assert shown == bad[:10]


@pytest.mark.parametrize(
    "text", [b"parent_id,child_id,relation\n", b"parent_id,child_id,relation", b"child,parent\n\n"]
)
def test_a_header_alone_is_an_empty_edge_list(tmp_path: Path, text: bytes) -> None:
    from filiation.sources import edge_csv

    path = tmp_path / "edges.csv"
    path.write_bytes(text)
    records = edge_csv.read(path)
    assert records.links.num_rows == 0
    assert records.report.skipped == {}
    assert records.report.rows_read == text.count(b"\n\n")


def test_bad_bytes_are_a_source_error_naming_the_line(tmp_path: Path, raw) -> None:
    from filiation.sources import edge_csv

    lines = ["parent_id,child_id,relation"] + [",".join(e) for e in raw["edges"][:5]]
    path = tmp_path / "edges.csv"
    data = "\n".join(lines).encode() + b"\nabc/\xff\xfe,def/ghi,merged\n"
    path.write_bytes(data)
    with pytest.raises(filiation.SourceError, match=r"edges\.csv is not a UTF-8 CSV file \(line 7"):
        edge_csv.read(path)


def test_node_list_rows_of_any_shape(tmp_path: Path, raw) -> None:
    """Node rows with fewer or more fields than the header, quoted line breaks, blank rows
    and repeated ids: counted as the csv module reads them."""
    from filiation.sources import edge_csv

    ids = [e[1] for e in raw["edges"][:6]]
    nodes = tmp_path / "nodes.csv"
    nodes.write_text(
        "id,owner,architecture,notes\n"
        f'{ids[0]},alice,llama,"two\nlines"\n'
        f"{ids[1]}\n"  # the id alone
        f"{ids[2]},bob,mistral,n,surplus\n"  # a field too many
        "\n,,,\n"
        f",carol,llama,\n"  # no id
        f"{ids[0].upper()},dave,,\n"  # the first id again
        f"{ids[3]},  ,gpt2,\n",
        encoding="utf-8",
    )
    edges = write_edges(tmp_path, ["parent_id,child_id,relation", f"{ids[4]},{ids[5]},merged"])
    records = edge_csv.read(edges, nodes)
    got = {n["id"]: (n["author"], n["extra"]) for n in records.nodes.to_pylist()}
    assert got == {
        ids[0]: ("alice", '{"architecture": "llama", "notes": "two\\nlines"}'),
        ids[1]: (ids[1].split("/")[0] if "/" in ids[1] else None, None),
        ids[2]: ("bob", '{"architecture": "mistral", "notes": "n"}'),
        ids[3]: (ids[3].split("/")[0] if "/" in ids[3] else None, '{"architecture": "gpt2"}'),
    }
    assert records.report.skipped == {"node rows without a usable id": 1, "duplicate node rows": 1}
