"""Undeclared lineage: links filiation *suspects* rather than reads.

Everything here is inferred: each suspected link carries a calibrated confidence and the
evidence behind it, is stored as its own source (``inferred:<method>``) and is followed by
walks only when asked. ``metadata`` infers from what the Hub's dump says about each model
(names, formats, sizes, publishers, dates); ``weights`` (a separate package) from the
weights themselves.
"""

from __future__ import annotations

#: Sources whose links are suspected, not declared: the index keeps them apart.
INFERRED_PREFIX = "inferred:"
#: The source of the suspects ``infer`` finds from the dump's metadata (``metadata.SOURCE``),
#: named here so that an ingest can tell whether any exist without loading the inference.
METADATA_SOURCE = INFERRED_PREFIX + "metadata"


def is_inferred_source(source: str) -> bool:
    """Whether links of this source are suspicions (kept apart, followed only when asked)."""
    return source.startswith(INFERRED_PREFIX)
