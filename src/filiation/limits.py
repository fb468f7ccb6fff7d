"""Every limit filiation puts on what it reads and serves, stated in one place.

Hub metadata, files on disk and web callers are not trusted (docs/security.md): each limit
below bounds what one hostile value, file or request can cost. They are module constants,
read where they apply, so one edit here (or, for a deployment, the environment variable
named beside the value, read once at import) changes the behaviour everywhere; docs/deploy.md
lists them. A value over a limit is never silently cut where that would change its meaning:
ids over the limit are skipped and counted; descriptive fields (author, licence, library,
task) are shortened and counted; files are reported as unreadable; requests get a 4xx.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta


def _env_int(name: str, default: int) -> int:
    """An integer from the environment (``FILIATION_<NAME>``), else ``default``; a value that
    is not a positive integer is refused at start rather than ignored."""
    raw = os.environ.get(f"FILIATION_{name}")
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"FILIATION_{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"FILIATION_{name} must be more than 0, not {value}")
    return value


# -- ingest: what one row of Hub metadata (or one scanned file) may put in the store ---------
#: Characters of an id (model, data set, parent); longer ids are skipped and counted.
MAX_ID_LENGTH = 512
#: Characters of a descriptive field (author, licence, task, library); longer values are
#: shortened to this and counted in the ingest report. Hub authors are at most 96.
MAX_FIELD_LENGTH = _env_int("MAX_FIELD_LENGTH", 256)
#: Characters of a model card's JSON that are parsed for parents and data sets; a longer
#: card is ignored (counted as broken): real cards' front matter is a few kilobytes.
MAX_CARD_LENGTH = _env_int("MAX_CARD_LENGTH", 1_000_000)

# -- scan: files on disk ------------------------------------------------------------------------
#: Bytes of a text file (README.md, config.json, adapter_config.json, mergekit_config.yml)
#: the scan reads; a larger one is reported as unreadable, not read.
MAX_SCAN_TEXT_BYTES = _env_int("MAX_SCAN_TEXT_BYTES", 8 * 2**20)
#: Items of one GGUF metadata array (a tokenizer's vocabulary is up to ~260,000).
MAX_GGUF_ARRAY_ITEMS = _env_int("MAX_GGUF_ARRAY_ITEMS", 4 * 2**20)
#: Bytes of one GGUF metadata string.
MAX_GGUF_STRING_BYTES = _env_int("MAX_GGUF_STRING_BYTES", 2**20)
#: Metadata entries of one GGUF file.
MAX_GGUF_KEYS = _env_int("MAX_GGUF_KEYS", 65_536)

# -- web and API callers ------------------------------------------------------------------------
#: Largest integer a query parameter accepts (offsets, download bounds): JSON's 64-bit range.
MAX_QUERY_INT = 2**63 - 1
#: Bytes of a request body (form or JSON) the server reads; a larger one gets 413 before
#: anything reads it. Registry forms and records are a few kilobytes.
MAX_BODY_BYTES = _env_int("MAX_BODY_BYTES", 256 * 1024)
#: Bytes of an Etalab inventory CSV uploaded to ``/registry/import`` (the one large body).
MAX_IMPORT_BYTES = _env_int("MAX_IMPORT_BYTES", 20 * 2**20)
#: Affected models a PDF dossier lists in full (the Markdown and CSV list them all).
PDF_MAX_MODELS = _env_int("PDF_MAX_MODELS", 5_000)
#: Costly exports (PDF dossiers) made at once per server process, for any caller: one
#: anonymous request cannot hold more than this many workers (filiation/budget.py).
COSTLY_AT_ONCE = _env_int("COSTLY_AT_ONCE", 1)
#: Seconds a costly export waits for its turn before it is refused (503 with Retry-After).
COSTLY_WAIT_SECONDS = _env_int("COSTLY_WAIT_SECONDS", 30)

# -- rights follow-up ---------------------------------------------------------------------------
#: Days before today a follow-up date may be (requests older than the GDPR are not follow-ups).
FOLLOWUP_PAST_DAYS = _env_int("FOLLOWUP_PAST_DAYS", 3650)
#: Days after today a follow-up date may be (a state is something that happened; one day
#: leaves room for time zones).
FOLLOWUP_FUTURE_DAYS = _env_int("FOLLOWUP_FUTURE_DAYS", 1)

#: The instants a Python ``datetime`` can hold, in microseconds since 1970 (UTC), ends
#: included: a date argument outside them is refused, a dump's date outside them is not a date.
DATETIME_MICROS: tuple[int, int] = (
    (datetime.min.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC))
    // timedelta(microseconds=1),
    (datetime.max.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC))
    // timedelta(microseconds=1),
)
