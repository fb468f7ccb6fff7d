"""A node's lineage in the formats people exchange.

Each format is one :class:`ExportFormat` in :data:`FORMATS`, registered by the module that
writes it (``json_lineage``, ``graph``, ``cyclonedx``, ``spdx``, ``model_card``…). The CLI's
``filiation export``, the API's ``/api/{models,datasets,authors}/{id}/export`` and the web
pages' download buttons all go through :meth:`filiation.Genealogy.export`, so a format added
here appears everywhere. The service computes the answer (:class:`ExportInput`); a renderer
only writes it, so this package never imports the service.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from filiation.domain import NodeKind
from filiation.errors import InvalidArgumentError

if TYPE_CHECKING:
    from filiation.results import Lineage, NodeDetails


Direction = Literal["ancestors", "descendants", "both"]


@dataclass(frozen=True)
class ExportInput:
    """What a renderer writes, computed by :meth:`filiation.Genealogy.export`: renderers
    only format a finished answer and never ask the genealogy anything.

    Graph formats (JSON, GraphML, CSV) write ``lineage``, exactly the traversal asked for;
    formats that describe one model (CycloneDX, SPDX, model card) get the ``model`` and its
    ancestry as ``lineage``, whatever the direction asked for.
    """

    lineage: Lineage
    model: NodeDetails | None = None
    #: For a model's formats: the authors a source typed, ``person`` or ``organisation``
    #: (``refresh`` asks the Hub); an author absent from it is of unknown type.
    author_types: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Export:
    """One exported file: what to write, and how to name and serve it."""

    content: bytes
    media_type: str
    filename: str


Renderer = Callable[[ExportInput], bytes]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str
    description: str
    render: Renderer = field(repr=False)
    #: True for the formats that describe one model (they need ``ExportInput.model``).
    describes_model: bool = False


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


def not_a_model(node_id: str, kind: NodeKind) -> InvalidArgumentError:
    """The error for a format that describes a model, asked about a data set or an author."""
    return InvalidArgumentError(
        f"{node_id} is a {kind.value}; this format describes a model "
        "(use --format json, graphml or csv for the lineage of a data set or an author)"
    )
