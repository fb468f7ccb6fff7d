"""The JSON API: a FastAPI application over :class:`filiation.Genealogy`, served by
``filiation serve``. Interactive documentation at ``/docs``, OpenAPI at ``/openapi.json``.

Where things are: :mod:`.app` builds the app; the endpoints are grouped by what they are
about (:mod:`.nodes`, :mod:`.lineage`, :mod:`.exports`, :mod:`.health`, :mod:`.rights`,
:mod:`.registry`), over :mod:`.params` (the parameters, declared once) and :mod:`.responses`
(how answers are encoded and where they run).

Two kinds of routes, by how their work grows:

* **bounded** (a node's page, search, a page of children or parents): the index answers in a
  fraction of a millisecond, so they are ``async`` and answer on the event loop; handing them
  to the thread pool would cost more CPU than the answer (measured in benchmarks/README.md).
* **growing with a family** (exports, paths, families, and a traversal asked for more than
  :data:`~filiation.api.responses.INLINE_NODES` nodes or for all of them): they run in the
  thread pool, so that a walk through tens of thousands of models never holds up the bounded
  requests of other clients. A traversal with a small ``limit`` is bounded (a few
  milliseconds through the largest family) and answers on the loop: in the pool it would
  wait for the interpreter lock behind the loop's own requests, several times longer than
  its work.
"""

from __future__ import annotations

from filiation.api.app import create_app

__all__ = ["create_app"]
