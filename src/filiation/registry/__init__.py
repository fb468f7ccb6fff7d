"""The registry of an organisation's AI systems and models, linked to the genealogy.

``Genealogy.registry`` (:class:`filiation.registry.service.Registry`) is its one entry
point; the CLI (``filiation registry``), the JSON API (``/api/registry``) and the web pages
(``/{lang}/registry``) call it. Records: :mod:`.models`; users, tokens and sessions:
:mod:`.auth` and the service; impact and ancestry: :mod:`.impact`; the Etalab inventory:
:mod:`.etalab`; models found by a scan: :mod:`.scanned`; training runs: :mod:`.runs` (the
callbacks of :mod:`filiation.training` write them). Tables: the registry section of
:mod:`filiation.store.schema` (migrations 0004 and 0006).
"""
