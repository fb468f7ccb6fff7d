"""The web explorer: HTML pages over the JSON API, in English and French.

``install(app)`` adds them to the FastAPI app of :func:`filiation.api.create_app`: pages
under ``/en/`` and ``/fr/`` (``/`` picks one from ``Accept-Language``), their own scripts and
styles under ``/static/``, the graph library (installed from npm by scripts/setup-web.sh)
under ``/static/vendor/``, translations under ``/i18n/{lang}.json``.

Where things are: :mod:`.site` puts the explorer together, :mod:`.views` holds one module per
kind of page, :mod:`.rendering` what every page shares (language, templates, 404 and 503
pages), :mod:`.i18n` the translations, ``templates/`` and ``static/`` the HTML, scripts and
styles.
"""

from __future__ import annotations

from filiation.web.rendering import not_found, unavailable
from filiation.web.site import install

__all__ = ["install", "not_found", "unavailable"]
