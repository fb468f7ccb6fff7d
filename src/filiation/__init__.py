"""filiation: trace the genealogy of AI models.

>>> import filiation
>>> g = filiation.open()                       # the embedded store (bundled sample if empty)
>>> g.descendants("meta-llama/Llama-3.1-8B-Instruct", relations=["finetune"], max_depth=2)
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

from filiation.domain import LINEAGE_RELATIONS, NodeKind, Relation
from filiation.errors import (
    FiliationError,
    InvalidArgumentError,
    NodeNotFoundError,
    SourceError,
    StoreError,
)

if TYPE_CHECKING:
    from filiation.results import (
        Lineage,
        Link,
        Neighbour,
        NodeDetails,
        PathResult,
        SearchHit,
        Stats,
    )
    from filiation.service import Genealogy, default_db, open

#: Where the names that need the store, numpy or pydantic come from: imported on first use
#: (PEP 562), so that ``import filiation`` (and ``filiation --version``) stays light.
_LAZY = {
    "Lineage": "filiation.results",
    "Link": "filiation.results",
    "Neighbour": "filiation.results",
    "NodeDetails": "filiation.results",
    "PathResult": "filiation.results",
    "SearchHit": "filiation.results",
    "Stats": "filiation.results",
    "Genealogy": "filiation.service",
    "default_db": "filiation.service",
    "open": "filiation.service",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'filiation' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "LINEAGE_RELATIONS",
    "FiliationError",
    "Genealogy",
    "InvalidArgumentError",
    "Lineage",
    "Link",
    "Neighbour",
    "NodeDetails",
    "NodeKind",
    "NodeNotFoundError",
    "PathResult",
    "Relation",
    "SearchHit",
    "SourceError",
    "Stats",
    "StoreError",
    "__version__",
    "default_db",
    "open",
]
