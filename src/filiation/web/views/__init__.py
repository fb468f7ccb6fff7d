"""The web explorer's pages, one module per kind of page.

Each module has a ``router`` whose paths carry no language: :func:`filiation.web.install`
mounts every router under ``/en`` and ``/fr``, and a view learns its language from the
:data:`~filiation.web.rendering.Lang` dependency.

* :mod:`.home`: the home page and search;
* :mod:`.model`, :mod:`.dataset`, :mod:`.author`: a node's page;
* :mod:`.dossier`: the rights dossier and its follow-up form;
* :mod:`.login`: logging in and out of the registry;
* :mod:`.registry_models`, :mod:`.registry_systems`, :mod:`.registry_data`: the registry's
  lists, records and forms, and its impact, data set and import pages
  (:mod:`.registry_common` holds what they share, the login guard first).
"""

from __future__ import annotations

from fastapi import APIRouter

from . import (
    author,
    dataset,
    dossier,
    home,
    login,
    model,
    registry_data,
    registry_models,
    registry_systems,
)

#: Every page's router, in the order they are mounted.
ROUTERS: tuple[APIRouter, ...] = (
    home.router,
    model.router,
    dataset.router,
    author.router,
    dossier.router,
    login.router,
    registry_models.router,
    registry_systems.router,
    registry_data.router,
)
