"""A few tensors of a Hub model, read by byte ranges: the evidence ``filiation verify`` needs.

A model on the Hub is gigabytes; the weights test needs a few rows of a few matrices. So this
reads only what it must, through ``huggingface_hub``'s own HTTP client (its session, its
headers and token, its errors, ``HF_ENDPOINT``):

1. ``HEAD`` of ``model.safetensors``, else of ``model.safetensors.index.json`` (the sharded
   layout, whose ``weight_map`` names the shards): the file exists, its size;
2. ``config.json`` (a few hundred bytes: its ``model_type`` makes tensor names canonical);
3. per file (every shard), its header by two range requests (the 8-byte header length, then
   the JSON header), checked against the file's size;
4. per tensor the weights test samples, the byte ranges of the rows it asks for, eight
   requests in flight at a time (the ranges are learnt from a dry run of the reader).

Steps 3 and 4, decoding (F64, F32, F16, BF16, int8 per row) and the canonical names are the
weights package's own safetensors reader (:class:`~filiation.inference.weights.tensors.
SafetensorsModel` over a ``read_range`` callable): the same code reads a file on disk for
``scan --weights`` and a file on the Hub here. This module only supplies the ranges.

Every byte received is counted (``bytes_read``), which ``verify`` reports. Nothing is
unpickled and nothing is written to disk. A header that lies (offsets outside the file, a
length that does not match the shape and dtype) raises a ``SourceError`` naming the file.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from filiation.errors import NodeNotFoundError, SourceError

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
CONFIG_FILE = "config.json"
#: ``config.json`` and the index are small; anything bigger is not what it claims to be.
MAX_SMALL_FILE = 50 * 1024 * 1024
#: Range requests in flight at once while reading one tensor's sample.
PARALLEL_REQUESTS = 8


class HubTensorSource:
    """The tensors of one Hub model, read lazily by byte ranges: a weights ``TensorSource``
    (``names``, ``shape``, ``storage``, ``read``, ``requantize``).

    ``bytes_read`` and ``requests`` count what went over the network (headers included).
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

        from filiation.inference.weights.tensors import (
            SafetensorsFile,
            SafetensorsModel,
            WeightsError,
        )

        self.repo_id = repo_id
        self.label = repo_id
        self.revision = revision
        self.endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
        self.token = token
        self.timeout = timeout
        self.bytes_read = 0
        self.requests = 0
        self._count = threading.Lock()
        self._recording: list[tuple[str, int, int]] | None = None
        self._fetched: dict[tuple[str, int, int], bytes] = {}
        files = self._files()
        config = self._config()
        model_type = config.get("model_type")
        blocks = config.get("num_hidden_layers") or config.get("n_layer") or 0
        try:
            opened = [SafetensorsFile(self._reader(f), size, f"{repo_id}/{f}") for f, size in files]
            self._model = SafetensorsModel(
                opened,
                repo_id,
                model_type if isinstance(model_type, str) else None,
                blocks if isinstance(blocks, int) else 0,
            )
        except WeightsError as exc:
            raise SourceError(f"{exc} (on the Hub at {self.endpoint})") from None
        self._names = set(self._model.names())

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

        with self._count:
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

    def _reader(self, filename: str) -> Any:
        """The ``read_range`` the weights reader calls: a dry run records the ranges (and
        gets zeros), a real run takes them from what was fetched meanwhile (see ``read``)."""

        def read_range(offset: int, length: int) -> bytes:
            key = (filename, offset, length)
            if self._recording is not None:
                self._recording.append(key)
                return bytes(length)
            hit = self._fetched.pop(key, None)
            return hit if hit is not None else self._get(filename, offset, offset + length)

        return read_range

    def _prefetch(self, name: str, rows: Sequence[int] | None, max_cols: int | None) -> None:
        """Fetch, a few at a time in parallel, the ranges the reader will ask for: a sample
        of scattered rows is one request per row, and on the Hub their latency, not their
        bytes, is the cost. The ranges are learnt from a dry run of the reader itself."""
        self._recording = []
        try:
            self._model.read(name, rows, max_cols)
        except Exception:  # the real read reports it; fetched one by one then
            return
        finally:
            wanted, self._recording = self._recording, None
        if len(wanted) < 2:
            return
        with ThreadPoolExecutor(max_workers=PARALLEL_REQUESTS) as pool:
            bodies = pool.map(lambda k: self._get(k[0], k[1], k[1] + k[2]), wanted)
            self._fetched = dict(zip(wanted, bodies, strict=True))

    def _small_json(self, filename: str, size: int) -> Any:
        if size > MAX_SMALL_FILE:
            raise SourceError(f"{filename} of {self.repo_id!r} is {size:,} bytes: not a {filename}")
        try:
            return json.loads(self._get(filename))
        except ValueError as err:
            raise SourceError(f"{filename} of {self.repo_id!r} is not JSON ({err})") from None

    # -- layout ---------------------------------------------------------------------------
    def _files(self) -> list[tuple[str, int]]:
        """The safetensors files of the model and their sizes."""
        size = self._size(SINGLE_FILE)
        if size is not None:
            return [(SINGLE_FILE, size)]
        index_size = self._size(INDEX_FILE)
        if index_size is None:
            raise SourceError(
                f"{self.repo_id!r} has neither {SINGLE_FILE} nor {INDEX_FILE}: verify reads "
                "safetensors weights only"
            )
        index = self._small_json(INDEX_FILE, index_size)
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise SourceError(f"{INDEX_FILE} of {self.repo_id!r} has no usable weight_map")
        shards = sorted({str(f) for f in weight_map.values()})
        out = []
        for shard in shards:
            if "/" in shard or ".." in shard or not shard.endswith(".safetensors"):
                raise SourceError(f"{INDEX_FILE} of {self.repo_id!r} names a shard {shard!r}")
            shard_size = self._size(shard)
            if shard_size is None:
                raise SourceError(f"{self.repo_id!r}: the index names {shard}, which is absent")
            out.append((shard, shard_size))
        return out

    def _config(self) -> dict[str, Any]:
        size = self._size(CONFIG_FILE)
        if size is None:
            return {}
        value = self._small_json(CONFIG_FILE, size)
        return value if isinstance(value, dict) else {}

    # -- the weights TensorSource protocol (filiation.inference.weights) -------------------
    def names(self) -> list[str]:
        return self._model.names()

    def shape(self, name: str) -> tuple[int, ...]:
        return self._model.shape(self._known(name))

    def storage(self, name: str) -> str:
        return self._model.storage(self._known(name))

    def read(
        self, name: str, rows: Sequence[int] | None = None, max_cols: int | None = None
    ) -> np.ndarray:
        """The rows asked for (all if None) of a tensor, as float32 (see the protocol)."""
        n = self.shape(name)[0] if self.shape(name) else 1
        if rows is not None and any(r < 0 or r >= n for r in rows):
            raise SourceError(f"{self.repo_id!r}: rows outside tensor {name} of {n} rows")
        self._prefetch(name, rows, max_cols)
        try:
            return self._model.read(name, rows, max_cols)
        finally:
            self._fetched = {}

    def requantize(self, name: str, rows: Sequence[int], values: np.ndarray) -> np.ndarray | None:
        return self._model.requantize(self._known(name), rows, values)

    def _known(self, name: str) -> str:
        if name not in self._names:
            raise SourceError(f"{self.repo_id!r} has no float tensor {name!r}")
        return name
