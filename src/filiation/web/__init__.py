"""The web explorer: HTML pages over the JSON API, in English and French.

``install(app)`` adds them to the FastAPI app of :func:`filiation.api.create_app`: pages
under ``/en/`` and ``/fr/`` (``/`` picks one from ``Accept-Language``), their own scripts and
styles under ``/static/``, the graph library (installed from npm by scripts/setup-web.sh)
under ``/static/vendor/``, translations under ``/i18n/{lang}.json``.
"""

from __future__ import annotations

from filiation.web.pages import install, not_found, unavailable

__all__ = ["install", "not_found", "unavailable"]
