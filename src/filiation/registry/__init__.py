"""The registry of an organisation's AI systems and models, linked to the genealogy.

``Genealogy.registry`` (:class:`filiation.registry.service.Registry`) is its one entry
point; the CLI (``filiation registry``), the JSON API (``/api/registry``) and the web pages
(``/{lang}/registry``) call it. Records: :mod:`.models`; users, tokens and sessions:
:mod:`.auth` and the service; impact and ancestry: :mod:`.impact`; the Etalab inventory:
:mod:`.etalab`. Tables: the registry section of :mod:`filiation.store.schema` (migration 0004).
"""
