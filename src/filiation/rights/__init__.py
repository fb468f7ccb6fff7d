"""Rights requests: who must answer a GDPR request that follows data into derived models.

:mod:`.dossier` turns a genealogy into the affected set and the publishers to contact,
:mod:`.letters` writes the requests, :mod:`.exports` renders Markdown, CSV and PDF, and
:mod:`.followup` records what happened with each publisher. :mod:`.watch` and :mod:`.history`
follow a family over time.
"""
