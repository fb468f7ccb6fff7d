"""Costly work (a PDF dossier) computed a few at a time, whoever asks for it.

A PDF of a family of thousands of models takes seconds of a core. A server answers many
callers from a few workers: without a bound, a handful of anonymous requests for PDFs would
hold every worker while others wait. :func:`costly` lets
:data:`filiation.limits.COSTLY_AT_ONCE` such jobs run at once per process; the
next ones wait in line up to :data:`filiation.limits.COSTLY_WAIT_SECONDS`, then are
refused with :class:`filiation.errors.BusyError` (the API answers 503 with Retry-After).
Inputs are bounded too (fields at ingest, models per PDF: limits.py), so each job's time is.
In the command line there is one caller, who never waits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from filiation.errors import BusyError
from filiation.limits import COSTLY_AT_ONCE, COSTLY_WAIT_SECONDS

_slots = threading.BoundedSemaphore(COSTLY_AT_ONCE)


@contextmanager
def costly(what: str) -> Iterator[None]:
    """Run the block when a slot is free; :class:`BusyError` after waiting too long."""
    if not _slots.acquire(timeout=COSTLY_WAIT_SECONDS):
        raise BusyError(
            f"too many {what} being made right now; try again in a minute",
            retry_after=max(1, int(COSTLY_WAIT_SECONDS)),
        )
    try:
        yield
    finally:
        _slots.release()
