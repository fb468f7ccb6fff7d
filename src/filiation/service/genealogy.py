"""The questions every interface asks: :class:`Genealogy`, over small collaborators.

``filiation.open(db)`` returns a :class:`Genealogy`. The CLI, the JSON API and the web pages
are thin layers over its methods, so each question is answered in exactly one place. What
it stands on lives beside it: the index's lifecycle in ``index_cache.py``, the questions
about the genealogy as a whole (snapshots, stats, entry points, health) in ``overview.py``,
ingest in ``ingest.py``, rights requests in ``rights.py`` (``g.rights``), the registry in
:mod:`filiation.registry` (``g.registry``).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from filiation.domain import (
    DEFAULT_RANKING,
    NodeKind,
    parse_kind,
)
from filiation.errors import InvalidArgumentError, NodeNotFoundError
from filiation.limits import MAX_ID_LENGTH
from filiation.lineage.query import (
    QueryArgs,
    RelationsArg,
    TraversalQuery,
    asked,
    parse_relation_arg,
)
from filiation.results import (
    EntryPoints,
    Families,
    Health,
    Limits,
    Lineage,
    Neighbour,
    NodeDetails,
    NodeRef,
    NodeSummary,
    PathResult,
    SearchHit,
    SearchPage,
    Stats,
    link_of,
)
from filiation.service import summaries, walks
from filiation.service.defaults import keep_snapshots
from filiation.service.index_cache import IndexCache
from filiation.service.overview import ENTRY_POINTS, Overview
from filiation.store.store import Store

# What a question needs is imported above; the rest (ingest and its sources, rights requests,
# exports, the graph view, suspects' evidence) when first used, so that a fresh process
# answering ``show`` or ``search`` loads only that (tests/test_lazy_imports.py).
if TYPE_CHECKING:
    from filiation.exports import Export
    from filiation.inference.checks import CheckReport
    from filiation.inference.run import InferResult
    from filiation.inference.verification import VerifyReport
    from filiation.lineage.index import LineageIndex
    from filiation.lineage.view import GraphView
    from filiation.registry.service import Registry
    from filiation.service.ingest import Ingester
    from filiation.service.rights import Rights
    from filiation.sources.hub_api import FamilyOptions
    from filiation.sources.local_folder import ScanResult
    from filiation.sources.records import IngestReport, Records

ENV_DB = "FILIATION_DB"
#: Ids longer than this get no near-id suggestions when unknown: suggestions search ever
#: shorter prefixes of the id, and no Hub id is that long (names have at most 96 characters).
SUGGEST_MAX = 160

Step = Callable[[str], None]


def default_db() -> str:
    """``$FILIATION_DB``, else ``filiation.sqlite`` in the user's data directory."""
    env = os.environ.get(ENV_DB)
    if env:
        return env
    from platformdirs import user_data_dir

    return str(Path(user_data_dir("filiation", appauthor=False)) / "filiation.sqlite")


