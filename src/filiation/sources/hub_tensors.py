"""A few tensors of a Hub model, read by byte ranges: the evidence ``filiation verify`` needs.

A model on the Hub is gigabytes; the weights test needs a few rows of a few matrices. So this
reads only what it must, through ``huggingface_hub``'s own HTTP client (its session, its
headers and token, its errors, ``HF_ENDPOINT``):

1. ``HEAD`` of ``model.safetensors``, else of ``model.safetensors.index.json`` (the sharded
   layout, whose ``weight_map`` names the shard of each tensor): the file exists, its size;
2. per file (every shard), its header by two range requests (the 8-byte little-endian
   header length, then the JSON header), checked against the file's size;
3. per tensor, the byte range of the rows asked for (contiguous rows coalesced into one
   request), decoded to ``float32`` numpy arrays from F64, F32, F16 or BF16.

Every byte received is counted (``bytes_read``), which ``verify`` reports. Nothing is
unpickled and nothing is written to disk. A header that lies (offsets outside the file, a
length that does not match the shape and dtype, an unknown dtype) raises a ``SourceError``
naming the file and the tensor.
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from filiation.errors import NodeNotFoundError, SourceError

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
#: A safetensors header larger than this is not a model's header (the format's own limit).
MAX_HEADER = 100_000_000
#: Bytes per element of the float dtypes we decode.
FLOAT_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}
_OTHER_DTYPES = {
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
    "U16": 2,
    "U32": 4,
    "U64": 8,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}

Rows = int | slice | Sequence[int] | np.ndarray | None
#: Range requests in flight at once while reading the rows of one tensor.
PARALLEL_REQUESTS = 8


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lies: its file, dtype, shape and absolute byte range in that file."""

    file: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int

    @property
    def row_bytes(self) -> int:
        """Bytes of one row (the first axis); a scalar or vector is one row."""
        if len(self.shape) <= 1:
            return self.end - self.start
        return (self.end - self.start) // self.shape[0]


