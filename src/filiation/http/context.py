"""The app's one :class:`Genealogy` (and its registry), as FastAPI dependencies.

:func:`filiation.api.create_app` puts the genealogy on ``app.state``; every route of the API
and every page reads it from there through these, never through a global.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from filiation.service import Genealogy
from filiation.service.registry import Registry


def genealogy_of(request: Request) -> Genealogy:
    """The one :class:`Genealogy` of the app (see :func:`filiation.api.create_app`)."""
    return request.app.state.genealogy  # type: ignore[no-any-return]


def registry_of(request: Request) -> Registry:
    """The registry of the app's genealogy."""
    return genealogy_of(request).registry


def root_path(request: Request) -> str:
    """Where the app is mounted (``--root-path`` behind a proxy), without a trailing slash:
    the start of every link a page or an answer gives."""
    return str(request.scope.get("root_path", "")).rstrip("/")


async def _genealogy(request: Request) -> Genealogy:
    """:func:`genealogy_of` as a dependency: ``async`` so that FastAPI calls it on the event
    loop; a plain function would go through the thread pool on every request (about 0.1 ms
    of CPU and two thread switches, for an attribute read)."""
    return genealogy_of(request)


GenealogyDep = Annotated[Genealogy, Depends(_genealogy)]
RegistryDep = Annotated[Registry, Depends(registry_of)]