class Genealogy:
    """A genealogy of models, data sets and authors, backed by a store.

    The lineage index is built from the store's current snapshots the first time a question
    needs it (and cached beside the store); an empty store is first filled with the bundled
    sample so that every question has an answer out of the box.
    """

    def __init__(
        self,
        db: str | os.PathLike[str] | None = None,
        *,
        load_bundled: bool = True,
        step: Step | None = None,
    ) -> None:
        self.store = Store(db if db is not None else default_db())
        self.load_bundled = load_bundled
        self._step = step
        fill = lambda: self._ingester.ingest(self._ingester.bundled_records())  # noqa: E731
        self._cache = IndexCache(self.store, self._say, fill if load_bundled else None)
        self._keep = keep_snapshots()  # a bad $FILIATION_KEEP_SNAPSHOTS is an error at open
        self._registry: Registry | None = None
        self._overview = Overview(self.store, self._cache)

    def __repr__(self) -> str:
        return f"Genealogy({self.store.describe()!r})"

    @property
    def registry(self) -> Registry:
        """The organisation's registry of AI systems and models, in the same store."""
        from filiation.registry.service import Registry

        if self._registry is None:
            self._registry = Registry(self)
        return self._registry

    @functools.cached_property
    def rights(self) -> Rights:
        """Rights requests: dossiers, letters, follow-up, history and the watch list."""
        from filiation.service.rights import Rights

        return Rights(self)

    @functools.cached_property
    def _ingester(self) -> Ingester:
        """Sources' records to snapshots (made on first use: it loads pyarrow's readers)."""
        from filiation.service.ingest import Ingester

        ingester = Ingester(self.store, self._cache, self._say)
        ingester.keep_snapshots = self._keep
        return ingester

    # -- the index (service/index_cache.py) ------------------------------------------------
    @property
    def index(self) -> LineageIndex:
        """The lineage index: the one pinned for the question in progress, else the current
        one (loaded, or built and cached, on first use)."""
        return self._cache.index

    def pinned(self) -> contextlib.AbstractContextManager[LineageIndex]:
        """Answer everything asked inside from one index, even if :meth:`refresh` swaps in
        a newer one meanwhile (see :meth:`IndexCache.pinned`)."""
        return self._cache.pinned()

    def refresh(self) -> bool:
        """Pick up a snapshot another process ingested; True if the index changed."""
        return self._cache.refresh()

    def refresh_soon(self, interval: float) -> None:
        """Check for a newer snapshot in a background thread, at most once per ``interval``
        seconds (see :meth:`IndexCache.refresh_soon`)."""
        self._cache.refresh_soon(interval)

    def _say(self, msg: str) -> None:
        if self._step:
            self._step(msg)

    @contextlib.contextmanager
    def reporting(self, step: Step | None) -> Iterator[None]:
        """Send the steps of long work done inside (index builds, ingests) to ``step``, for
        a progress display; the previous reporter is restored on the way out."""
        previous, self._step = self._step, step
        try:
            yield
        finally:
            self._step = previous

    # -- ingest (service/ingest.py) --------------------------------------------------------
    @property
    def keep_snapshots(self) -> int:
        """How many complete snapshots of each source the store keeps."""
        return self._ingester.keep_snapshots

    @keep_snapshots.setter
    def keep_snapshots(self, value: int) -> None:
        self._ingester.keep_snapshots = value

    def ingest(self, records: Records) -> IngestReport:
        """Store a source's records as its new snapshot and index the new genealogy."""
        return self._ingester.ingest(records)

    def ingest_hub_stats(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Ingest a hub-stats ``models.parquet``; without a path, download the current one.

        Once suspects exist (``infer`` was run), they are recomputed from the new dump, so
        that they never describe an older Hub than the declared links do."""
        report = self._ingester.ingest_hub_stats(path, progress=progress)
        self._refresh_suspects()
        return report

    def download_hub_stats(self) -> Path:
        """Download the current hub-stats dump (:meth:`ingest_hub_stats` without a path does)
        and return its path; the step reporter hears of it first."""
        return self._ingester.download_hub_stats()

    def ingest_edges(
        self,
        edges: str | os.PathLike[str],
        nodes: str | os.PathLike[str] | None = None,
        *,
        name: str | None = None,
    ) -> IngestReport:
        """Ingest a lineage edge list (``parent_id,child_id,relation``) and optional nodes
        (suspects, once they exist, recomputed as after :meth:`ingest_hub_stats`)."""
        from filiation.sources import edge_csv

        report = self._ingester.ingest(edge_csv.read(edges, nodes, name=name))
        self._refresh_suspects()
        return report

    def _refresh_suspects(self) -> None:
        """After an ingest: recompute the suspects where the store already holds some (a
        user who never asked for them does not pay for them, nor for loading the inference:
        a small ingest's process starts without it)."""
        from filiation.inference import METADATA_SOURCE

        if any(s.source == METADATA_SOURCE for s in self.store.current_snapshots()):
            from filiation.inference.run import refresh_after_ingest

            refresh_after_ingest(self, say=self._say)

    def scan(self, path: str | os.PathLike[str], *, weights: bool = False) -> ScanResult:
        """Models found under ``path`` and what each derives from; nothing is stored. With
        ``weights``, the models' weights are compared too and the links they show are added
        with ``source="weights"`` and a confidence (docs/weights.md)."""
        return self._ingester.scan(path, weights=weights)

    def ingest_scan(
        self, scan: ScanResult | str | os.PathLike[str], *, name: str | None = None
    ) -> IngestReport:
        """Record a scan's findings as a snapshot of source ``scan`` (or ``scan:NAME``)."""
        return self._ingester.ingest_scan(scan, name=name)

    def refresh_family(self, model_id: str, **options: Unpack[FamilyOptions]) -> IngestReport:
        """Bring one family up to date from the Hub API, as a snapshot of ``hub-api:<id>``:
        ``depth`` generations of descendants (1), at most ``max_models`` models (10,000),
        with ``token``, ``endpoint`` and ``backoff`` (seconds) for the calls."""
        return self._ingester.refresh_family(model_id, **options)

    def snapshots(self) -> list[dict[str, Any]]:
        """Every snapshot in the store, and whether it is one of the current ones."""
        return self._overview.snapshots()

    # -- look-ups -------------------------------------------------------------------------
    @property
    def limits(self) -> Limits:
        """Bounds of what the genealogy accepts (for interfaces to check input early)."""
        return Limits(max_id_length=MAX_ID_LENGTH, suggest_max=SUGGEST_MAX)

    def _node(self, node_id: str, kind: NodeKind | None = None) -> int:
        """The node of an id given in any case. An unknown id gets near ids as suggestions,
        unless it is longer than any id could be worth suggesting for (``SUGGEST_MAX``);
        one longer than any source keeps (``MAX_ID_LENGTH``) is not even looked up."""
        if not isinstance(node_id, str) or not node_id.strip():
            raise InvalidArgumentError("give a non-empty id")
        text = node_id.strip()
        node = self.index.lookup(node_id, kind) if len(text) <= MAX_ID_LENGTH else None
        if node is None:
            if len(text) > SUGGEST_MAX:
                raise NodeNotFoundError(text[:SUGGEST_MAX] + "…")
            raise NodeNotFoundError(node_id, summaries.suggest(self.index, node_id, kind))
        return node

    def resolve(self, node_id: str, kind: NodeKind | str | None = None) -> str:
        """The id as published, for an id given in any case."""
        node = self._node(node_id, parse_kind(kind))
        return self.index.a.id_of(node)

    def locate(self, node_id: str, kind: NodeKind | str | None = None) -> NodeRef:
        """The id as published and what it is (a model, a data set or an author)."""
        node = self._node(node_id, parse_kind(kind))
        return NodeRef(id=self.index.a.id_of(node), kind=self.index.kind_of(node))

    # -- questions ------------------------------------------------------------------------
    def _explained(self, lin: Lineage) -> Lineage:
        """``lin`` with its suspected links' signals read from the store when shown."""
        from filiation.service.evidence import suspect_evidence

        lin.evidence_reader = functools.partial(suspect_evidence, self.store, lin.index)
        return lin

    def ancestors(
        self, node_id: str, *, query: TraversalQuery | None = None, **params: Unpack[QueryArgs]
    ) -> Lineage:
        """Everything ``node_id`` derives from, nearest first.

        The walk is ``query`` (a :class:`~filiation.lineage.query.TraversalQuery`), or the
        same fields given as keywords (``relations``, ``max_depth``, ``limit``, ``kinds``,
        ``min_downloads``, ``since``, ``until``, ``kind``; see :meth:`TraversalQuery.parse`).
        ``kinds``, ``min_downloads``, ``since`` and ``until`` (creation date) keep only the
        nodes that pass them, without stopping the walk (:mod:`filiation.lineage.filters`);
        ``kind`` says what ``node_id`` is when a model, a data set and an author share it.
        """
        q = asked(query, params)
        return self._explained(walks.one_way(self.index, self._node(node_id, q.kind), False, q))

    def descendants(
        self, node_id: str, *, query: TraversalQuery | None = None, **params: Unpack[QueryArgs]
    ) -> Lineage:
        """Everything derived from ``node_id``, nearest first, best known first within a level
        (query and filters as in :meth:`ancestors`)."""
        q = asked(query, params)
        return self._explained(walks.one_way(self.index, self._node(node_id, q.kind), True, q))

    def lineage(
        self, node_id: str, *, query: TraversalQuery | None = None, **params: Unpack[QueryArgs]
    ) -> Lineage:
        """Ancestors (negative depths) and descendants (positive depths) together; ``limit``
        bounds each direction (query and filters as in :meth:`ancestors`)."""
        q = asked(query, params)
        return self._explained(walks.both_ways(self.index, self._node(node_id, q.kind), q))

    def impact(
        self, dataset: str, *, query: TraversalQuery | None = None, **params: Unpack[QueryArgs]
    ) -> Lineage:
        """Every model trained on ``dataset`` and everything derived from them.

        This is the set of models a person whose data is in the data set is concerned by.
        Depth 1 is the models trained on it; ``max_depth`` counts from the data set. Query
        and filters as in :meth:`ancestors` (``kind`` is always a data set here).
        """
        q = asked(query, params)
        return self._explained(walks.impact(self.index, self._node(dataset, NodeKind.DATASET), q))

    def graph(
        self,
        node_id: str,
        *,
        width: int = 7,
        budget: int = 40,
        opened: dict[str, int] | None = None,
        query: TraversalQuery | None = None,
        **params: Unpack[QueryArgs],
    ) -> GraphView:
        """The drawing of a family that reads at any size (:mod:`filiation.lineage.view`): at
        most ``width`` items a generation and ``budget`` in all, the rest in group nodes
        (``opened``: groups shown as a page of members, by key and offset). The query's
        ``max_depth`` bounds the generations (default 2); its ``limit`` is ignored."""
        from filiation.service import drawing

        params.setdefault("max_depth", 2)
        q = asked(query, params)
        node, store = self._node(node_id, q.kind), self.store
        return drawing.plan(
            self.index, node, q, width=width, budget=budget, opened=opened, store=store
        )

    def group(self, key: str, *, offset: int = 0, limit: int = 20) -> tuple[list[NodeSummary], int]:
        """A page of the members of a drawing's group, best known first, and their number."""
        from filiation.service import drawing

        down, rel, anchor_id = drawing.parse_group(key)
        anchor = self._node(anchor_id)
        return drawing.group_page(self.index, anchor, rel, down, offset=offset, limit=limit)

    def infer(
        self,
        dump: str | os.PathLike[str] | None = None,
        *,
        min_confidence: float = 0.5,
        limit: int | None = None,
    ) -> InferResult:
        """Suspect the parents of models that declare none, from the hub-stats metadata
        (``dump``: default, the dump the current genealogy was read from), store them as the
        source ``inferred:metadata`` apart from declared links, and return those of at least
        ``min_confidence`` (docs/inference.md). Walks follow them only when asked."""
        from filiation.inference.run import infer_genealogy

        return infer_genealogy(
            self, dump, min_confidence=min_confidence, limit=limit, say=self._say
        )

    def check(
        self,
        node_id: str | None = None,
        *,
        limit: int | None = 100,
        rules: Sequence[str] | None = None,
    ) -> CheckReport:
        """Declared links the evidence contradicts (a parent of another architecture or size,
        a child older than its parent, a GGUF-only "finetune", a one-parent merge, a cycle),
        for ``node_id``'s links or the whole genealogy (docs/verification.md)."""
        from filiation.inference.check_facts import check_genealogy

        return check_genealogy(self, node_id, limit=limit, rules=rules)

    def verify(
        self, child: str, against: str | None = None, *, token: str | None = None
    ) -> VerifyReport:
        """Test ``child``'s link to ``against`` (default: each of its parents) by a few
        tensors of both read from the Hub, and record the verdict (docs/verification.md)."""
        from filiation.inference.verification import verify

        return verify(self, child, against, token=token)

    def families(self, author: str, *, limit: int = 20) -> Families:
        """The families an author's models sit in: the root ancestors of its models (models
        with no known parent, its own base models included), with how many of its models
        descend from each, most first.

        A merge sits in several families; families made only of a cycle have no root and are
        not listed. Exact for every root: the walk goes up from the author's models
        (:mod:`filiation.lineage.families`), so it costs their ancestries, not the families.
        """
        TraversalQuery(limit=limit)  # checks the bound
        return summaries.families(self.index, self._node(author, NodeKind.AUTHOR), limit)

    def path(self, source: str, target: str, *, relations: RelationsArg = None) -> PathResult:
        """How ``target`` derives from ``source``: a shortest chain of links, if there is one."""
        rels = parse_relation_arg(relations)
        a_node = self._node(source)
        b_node = self._node(target)
        chain = self.index.path(a_node, b_node, rels)
        return PathResult(
            source=self.index.a.id_of(a_node),
            target=self.index.a.id_of(b_node),
            found=chain is not None,
            links=[link_of(self.index, e) for e in chain or []],
        )

    def export(
        self,
        node_id: str,
        format: str = "json",
        *,
        direction: str = "both",
        query: TraversalQuery | None = None,
        **params: Unpack[QueryArgs],
    ) -> Export:
        """``node_id``'s lineage as a file in one of :func:`filiation.exports.formats`
        (query and filters as in :meth:`ancestors`).

        ``kind`` says what ``node_id`` is (default: the model of that id, else the data set,
        else the author). A data set's descendants are its :meth:`impact`; an author's, what
        it published and what derives from it: the graphs of their web pages. Formats that
        describe one model (CycloneDX, SPDX, model card) write its ancestry whatever the
        direction; graph formats (JSON, GraphML, CSV) write exactly the traversal asked for.
        """
        if direction not in ("ancestors", "descendants", "both"):
            raise InvalidArgumentError(
                f"unknown direction {direction!r}; use ancestors, descendants or both"
            )
        from filiation import exports
        from filiation.exports import Export
        from filiation.service import export_input

        q = asked(query, params)
        fmt = exports.get(format)
        found = self.locate(node_id, q.kind)
        answer = export_input.answer(self, fmt, found, direction, q.with_(kind=found.kind))
        return Export(
            content=fmt.render(answer),
            media_type=fmt.media_type,
            filename=exports.filename_for(found.id, fmt),
        )

    def export_formats(self) -> dict[str, str]:
        """Every format :meth:`export` writes, by name, with its English description: what
        a download menu lists (a format added to ``filiation.exports`` appears there too)."""
        from filiation import exports

        return {name: fmt.description for name, fmt in exports.formats().items()}

    def children(
        self,
        node_id: str,
        *,
        relations: RelationsArg = None,
        limit: int | None = 50,
        offset: int = 0,
        ranking: Sequence[str] = ("downloads",),
        kind: NodeKind | str | None = None,
    ) -> list[Neighbour]:
        """Direct children, best known first (or under another ranking), one page at a time.

        Below an author, what it published (``relations=["published_by"]``); below a data
        set, the models trained on it (``relations=["trained_on"]``).
        """
        return self._neighbours(node_id, True, relations, limit, ranking, offset, kind)

    def parents(
        self,
        node_id: str,
        *,
        relations: RelationsArg = None,
        limit: int | None = None,
        offset: int = 0,
        ranking: Sequence[str] = ("downloads",),
        kind: NodeKind | str | None = None,
    ) -> list[Neighbour]:
        """Direct parents, best known first (or under another ranking), one page at a time."""
        return self._neighbours(node_id, False, relations, limit, ranking, offset, kind)

    def _neighbours(
        self,
        node_id: str,
        down: bool,
        relations: RelationsArg,
        limit: int | None,
        ranking: Sequence[str],
        offset: int,
        kind: NodeKind | str | None,
    ) -> list[Neighbour]:
        q = TraversalQuery.parse(relations=relations, limit=limit)
        if offset < 0:
            raise InvalidArgumentError(f"offset must be 0 or more, not {offset}")
        node = self._node(node_id, parse_kind(kind))
        return summaries.neighbours(self.index, node, down, q.relations, limit, ranking, offset)

    def show(
        self,
        node_id: str,
        *,
        relations: RelationsArg = None,
        limit: int = 10,
        ranking: Sequence[str] = DEFAULT_RANKING,
        kind: NodeKind | str | None = None,
    ) -> NodeDetails:
        """A node's indicators, its direct family counted per relation, and the important
        parents and children under ``ranking`` (default: descendants, downloads, likes)."""
        rels = TraversalQuery.parse(relations=relations, limit=limit).relations
        node = self._node(node_id, parse_kind(kind))
        index = self.index
        extra = self._extra(index.a.id_of(node), index.kind_of(node))
        return summaries.node_details(index, node, rels, limit, ranking, extra)

    def _extra(self, node_id: str, kind: NodeKind) -> dict[str, Any]:
        """Source-specific fields (an edge list's architecture...) from the store, in the
        snapshots of the index in use that hold any (known once per index)."""
        covering = self._cache.extra_snapshots(self.index)
        return summaries.merge_extra(self.store.read_extra(covering, kind.value, node_id.lower()))

    def search(
        self, text: str, *, limit: int = 20, kinds: Sequence[NodeKind | str] | None = None
    ) -> list[SearchHit]:
        """Ids (and authors) containing ``text``, case-insensitive, best known first."""
        return self.search_page(text, limit=limit, kinds=kinds, count=False).items

    def search_page(
        self,
        text: str,
        *,
        offset: int = 0,
        limit: int = 20,
        kinds: Sequence[NodeKind | str] | None = None,
        count: bool = True,
    ) -> SearchPage:
        """A page of :meth:`search`'s results, with their total (counted up to a bound) and
        where the next page starts; authors and data sets with what they reach."""
        from filiation.service import searching

        return searching.search_page(self.index, text, offset, limit, kinds, count=count)

    # -- the genealogy as a whole (service/overview.py) -------------------------------------
    def stats(self) -> Stats:
        """What is loaded: nodes per kind, links per relation, cycles, current snapshots."""
        return self._overview.stats()

    def entry_points(self, count: int = ENTRY_POINTS) -> EntryPoints:
        """Where to start exploring (the home page): the most derived families and the
        newest models, computed once per index."""
        return self._overview.entry_points(count)

    def health(self) -> Health:
        """What this process answers from (each ``serve --workers`` process moves on alone)."""
        return self._overview.health()


def open(db: str | os.PathLike[str] | None = None, *, load_bundled: bool = True) -> Genealogy:
    """Open the genealogy stored at ``db`` (a path or SQLAlchemy URL; default: see
    :func:`default_db`)."""
    return Genealogy(db, load_bundled=load_bundled)
