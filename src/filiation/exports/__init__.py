"""A node's lineage in the formats people exchange.

Each format is one :class:`ExportFormat` in :data:`FORMATS`, registered by the module that
writes it (``json_lineage``, ``graph``, ``cyclonedx``, ``spdx``, ``model_card``…). The CLI's
``filiation export``, the API's ``/api/{models,datasets,authors}/{id}/export`` and the web
pages' download buttons all go through :meth:`filiation.Genealogy.export`, so a format added
here appears everywhere.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from filiation.domain import NodeKind
from filiation.errors import InvalidArgumentError
from filiation.lineage.query import TraversalQuery

if TYPE_CHECKING:
    from filiation.service import Genealogy


Direction = Literal["ancestors", "descendants", "both"]


@dataclass(frozen=True)
class ExportScope:
    """Which part of the genealogy around the node an export covers.

    Formats that describe one model (CycloneDX, SPDX, model card) read its ancestry whatever
    the direction; graph formats (JSON, GraphML, CSV) write exactly the traversal asked for.
    """

    direction: Direction = "both"
    #: What the node is (ids of a model, a data set and an author may clash). A data set's
    #: descendants are its impact set; an author's, what it published and what derives from it.
    kind: NodeKind = NodeKind.MODEL
    #: The walk: relations, depth, limit and which nodes to keep (its ``kind`` is ``kind``).
    query: TraversalQuery = field(default_factory=TraversalQuery)


@dataclass(frozen=True)
class Export:
    """One exported file: what to write, and how to name and serve it."""

    content: bytes
    media_type: str
    filename: str


Renderer = Callable[["Genealogy", str, ExportScope], bytes]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str
    description: str
    render: Renderer = field(repr=False)


FORMATS: dict[str, ExportFormat] = {}

#: The modules that register formats, imported on first use (some need optional libraries).
_MODULES = (
    "filiation.exports.json_lineage",
    "filiation.exports.graph",
    "filiation.exports.cyclonedx",
    "filiation.exports.spdx",
    "filiation.exports.model_card",
)


def register(fmt: ExportFormat) -> ExportFormat:
    FORMATS[fmt.name] = fmt
    return fmt


def formats() -> dict[str, ExportFormat]:
    """Every known format, by name."""
    for module in _MODULES:
        importlib.import_module(module)
    return FORMATS


def get(name: str) -> ExportFormat:
    known = formats()
    key = name.strip().lower()
    if key not in known:
        raise InvalidArgumentError(
            f"unknown export format {name!r}; use one of: {', '.join(sorted(known))}"
        )
    return known[key]


def filename_for(node_id: str, fmt: ExportFormat) -> str:
    """A safe file name: the id's characters that are not portable become ``_``."""
    stem = "".join(c if c.isalnum() or c in "-._" else "_" for c in node_id)
    return f"{stem.strip('._') or 'export'}.{fmt.extension}"
