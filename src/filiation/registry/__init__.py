"""The registry of an organisation's AI systems and models, linked to the genealogy.

``Genealogy.registry`` (:class:`filiation.registry.service.Registry`) is its one entry
point; the CLI (``filiation registry``: :mod:`filiation.cli.registry`), the JSON API
(``/api/registry``) and the web pages (``/{lang}/registry``) call it. They import its
public names from :mod:`filiation.service.registry` and its errors from
:mod:`filiation.errors`, never this package's modules (``tests/test_imports.py``). It is
made of: users, tokens, sessions and logins (:mod:`.users`, password hashing in :mod:`.auth`);
registered models, systems, uses and flagged data sets (:mod:`.records`, with the write API
its helper modules use); the history entry of every change (:mod:`.base`). Record types and
input validation: :mod:`.models` (coded values: :mod:`.vocabulary`); impact and ancestry:
:mod:`.impact`; the Etalab inventory: :mod:`.etalab`; models found by a scan:
:mod:`.scanned`; training runs: :mod:`.runs` (the callbacks of :mod:`filiation.training`
write them); where automatically recorded models come from: :mod:`.origins`. Tables: the
registry section of :mod:`filiation.store.schema` (migrations 0004 and 0006).
"""
