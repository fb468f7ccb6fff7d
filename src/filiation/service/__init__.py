"""The service every interface calls: :class:`Genealogy` (``filiation.open(db)``).

- ``genealogy.py``: the questions (lineage, impact, show, search, export...);
- ``walks.py`` and ``summaries.py``: how they are answered from the lineage index;
- ``index_cache.py``: the index's lifecycle (cache folder, locks, background refresh, pins);
- ``ingest.py``: sources' records to snapshots of the store, and their index;
- ``rights.py``: rights requests and the watch list, as ``Genealogy.rights``.
"""

from filiation.service.genealogy import (
    ENTRY_POINTS,
    ENV_DB,
    MAX_ID_LENGTH,
    SUGGEST_MAX,
    Genealogy,
    QueryArgs,
    Step,
    default_db,
    open,
)
from filiation.service.ingest import (
    BUNDLED,
    BUNDLED_LABEL,
    DEFAULT_KEEP,
    ENV_KEEP,
    bundled_snapshot,
)
from filiation.service.rights import Rights, WatchList

__all__ = [
    "BUNDLED",
    "BUNDLED_LABEL",
    "DEFAULT_KEEP",
    "ENTRY_POINTS",
    "ENV_DB",
    "ENV_KEEP",
    "MAX_ID_LENGTH",
    "SUGGEST_MAX",
    "Genealogy",
    "QueryArgs",
    "Rights",
    "Step",
    "WatchList",
    "bundled_snapshot",
    "default_db",
    "open",
]
