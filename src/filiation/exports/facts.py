"""What filiation knows about one model, gathered once for the formats that describe a model.

CycloneDX, SPDX and the model card all say the same things in different vocabularies: the
model's own fields (licence, task, library, size), the models it derives from (every link
of its ancestry, with the relation and who said so) and the data sets it was trained on.
Gathering them here keeps the three formats in agreement with each other and with
:meth:`Genealogy.ancestors`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from filiation.domain import NodeKind, Relation
from filiation.errors import InvalidArgumentError
from filiation.results import NodeDetails, hub_url

if TYPE_CHECKING:
    from filiation.exports import ExportInput

#: The tool named as the author of every exported document.
TOOL = "filiation"


@dataclass(frozen=True)
class Ancestor:
    """A model the exported one derives from, at ``depth`` links above it."""

    id: str
    depth: int
    author: str | None
    stub: bool

    @property
    def url(self) -> str:
        return hub_url(NodeKind.MODEL, self.id) or ""


@dataclass(frozen=True)
class DerivedFrom:
    """One link of the ancestry: ``child`` derives from ``parent`` by ``relation``."""

    child: str
    parent: str
    relation: Relation
    declared: bool
    source: str


@dataclass(frozen=True)
class ModelFacts:
    details: NodeDetails
    ancestors: list[Ancestor]
    links: list[DerivedFrom]
    datasets: list[str]
    truncated: bool
    #: ``person`` or ``organisation`` for the authors a source typed; others are unknown.
    author_types: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.details.id

    def parents_of(self, node_id: str) -> list[DerivedFrom]:
        return [link for link in self.links if link.child == node_id]

    @property
    def base_models(self) -> list[DerivedFrom]:
        """The direct parents of the model itself."""
        return self.parents_of(self.id)


def gather(answer: ExportInput) -> ModelFacts:
    """The model's fields, its ancestry and its training data sets, from the export's answer
    (gathered by ``Genealogy.export``: the model's ``show`` and its bounded ancestry)."""
    details = answer.model
    if details is None:
        raise InvalidArgumentError("this format describes a model: its details are missing")
    ancestry = answer.lineage
    ancestors = [
        Ancestor(id=n.id, depth=n.depth, author=n.author, stub=n.stub)
        for n in ancestry
        if n.depth > 0
    ]
    links = [_link(e) for e in ancestry.edges]
    return ModelFacts(
        details=details,
        ancestors=ancestors,
        links=sorted(links, key=lambda k: (k.child.lower(), k.parent.lower(), k.relation)),
        datasets=sorted((d.id for d in details.datasets), key=str.lower),
        truncated=ancestry.truncated or ancestry.depth_cut,
        author_types=dict(answer.author_types),
    )


#: Writes a model's document from its facts: JSON (a dict) or text (Markdown).
Writer = TypeVar("Writer", bound=Callable[[ModelFacts], dict[str, Any] | str])


def model_format(
    *, name: str, media_type: str, extension: str, description: str
) -> Callable[[Writer], Writer]:
    """Register the decorated writer as the export format ``name`` that describes one model
    (CycloneDX, SPDX, the model card): every such format gathers the model's facts from the
    export's answer the same way, and writes its document alike, JSON indented and in UTF-8
    rather than escapes, text in UTF-8. The writer itself is returned unchanged."""
    from filiation.exports import ExportFormat, register

    def registered(write: Writer) -> Writer:
        def render(answer: ExportInput) -> bytes:
            document = write(gather(answer))
            if isinstance(document, str):
                return document.encode()
            return json.dumps(document, indent=2, ensure_ascii=False).encode()

        register(
            ExportFormat(name, media_type, extension, description, render, describes_model=True)
        )
        return write

    return registered


def _link(edge: dict[str, Any]) -> DerivedFrom:
    return DerivedFrom(
        child=edge["child"],
        parent=edge["parent"],
        relation=Relation(edge["relation"]),
        declared=edge["declared"],
        source=edge["source"],
    )
