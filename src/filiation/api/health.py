"""What is loaded and whether the server is up: ``/api/stats``, ``/api/snapshots``,
``/api/health``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from filiation.http.context import GenealogyDep
from filiation.results import Health, Stats

from .responses import ERRORS
from .schemas import SnapshotOut

router = APIRouter(prefix="/api", responses=ERRORS, tags=["genealogy"])


@router.get("/stats", response_model=Stats)
def stats(g: GenealogyDep) -> Stats:
    """What is loaded: nodes per kind, links per relation, snapshots, cycles."""
    return g.stats()


@router.get("/snapshots", response_model=list[SnapshotOut])
def snapshots(g: GenealogyDep) -> list[dict[str, Any]]:
    """Every snapshot in the store, and which ones make up the current genealogy."""
    return g.snapshots()


@router.get("/health", response_model=Health)
async def health(g: GenealogyDep) -> Health:
    """Answers as soon as the server is up (the genealogy is loaded before it starts), with
    the snapshots this process answers from (each ``serve --workers`` process moves to a new
    snapshot on its own, within ``--refresh`` seconds) and the process's id."""
    return g.health()
