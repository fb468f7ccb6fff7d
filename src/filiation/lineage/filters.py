"""Filters on the nodes of a traversal: kind, downloads, creation date.

A filter is applied *after* the walk, so it never stops the walk: a quantization with few
downloads does not hide the popular merge built on it. Nodes that fail the filter are
dropped together with their links (no link is invented to bridge the gap); the nodes that
remain keep their true depth and the ``via`` of the link that first reached them, so a kept
node whose every path to the start goes through dropped nodes is shown unconnected. The
starting node(s) are always kept. A bound on downloads or dates drops the nodes for which
the value is unknown (stubs, data sets and authors have no creation date). ``limit`` is
applied to what the filter keeps: nearest generations first, best known first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from filiation.domain import KIND_CODES, NodeKind, parse_kinds
from filiation.errors import InvalidArgumentError
from filiation.limits import DATETIME_MICROS, MAX_QUERY_INT
from filiation.lineage.arrays import NULL_INT, IndexArrays
from filiation.lineage.traverse import Walk

DateArg = date | datetime | str | None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(value: datetime) -> int:
    """Exact microseconds since 1970 (a naive date-time is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // timedelta(microseconds=1)


def parse_date(value: DateArg, *, end: bool, name: str) -> int | None:
    """A user-given date (``2024-05-01``, an ISO date-time, or a date object) as the index's
    microseconds since 1970 (UTC). A bare ``until`` date includes that whole day."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise InvalidArgumentError(
                f"{name} must be a date such as 2024-05-01 (or an ISO date-time), not {text!r}"
            ) from None
    if isinstance(value, datetime):
        micros = _micros(value)
        if not _FIRST <= micros <= _LAST:  # e.g. 9999-12-31T23:00-05:00 is in year 10000
            raise InvalidArgumentError(f"{name} must fall between the years 1 and 9999 (UTC)")
        return micros
    day = _micros(datetime.combine(value, time.min, tzinfo=UTC))
    # In microseconds, not dates: the day after 9999-12-31 is not a date (OverflowError).
    return day + _DAY - 1 if end else day


_DAY = 86_400_000_000
_FIRST, _LAST = DATETIME_MICROS


@dataclass(frozen=True)
class NodeFilter:
    """Which nodes of a traversal to keep (``None`` everywhere keeps them all)."""

    kinds: tuple[NodeKind, ...] | None = None
    min_downloads: int | None = None
    since: int | None = None  # microseconds since 1970, UTC, inclusive
    until: int | None = None  # inclusive

    @classmethod
    def parse(
        cls,
        kinds: Sequence[NodeKind | str] | str | None = None,
        min_downloads: int | None = None,
        since: DateArg = None,
        until: DateArg = None,
    ) -> NodeFilter:
        parsed = parse_kinds(kinds)  # a bad kind is the first error reported
        if min_downloads is not None and not 0 <= min_downloads <= MAX_QUERY_INT:
            raise InvalidArgumentError(
                f"min_downloads must be between 0 and {MAX_QUERY_INT}, not {min_downloads}"
            )
        lo = parse_date(since, end=False, name="since")
        hi = parse_date(until, end=True, name="until")
        if lo is not None and hi is not None and lo > hi:
            raise InvalidArgumentError("since must not be after until")
        return cls(parsed, min_downloads or None, lo, hi)

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.kinds, self.min_downloads, self.since, self.until))

    def describe(self) -> dict[str, object]:
        """The filter as the JSON of a lineage records it (only the bounds that were set)."""

        def iso(v: int | None) -> str | None:
            if v is None:
                return None
            return (EPOCH + timedelta(microseconds=v)).isoformat().replace("+00:00", "Z")

        out: dict[str, object] = {
            "kinds": [k.value for k in self.kinds] if self.kinds else None,
            "min_downloads": self.min_downloads,
            "since": iso(self.since),
            "until": iso(self.until),
        }
        return {k: v for k, v in out.items() if v is not None}

    def keep(self, a: IndexArrays, nodes: np.ndarray) -> np.ndarray:
        """A mask over ``nodes``: True for those the filter keeps."""
        mask = np.ones(len(nodes), bool)
        if not len(nodes):
            return mask
        if self.kinds:
            codes = np.asarray([KIND_CODES[k] for k in self.kinds])
            mask &= np.isin(np.asarray(a.kind)[nodes], codes)
        if self.min_downloads is not None:
            dls = np.asarray(a.downloads)[nodes]
            mask &= (dls != NULL_INT) & (dls >= self.min_downloads)
        if self.since is not None or self.until is not None:
            created = np.asarray(a.created)[nodes]
            mask &= created != NULL_INT
            if self.since is not None:
                mask &= created >= self.since
            if self.until is not None:
                mask &= created <= self.until
        return mask

    def apply(self, a: IndexArrays, walk: Walk, limit: int | None) -> Walk:
        """The walk without the nodes the filter drops and their links, cut to ``limit``."""
        mask = self.keep(a, walk.nodes)
        nodes, depth, via = walk.nodes[mask], walk.depth[mask], walk.via[mask]
        truncated = walk.truncated
        if limit is not None and len(nodes) > limit:
            order = np.lexsort((nodes, depth))[:limit]
            order.sort()
            nodes, depth, via = nodes[order], depth[order], via[order]
            truncated = True
        edges = walk.edges
        if len(edges):
            kept = np.concatenate([nodes, walk.roots])
            both = np.isin(np.asarray(a.edge_parent)[edges], kept) & np.isin(
                np.asarray(a.edge_child)[edges], kept
            )
            edges = edges[both]
        return Walk(
            roots=walk.roots,
            nodes=nodes,
            depth=depth,
            via=via,
            edges=edges,
            truncated=truncated,
            depth_cut=walk.depth_cut,
        )
