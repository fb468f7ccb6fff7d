"""The JSON API: a FastAPI application over :class:`filiation.Genealogy`, served by
``filiation serve``. Interactive documentation at ``/docs``, OpenAPI at ``/openapi.json``."""

from __future__ import annotations

from filiation.api.app import create_app

__all__ = ["create_app"]
