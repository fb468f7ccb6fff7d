"""filiation: trace the genealogy of AI models.

>>> import filiation
>>> g = filiation.open()                       # the embedded store (bundled sample if empty)
>>> g.descendants("meta-llama/Llama-3.1-8B-Instruct", relations=["finetune"], max_depth=2)
"""

from __future__ import annotations

__version__ = "0.1.0"

from filiation.domain import LINEAGE_RELATIONS, NodeKind, Relation
from filiation.errors import (
    FiliationError,
    InvalidArgumentError,
    NodeNotFoundError,
    SourceError,
    StoreError,
)
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
