"""One family brought up to date from the Hub's API, through ``huggingface_hub``.

``filiation refresh ID`` reads the model (``model_info`` with ``baseModels`` and
``childrenModelCount``), then its children with ``list_models(filter="base_model:<relation>:
<id>")`` for each model-to-model relation, and so on down to ``depth`` generations. Only
models that declare children (``childrenModelCount`` > 0) are asked for them, so a family
costs about one call per parent.

The records become a snapshot of source ``hub-api:<root id>`` (one source per family: a
refresh of another family does not replace this one, and two refreshes of the same family can
be compared). Its links are read as the Hub states them: ``baseModels`` of each model (typed
by the Hub), declared when the card's ``base_model_relation`` says the same; data sets from
``dataset:`` tags and the card's ``datasets``. Each author of the family is typed person or
organisation by the Hub's user and organisation overview calls (two calls at most per
author); one neither knows stays untyped.

The Hub is asked politely: 429 and 5xx answers are retried with exponential back-off (the
client does it for listings; here for single models), honouring ``Retry-After``. A model the
Hub no longer has (404) is a clear error for the root and a counted skip below it; an answer
that is not the JSON the API documents stops the refresh with nothing stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypedDict

import pyarrow as pa

from filiation.domain import (
    AUTHOR_ORGANISATION,
    AUTHOR_PERSON,
    NodeKind,
    Relation,
    author_of,
    normalise_relation,
)
from filiation.errors import InvalidArgumentError, SourceError
from filiation.sources.records import (
    LINK_SCHEMA,
    NODE_SCHEMA,
    IngestReport,
    Records,
    clean_text_fields,
)

SOURCE_PREFIX = "hub-api"
#: What each model is asked for (``expand``): the family, and what ranks it.
EXPAND = [
    "author",
    "baseModels",
    "childrenModelCount",
    "cardData",
    "createdAt",
    "lastModified",
    "downloads",
    "likes",
    "trendingScore",
    "pipeline_tag",
    "library_name",
    "tags",
]
#: The relations a child can declare in its ``base_model:<relation>:<id>`` tag.
CHILD_RELATIONS = (Relation.FINETUNE, Relation.QUANTIZED, Relation.ADAPTER, Relation.MERGE)
RETRY_STATUS = (429, 500, 502, 503, 504)

SKIP_BAD_BASE = "malformed baseModels"
SKIP_BAD_ENTRY = "malformed entry"
NOTE_DEPTH = "models with children beyond --depth (not fetched)"
NOTE_CAP = "models beyond --max-models (not fetched)"


def source_name(root_id: str) -> str:
    return f"{SOURCE_PREFIX}:{root_id.lower()}"


class _Hub:
    """The client, with retries on single-model calls and one-line errors."""

    def __init__(
        self,
        token: str | None,
        endpoint: str | None,
        retries: int,
        backoff: float,
        sleep: Callable[[float], None],
    ) -> None:
        from huggingface_hub import HfApi

        self.api = HfApi(endpoint=endpoint, token=token)
        self.endpoint = self.api.endpoint
        self.token = token
        self.retries, self.backoff, self.sleep = retries, backoff, sleep
        self.calls = 0

    def _explain(self, exc: BaseException, what: str) -> SourceError:
        from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

        if isinstance(exc, OfflineModeIsEnabled):
            return SourceError(
                f"cannot refresh {what}: huggingface_hub is in offline mode (HF_HUB_OFFLINE); "
                "unset it to reach the Hub"
            )
        if isinstance(exc, HfHubHTTPError):
            status = exc.response.status_code if exc.response is not None else "?"
            hint = {
                401: "give a valid token with --token (or HF_TOKEN)",
                403: "give a token allowed to read it with --token",
                429: "the Hub is rate limiting; wait a few minutes, or give a token",
            }.get(status, "try again later")  # type: ignore[call-overload]
            return SourceError(f"the Hub answered {status} for {what}; {hint}")
        if isinstance(exc, (ValueError, TypeError, KeyError, AttributeError)):
            return SourceError(
                f"the Hub's answer for {what} is not the JSON its API documents "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''});"
                " nothing was stored"
            )
        return SourceError(
            f"cannot reach the Hub at {self.endpoint} for {what} "
            f"({type(exc).__name__}); are you offline? Check the connection, a proxy, or "
            "HF_ENDPOINT"
        )

    def _wait(self, exc: Any, attempt: int) -> float:
        try:
            after = float(exc.response.headers.get("Retry-After"))
        except (AttributeError, TypeError, ValueError):
            after = None
        wait = self.backoff * 2**attempt if after is None else after
        return float(min(max(wait, 0.0), 60.0))

    def model(self, model_id: str) -> Any | None:
        """``model_info`` with retries; None when the Hub does not have it (404)."""
        return self._one(
            model_id,
            lambda: self.api.model_info(model_id, expand=EXPAND, token=self.token),  # type: ignore[arg-type]
        )

    def author_type(self, name: str) -> str | None:
        """``person`` or ``organisation`` as the Hub says (its user and organisation overview
        calls: each answers 404 for the other kind), None when neither knows the name."""
        if self._one(name, lambda: self.api.get_user_overview(name, token=self.token)):
            return AUTHOR_PERSON
        if self._one(name, lambda: self.api.get_organization_overview(name, token=self.token)):
            return AUTHOR_ORGANISATION
        return None

    def _one(self, what: str, call: Callable[[], Any]) -> Any | None:
        """One call with retries on 429 and 5xx; None when the Hub has no such thing (404)."""
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

        for attempt in range(self.retries + 1):
            self.calls += 1
            try:
                return call()
            except RepositoryNotFoundError:
                return None
            except HfHubHTTPError as exc:
                status = exc.response.status_code if exc.response is not None else None
                if status == 404:
                    return None
                if status in RETRY_STATUS and attempt < self.retries:
                    self.sleep(self._wait(exc, attempt))
                    continue
                raise self._explain(exc, what) from None
            except Exception as exc:
                raise self._explain(exc, what) from None
        raise AssertionError("unreachable")

    def children(self, model_id: str, relation: Relation) -> list[Any]:
        """Every model whose ``base_model:<relation>:<id>`` tag names ``model_id`` (all pages)."""
        what = f"the {relation.value} children of {model_id}"
        self.calls += 1
        try:
            # The client retries 429 and 5xx itself, page by page, with its own back-off
            # (honouring Retry-After); retrying again here would multiply the waits.
            return list(
                self.api.list_models(
                    filter=f"base_model:{relation.value}:{model_id}",
                    expand=EXPAND,  # type: ignore[arg-type]
                    token=self.token,
                )
            )
        except Exception as exc:
            raise self._explain(exc, what) from None


def _author(info: Any) -> str | None:
    return info.author if isinstance(info.author, str) else author_of(info.id)


def _card(info: Any) -> dict[str, Any]:
    card = getattr(info, "card_data", None)
    if card is None:
        return {}
    if hasattr(card, "to_dict"):
        card = card.to_dict()
    return card if isinstance(card, dict) else {}


def _parents(info: Any, report: IngestReport) -> tuple[Relation | None, list[str]]:
    """The ``baseModels`` of a model: its relation and parent ids (malformed: counted)."""
    bm = getattr(info, "base_models", None)
    if bm is None:
        return None, []
    if isinstance(bm, dict):
        rel = normalise_relation(str(bm.get("relation") or "unspecified"))
        models = bm.get("models")
        if (
            rel is None
            or rel in (Relation.TRAINED_ON, Relation.PUBLISHED_BY)
            or not isinstance(models, list)
        ):
            report.skip(SKIP_BAD_BASE)
            return None, []
        ids = [m.get("id") if isinstance(m, dict) else m for m in models]
    elif isinstance(bm, list):  # an older answer: a plain list of ids
        rel, ids = (Relation.MERGE if len(bm) > 1 else Relation.UNSPECIFIED), list(bm)
    else:
        report.skip(SKIP_BAD_BASE)
        return None, []
    good = [i.strip() for i in ids if isinstance(i, str) and i.strip()]
    report.skip(SKIP_BAD_BASE, len(ids) - len(good))
    return rel, good


def _datasets(info: Any, card: dict[str, Any]) -> list[tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for tag in getattr(info, "tags", None) or []:
        if isinstance(tag, str) and tag.startswith("dataset:") and tag[8:].strip():
            out.setdefault(tag[8:].strip().lower(), (tag[8:].strip(), "tags"))
    ds = card.get("datasets")
    for name in [ds] if isinstance(ds, str) else ds if isinstance(ds, list) else []:
        if isinstance(name, str) and name.strip():
            out.setdefault(name.strip().lower(), (name.strip(), "cardData.datasets"))
    return list(out.values())


def _naive(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class FamilyOptions(TypedDict, total=False):
    """What a refresh may say about how to ask the Hub (defaults: :func:`fetch_family`'s);
    :meth:`filiation.Genealogy.refresh_family` passes them on as given."""

    depth: int
    token: str | None
    endpoint: str | None
    max_models: int
    backoff: float


def fetch_family(
    root_id: str,
    *,
    depth: int = 1,
    token: str | None = None,
    endpoint: str | None = None,
    max_models: int = 10_000,
    retries: int = 4,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
) -> Records:
    """The family of ``root_id`` as the Hub states it now: the model, its parents' ids, and
    its descendants down to ``depth`` generations (at most ``max_models`` models)."""
    if not isinstance(root_id, str) or not root_id.strip():
        raise InvalidArgumentError("give a model id, e.g. author/name")
    if depth < 0 or max_models < 1:
        raise InvalidArgumentError("depth must be 0 or more and max_models 1 or more")
    root_id = root_id.strip()
    hub = _Hub(token, endpoint, retries, backoff, sleep)
    report = IngestReport(source=source_name(root_id), label="")
    root = hub.model(root_id)
    if root is None:
        raise SourceError(
            f"{root_id!r} is not on the Hub at {hub.endpoint} (deleted, renamed or private; "
            "a private model needs --token)"
        )
    infos: dict[str, Any] = {root.id.lower(): root}
    found_by: dict[str, tuple[str, Relation]] = {}
    frontier = [root]
    for level in range(depth):
        nxt: list[Any] = []
        for info in frontier:
            count = _int(getattr(info, "children_model_count", None))
            if count == 0:
                continue
            for rel in CHILD_RELATIONS:
                if progress:
                    progress(f"{info.id}: {rel.value} children (generation {level + 1})")
                for child in hub.children(info.id, rel):
                    key = child.id.lower() if isinstance(child.id, str) else None
                    if not key:
                        report.skip(SKIP_BAD_ENTRY)
                        continue
                    if key in infos:
                        continue
                    if len(infos) >= max_models:
                        report.note(NOTE_CAP)
                        continue
                    infos[key] = child
                    found_by[key] = (info.id, rel)
                    nxt.append(child)
        frontier = nxt
    report.note(
        NOTE_DEPTH,
        sum(1 for i in frontier if (_int(getattr(i, "children_model_count", None)) or 0) > 0),
    )
    report.rows_read = len(infos)
    report.label = f"Hub API {hub.endpoint}, {root.id}, depth {depth}"
    authors: dict[str, str | None] = {}
    for info in infos.values():
        name = _author(info)
        if name and name.lower() not in authors and len(authors) < max_models:
            if progress:
                progress(f"{name}: person or organisation")
            authors[name.lower()] = hub.author_type(name)
    records = _records(root.id, infos, found_by, report, authors)
    records.report.notes["api calls"] = hub.calls
    return records


def _records(
    root_id: str,
    infos: dict[str, Any],
    found_by: dict[str, tuple[str, Relation]],
    report: IngestReport,
    author_types: dict[str, str | None],
) -> Records:
    nodes: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    seen_links: set[tuple[str, str, str]] = set()

    def link(
        child: str, parent: str, kind: NodeKind, rel: Relation, declared: bool, ev: str
    ) -> None:
        k = (child.lower(), parent.lower(), rel.value)
        if k in seen_links or child.lower() == parent.lower():
            return
        seen_links.add(k)
        links.append(
            {
                "child_kind": NodeKind.MODEL.value,
                "child_key": child.lower(),
                "child_id": child,
                "parent_kind": kind.value,
                "parent_key": parent.lower(),
                "parent_id": parent,
                "relation": rel.value,
                "declared": declared,
                "evidence": ev,
            }
        )

    for key, info in infos.items():
        card = _card(info)
        tags = [t for t in getattr(info, "tags", None) or [] if isinstance(t, str)]
        lic = next((t[8:] for t in tags if t.startswith("license:")), None)
        children = _int(getattr(info, "children_model_count", None))
        nodes.append(
            {
                "kind": NodeKind.MODEL.value,
                "key": key,
                "id": info.id,
                "author": _author(info),
                "created_at": _naive(getattr(info, "created_at", None)),
                "last_modified": _naive(getattr(info, "last_modified", None)),
                "pipeline_tag": getattr(info, "pipeline_tag", None),
                "library_name": getattr(info, "library_name", None),
                "license": lic,
                "downloads": _int(getattr(info, "downloads", None)),
                "downloads_all_time": None,
                "likes": _int(getattr(info, "likes", None)),
                "trending_score": None,
                "parameters": None,
                "extra": json.dumps({"children_model_count": children})
                if children is not None
                else None,
            }
        )
        rel, parents = _parents(info, report)
        card_rel = normalise_relation(card.get("base_model_relation"))  # type: ignore[arg-type]
        for parent in parents:
            assert rel is not None
            link(info.id, parent, NodeKind.MODEL, rel, card_rel == rel, "baseModels")
        if key in found_by and not parents:
            # baseModels missing from the answer: the listing's filter still says how
            parent, frel = found_by[key]
            link(info.id, parent, NodeKind.MODEL, frel, False, "list_models filter")
        for name, ev in _datasets(info, card):
            link(info.id, name, NodeKind.DATASET, Relation.TRAINED_ON, True, ev)
    # Authors the Hub typed: a row of their own, so that the type reaches the author's node.
    names = {a.lower(): a for a in (_author(i) for i in infos.values()) if a}
    for key, kind in author_types.items():
        if kind is not None and key in names:
            nodes.append(
                {
                    "kind": NodeKind.AUTHOR.value,
                    "key": key,
                    "id": names[key],
                    "extra": json.dumps({"author_type": kind}),
                }
            )
    report.nodes, report.links = len(nodes), len(links)
    return Records(
        source=source_name(root_id),
        label=report.label,
        taken_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
        nodes=clean_text_fields(pa.Table.from_pylist(nodes, NODE_SCHEMA), report),
        links=pa.Table.from_pylist(links, LINK_SCHEMA),
        report=report,
    )
