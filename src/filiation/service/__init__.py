"""The service every interface calls: :class:`Genealogy` (``filiation.open(db)``).

- ``genealogy.py``: the questions (lineage, impact, show, search, export...);
- ``walks.py`` and ``summaries.py``: how they are answered from the lineage index;
- ``index_cache.py``: the index's lifecycle (cache folder, locks, background refresh, pins);
- ``overview.py``: the genealogy as a whole (snapshots, counts, entry points, health);
- ``ingest.py``: sources' records to snapshots of the store, and their index;
- ``rights.py``: rights requests and the watch list, as ``Genealogy.rights``, and their
  typed results;
- ``registry.py``: the registry's public names (``Genealogy.registry``'s type, its records and
  coded values) for the interfaces, each loaded on first use.

The names below are loaded when first asked for (PEP 562): ``from filiation.service import
Genealogy`` loads the questions and what they stand on, never the ingest (pyarrow's readers,
the sources) nor the rights requests, which load with their first use
(``tests/test_lazy_imports.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from filiation.lineage.query import QueryArgs
    from filiation.service.defaults import (
        BUNDLED,
        BUNDLED_LABEL,
        DEFAULT_KEEP,
        ENV_KEEP,
        bundled_snapshot,
    )
    from filiation.service.genealogy import (
        ENTRY_POINTS,
        ENV_DB,
        MAX_ID_LENGTH,
        SUGGEST_MAX,
        Genealogy,
        Step,
        default_db,
        open,
    )
    from filiation.service.rights import Rights, WatchList
    from filiation.sources.records import arrow_without_pandas

#: Where each public name lives.
_HOMES = {
    **dict.fromkeys(
        (
            "ENTRY_POINTS",
            "ENV_DB",
            "MAX_ID_LENGTH",
            "SUGGEST_MAX",
            "Genealogy",
            "Step",
            "default_db",
            "open",
        ),
        "filiation.service.genealogy",
    ),
    **dict.fromkeys(
        ("BUNDLED", "BUNDLED_LABEL", "DEFAULT_KEEP", "ENV_KEEP", "bundled_snapshot"),
        "filiation.service.defaults",
    ),
    **dict.fromkeys(("Rights", "WatchList"), "filiation.service.rights"),
    "QueryArgs": "filiation.lineage.query",
    # for the command line's ingests, processes of their own (see its docstring)
    "arrow_without_pandas": "filiation.sources.records",
}


def lazy_names(
    namespace: dict[str, Any], homes: Mapping[str, str | tuple[str, str]]
) -> Callable[[str], Any]:
    """A module's ``__getattr__`` (PEP 562) that loads each name of ``homes`` from its module
    (``home`` or ``(home, name there)``) when first asked for, then keeps it in the module's
    ``namespace`` so that it is found directly next time: the service's public surfaces cost
    nothing until used (this package, :mod:`filiation.service.registry`)."""

    def getattr_(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        module, there = (home, name) if isinstance(home, str) else home
        value = getattr(importlib.import_module(module), there)
        namespace[name] = value
        return value

    return getattr_


__getattr__ = lazy_names(globals(), _HOMES)


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
    "arrow_without_pandas",
    "bundled_snapshot",
    "default_db",
    "open",
]
