"""The lineage as a graph file for other tools: GraphML (Gephi, yEd, networkx) and CSV.

Both write exactly the traversal of the scope (direction, relations, depth, limit and node
filters), as the JSON export does. GraphML is written with the standard library's XML writer
(every text escaped by it). CSV comes three ways: ``csv`` is a zip holding ``nodes.csv`` and
``links.csv``; ``nodes-csv`` and ``links-csv`` are each file alone. Cells that a spreadsheet
would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return) are written with a leading apostrophe, so an id like ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from filiation.exports import ExportFormat, ExportInput, Renderer, register
from filiation.safe_text import csv_cell

if TYPE_CHECKING:
    from filiation.results import Lineage

GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"

#: (name, GraphML type) of the node and link attributes, in the order they are declared.
NODE_KEYS = (
    ("kind", "string"),
    ("author", "string"),
    ("depth", "int"),
    ("relation", "string"),
    ("via", "string"),
    ("downloads", "long"),
    ("likes", "long"),
    ("descendants", "long"),
    ("citations", "long"),
    ("created_at", "string"),
    ("stub", "boolean"),
)
EDGE_KEYS = (("relation", "string"), ("declared", "boolean"), ("source", "string"))

NODE_COLUMNS = ("id", *(name for name, _ in NODE_KEYS), "declared")
LINK_COLUMNS = ("parent", "child", "relation", "declared", "source")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def graphml(lin: Lineage) -> bytes:
    """One directed graph: nodes keyed by id, links from parent to child."""
    ET.register_namespace("", GRAPHML_NS)
    root = ET.Element(f"{{{GRAPHML_NS}}}graphml")
    for prefix, domain, keys in (("n", "node", NODE_KEYS), ("e", "edge", EDGE_KEYS)):
        for name, typ in keys:
            ET.SubElement(
                root,
                f"{{{GRAPHML_NS}}}key",
                {"id": f"{prefix}_{name}", "for": domain, "attr.name": name, "attr.type": typ},
            )
    graph = ET.SubElement(
        root, f"{{{GRAPHML_NS}}}graph", {"id": lin.root, "edgedefault": "directed"}
    )
    for n in lin.nodes:
        el = ET.SubElement(graph, f"{{{GRAPHML_NS}}}node", {"id": n["id"]})
        for name, _ in NODE_KEYS:
            if n.get(name) is not None:
                data = ET.SubElement(el, f"{{{GRAPHML_NS}}}data", {"key": f"n_{name}"})
                data.text = _text(n[name])
    for i, e in enumerate(lin.edges):
        el = ET.SubElement(
            graph,
            f"{{{GRAPHML_NS}}}edge",
            {"id": f"e{i}", "source": e["parent"], "target": e["child"]},
        )
        for name, _ in EDGE_KEYS:
            data = ET.SubElement(el, f"{{{GRAPHML_NS}}}data", {"key": f"e_{name}"})
            data.text = _text(e[name])
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(c)) for c in columns])
    return buf.getvalue().encode("utf-8")


def nodes_csv(lin: Lineage) -> bytes:
    return _csv(lin.nodes, NODE_COLUMNS)


def links_csv(lin: Lineage) -> bytes:
    return _csv(lin.edges, LINK_COLUMNS)


def csv_zip(lin: Lineage) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("nodes.csv", nodes_csv(lin))
        z.writestr("links.csv", links_csv(lin))
    return buf.getvalue()


def _renderer(write: Callable[[Lineage], bytes]) -> Renderer:
    def render(answer: ExportInput) -> bytes:
        return write(answer.lineage)

    return render


#: This module's formats, one a row: name, media type, file extension, what it holds, writer.
_FORMATS: tuple[tuple[str, str, str, str, Callable[[Lineage], bytes]], ...] = (
    (
        "graphml",
        "application/graphml+xml",
        "graphml",
        "the lineage as a GraphML graph (Gephi, yEd, networkx): node kind, downloads, likes, "
        "creation date, depth; link relation and whether it was declared",
        graphml,
    ),
    (
        "csv",
        "application/zip",
        "csv.zip",
        "a zip of nodes.csv and links.csv (formula-safe cells)",
        csv_zip,
    ),
    ("nodes-csv", "text/csv", "nodes.csv", "the lineage's nodes as one CSV file", nodes_csv),
    ("links-csv", "text/csv", "links.csv", "the lineage's links as one CSV file", links_csv),
)
for name, media_type, extension, description, write in _FORMATS:
    register(ExportFormat(name, media_type, extension, description, render=_renderer(write)))