def _row_runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Sorted unique row numbers as half-open runs ``[a, b)`` of consecutive rows."""
    if not len(rows):
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate(([0], breaks))
    ends = np.concatenate((breaks, [len(rows)]))
    return [(int(rows[s]), int(rows[e - 1]) + 1) for s, e in zip(starts, ends, strict=True)]


def decode(raw: bytes, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """Raw little-endian safetensors bytes as a ``float32`` array of ``shape``."""
    if dtype == "BF16":
        half = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        out = half.view(np.float32)
    elif dtype == "F16":
        out = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    elif dtype == "F32":
        out = np.frombuffer(raw, dtype="<f4").astype(np.float32, copy=True)
    elif dtype == "F64":
        out = np.frombuffer(raw, dtype="<f8").astype(np.float32)
    else:
        raise SourceError(f"dtype {dtype} is not a float dtype the weights test reads")
    return out.reshape(shape)


class HubTensorSource:
    """The tensors of one Hub model, read lazily by byte ranges (a weights ``TensorSource``).

    ``names()``, ``shape(name)`` and ``dtype(name)`` come from the headers; ``read(name,
    rows)`` fetches only the rows asked for. ``bytes_read`` and ``requests`` count what went
    over the network (headers included).
    """

    def __init__(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        endpoint: str | None = None,
        token: str | bool | None = None,
        timeout: float = 30.0,
    ) -> None:
        from huggingface_hub import constants

        self.repo_id = repo_id
        self.revision = revision
        self.endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
        self.token = token
        self.timeout = timeout
        self.label = repo_id
        self.bytes_read = 0
        self.requests = 0
        self._count = threading.Lock()
        self._entries: dict[str, TensorEntry] | None = None
        self._weight_map: dict[str, str] = {}
        self._headers_read: set[str] = set()
        self._sizes: dict[str, int] = {}
        self.sharded = False
        self._open()

    # -- HTTP, through huggingface_hub's client -------------------------------------------
    def _url(self, filename: str) -> str:
        from huggingface_hub import hf_hub_url

        return hf_hub_url(self.repo_id, filename, revision=self.revision, endpoint=self.endpoint)

    def _explain(self, err: Exception, filename: str) -> SourceError:
        return SourceError(
            f"cannot read {filename} of {self.repo_id!r} from {self.endpoint}: {err} "
            "(check the id, give --token for a private or gated model, or set HF_ENDPOINT)"
        )

    def _size(self, filename: str) -> int | None:
        """The file's size, or None when the repository has no such file."""
        from huggingface_hub import get_hf_file_metadata
        from huggingface_hub.errors import (
            EntryNotFoundError,
            GatedRepoError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        self.requests += 1
        try:
            meta = get_hf_file_metadata(self._url(filename), token=self.token, timeout=self.timeout)
        except GatedRepoError as err:
            raise self._explain(err, filename) from err
        except RepositoryNotFoundError as err:
            raise NodeNotFoundError(self.repo_id) from err
        except (EntryNotFoundError, RevisionNotFoundError):
            return None
        except Exception as err:  # HTTP errors and the client's transport errors
            raise self._explain(err, filename) from err
        if meta.size is None:
            raise SourceError(f"the Hub gave no size for {filename} of {self.repo_id!r}")
        return int(meta.size)

    def _get(self, filename: str, start: int | None = None, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of a file (the whole file when no range)."""
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        headers = build_hf_headers(token=self.token)
        if start is not None and end is not None:
            headers["Range"] = f"bytes={start}-{end - 1}"
        with self._count:
            self.requests += 1
        try:
            response = get_session().get(
                self._url(filename), headers=headers, timeout=self.timeout, follow_redirects=True
            )
            hf_raise_for_status(response)
        except Exception as err:  # HTTP errors and the client's transport errors
            raise self._explain(err, filename) from err
        body = response.content
        with self._count:
            self.bytes_read += len(body)
        if start is not None and end is not None:
            if response.status_code != 206 and len(body) != end - start:
                raise SourceError(
                    f"the server at {self.endpoint} ignored a range request on {filename} "
                    f"of {self.repo_id!r} (status {response.status_code}); verify reads by ranges"
                )
            if len(body) != end - start:
                raise SourceError(
                    f"{filename} of {self.repo_id!r}: asked for {end - start} bytes at {start}, "
                    f"got {len(body)} (truncated file?)"
                )
        return body

    # -- headers --------------------------------------------------------------------------
    def _open(self) -> None:
        size = self._size(SINGLE_FILE)
        if size is not None:
            self._sizes[SINGLE_FILE] = size
            self._entries = {}
            self._header(SINGLE_FILE)
            return
        if self._size(INDEX_FILE) is None:
            raise SourceError(
                f"{self.repo_id!r} has neither {SINGLE_FILE} nor {INDEX_FILE}: verify reads "
                "safetensors weights only"
            )
        try:
            index = json.loads(self._get(INDEX_FILE))
            weight_map = index["weight_map"]
            if not isinstance(weight_map, dict):
                raise TypeError("weight_map is not an object")
        except (ValueError, KeyError, TypeError) as err:
            raise SourceError(
                f"{INDEX_FILE} of {self.repo_id!r} is not a usable index: {err}"
            ) from err
        for name, file in weight_map.items():
            if not isinstance(file, str) or "/" in file or not file.endswith(".safetensors"):
                raise SourceError(f"{INDEX_FILE} of {self.repo_id!r} names {file!r} for {name}")
        self._weight_map = dict(weight_map)
        self.sharded = True
        self._entries = {}
        self._all_headers()

    def _header(self, filename: str) -> None:
        """Read one file's header and record where each of its tensors lies."""
        if filename in self._headers_read:
            return
        assert self._entries is not None
        if filename not in self._sizes:
            size = self._size(filename)
            if size is None:
                raise SourceError(f"{self.repo_id!r}: the index names {filename}, which is absent")
            self._sizes[filename] = size
        size = self._sizes[filename]
        where = f"{filename} of {self.repo_id!r}"
        if size < 8:
            raise SourceError(f"{where} is {size} bytes: too short for a safetensors file")
        (n,) = struct.unpack("<Q", self._get(filename, 0, 8))
        if n > MAX_HEADER or 8 + n > size:
            raise SourceError(f"{where}: header length {n} does not fit a file of {size} bytes")
        try:
            header = json.loads(self._get(filename, 8, 8 + n))
            if not isinstance(header, dict):
                raise TypeError("the header is not an object")
        except (ValueError, TypeError) as err:
            raise SourceError(f"{where}: the header is not JSON ({err})") from err
        base = 8 + n
        for name, info in header.items():
            if name == "__metadata__":
                continue
            self._entries[name] = self._entry(where, filename, name, info, base, size)
        self._headers_read.add(filename)

    @staticmethod
    def _entry(
        where: str, filename: str, name: str, info: Any, base: int, size: int
    ) -> TensorEntry:
        try:
            dtype = str(info["dtype"])
            shape = tuple(int(d) for d in info["shape"])
            lo, hi = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError) as err:
            raise SourceError(f"{where}: tensor {name} has a malformed entry ({err})") from err
        width = FLOAT_DTYPES.get(dtype) or _OTHER_DTYPES.get(dtype)
        if width is None:
            raise SourceError(f"{where}: tensor {name} has an unknown dtype {dtype!r}")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if any(d < 0 for d in shape) or lo < 0 or hi - lo != count * width or base + hi > size:
            raise SourceError(
                f"{where}: tensor {name} claims bytes {lo}-{hi} for {dtype}{list(shape)}, "
                f"which does not match its shape or lies outside the file ({size} bytes)"
            )
        return TensorEntry(filename, dtype, shape, base + lo, base + hi)

    def _all_headers(self) -> dict[str, TensorEntry]:
        assert self._entries is not None
        for file in sorted(set(self._weight_map.values())):
            self._header(file)
        return self._entries

    def entry(self, name: str) -> TensorEntry:
        """Where ``name`` lies; reads only the header of its shard."""
        assert self._entries is not None
        if name not in self._entries and name in self._weight_map:
            self._header(self._weight_map[name])
        try:
            return self._entries[name]
        except KeyError:
            raise SourceError(f"{self.repo_id!r} has no tensor {name!r}") from None

    # -- the weights TensorSource protocol (filiation.inference.weights) -------------------
    def names(self) -> list[str]:
        """Every float tensor's name (the weights test reads nothing else)."""
        entries = self._all_headers()
        return sorted(n for n, e in entries.items() if e.dtype in FLOAT_DTYPES)

    def shape(self, name: str) -> tuple[int, ...]:
        return self.entry(name).shape

    def storage(self, name: str) -> str:
        """How the tensor is stored: ``F32``, ``F16``, ``BF16`` or ``F64``."""
        return self.entry(name).dtype

    dtype = storage

    def requantize(self, name: str, rows: Sequence[int], values: np.ndarray) -> np.ndarray | None:
        """``values`` rounded to this model's storage precision; None for full precision."""
        kind = self.storage(name)
        if kind == "F16":
            return np.asarray(values, np.float32).astype(np.float16).astype(np.float32)
        if kind == "BF16":
            bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
            rounded = bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))
            return (rounded & np.uint32(0xFFFF0000)).view(np.float32)
        return None

    def read(self, name: str, rows: Rows = None, max_cols: int | None = None) -> np.ndarray:
        """The tensor (or the rows asked for, in the order asked) as ``float32``, with at most
        ``max_cols`` leading columns of each row (tensors of more than two axes are seen as
        2-D for that).

        ``rows`` is None (all), an int (the first ``rows`` rows), a slice, or row numbers.
        Runs of consecutive rows are one range request each; the runs are fetched a few at
        a time in parallel (on the Hub, latency, not bandwidth, is what a sample of scattered
        rows costs).
        """
        e = self.entry(name)
        if e.dtype not in FLOAT_DTYPES:
            raise SourceError(f"{self.repo_id!r}: tensor {name} is {e.dtype}, not a float")
        if rows is None or not e.shape:
            out = decode(self._get(e.file, e.start, e.end), e.dtype, e.shape)
            return out if max_cols is None or out.ndim < 2 else _cols(out, max_cols)
        n = e.shape[0]
        if isinstance(rows, int | np.integer):
            wanted = np.arange(min(int(rows), n))
        elif isinstance(rows, slice):
            wanted = np.arange(n)[rows]
        else:
            wanted = np.asarray(rows, dtype=np.int64).reshape(-1)
            if len(wanted) and (wanted.min() < 0 or wanted.max() >= n):
                raise SourceError(f"{self.repo_id!r}: rows outside tensor {name} of {n} rows")
        uniq, inverse = np.unique(wanted, return_inverse=True)
        step = e.row_bytes

        def fetch(run: tuple[int, int]) -> np.ndarray:
            a, b = run
            raw = self._get(e.file, e.start + a * step, e.start + b * step)
            return decode(raw, e.dtype, (b - a, *e.shape[1:]))

        runs = _row_runs(uniq)
        if len(runs) > 1:
            with ThreadPoolExecutor(max_workers=PARALLEL_REQUESTS) as pool:
                parts = list(pool.map(fetch, runs))
        else:
            parts = [fetch(r) for r in runs]
        block = np.concatenate(parts) if parts else np.empty((0, *e.shape[1:]), np.float32)
        out = block[inverse]
        return out if max_cols is None else _cols(out, max_cols)


def _cols(values: np.ndarray, max_cols: int) -> np.ndarray:
    """The first ``max_cols`` columns of each row, the array seen as 2-D."""
    flat = values.reshape(values.shape[0], -1)
    return np.ascontiguousarray(flat[:, :max_cols])
