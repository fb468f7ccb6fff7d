"""What the JSON API (``filiation.api``) and the web pages (``filiation.web``) share about
HTTP: the request's :class:`~filiation.service.Genealogy` (:mod:`.context`), who sends a
request and what it may do (:mod:`.auth`: sessions, API tokens, CSRF), and how an id typed
in a path is resolved (:mod:`.ids`).

Both interfaces import this package; neither imports the other, so a page never depends on
how the API declares its routes, and the other way round.
"""
