"""The lineage index as plain arrays, saved as ``.npy`` files and memory-mapped back.

Opening an index is mapping files, not parsing them: a process answers its first question
on the full Hub in well under a second, and several processes share the same pages.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

# pyarrow is loaded by what builds an index or hands ids to Arrow (the build, a delta, an
# export), not by opening one nor by the questions of a fresh ``show`` or ``search``.
if TYPE_CHECKING:
    import pyarrow as pa

#: Stands for "unknown" in integer columns (downloads of a stub node, a missing date...).
NULL_INT = np.iinfo(np.int64).min
#: 7: evidence codes int32 (an edge list of 32,768+ rows wrapped them); 8: each array's shape in
#: ``meta.json`` (a file may hold more rows than its index uses: a delta grows the previous
#: index's files in place) and patches of a few rows kept beside a shared file.
FORMAT_VERSION = 8
#: Formats :meth:`IndexArrays.load` still opens: a format 7 folder is a format 8 one whose
#: files are all exactly as long as their headers say, with no patches.
READABLE_FORMATS = (7, 8)
SEPARATOR = 0x0A  # "\n" between ids in the blobs; ids never contain control characters.


@dataclass
class IndexArrays:
    # nodes, numbered by renown (0 = best known)
    kind: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    stub: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    downloads: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    downloads_all_time: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    likes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    parameters: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    trending: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    created: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    modified: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    score: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    pipeline_tag: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    library_name: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    license: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    descendants: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    author: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    generations: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    #: distinct models naming the node as a parent (lineage/indicators.py: ``citations``)
    citations: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    # ids: display form and lower-case form, "\n"-separated, with start offsets (n + 1)
    id_blob: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    id_off: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    lower_blob: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    lower_off: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    # look-ups: a 64-bit hash of each lower-case id, sorted, and the node of each hash
    id_hash: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    id_hash_node: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    # links, in canonical order, and both adjacency layouts pointing into it
    edge_child: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    edge_parent: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    edge_rel: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    edge_declared: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    edge_source: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    edge_evidence: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    down_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    down_nbr: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    down_edge: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    down_rel: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    up_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    up_nbr: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    up_edge: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    up_rel: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    # suspected (inferred) links: their confidence (NaN for every other link), and layouts
    # of their own, so that nothing reading the ones above meets them unless it asks
    edge_confidence: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    sus_down_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    sus_down_nbr: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    sus_down_edge: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    sus_down_rel: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    sus_up_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    sus_up_nbr: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    sus_up_edge: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    sus_up_rel: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    search_bits: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint8))
    # small things: vocabularies of coded columns, counts, provenance
    vocab: dict[str, list[str]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    _ids: pa.LargeStringArray | None = field(default=None, repr=False, compare=False)
    #: arrays already held by a ``.npy`` file (mapped by :meth:`load`, or written ahead by a
    #: delta): :meth:`save` links the file instead of writing the array again
    _files: dict[str, tuple[Path, np.ndarray]] = field(
        default_factory=dict, repr=False, compare=False
    )
    #: rows of a file-held array that differ from its file (``rows``, ``values``): a delta
    #: shares the previous index's file and keeps its few changed rows beside it; they are
    #: applied to a copy-on-write mapping on load, so only the pages they touch are copied
    _patches: dict[str, tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def empty(cls) -> IndexArrays:
        return cls()

    @property
    def n_nodes(self) -> int:
        return len(self.kind)

    @property
    def n_suspected(self) -> int:
        """How many suspected (inferred) links the index holds."""
        return len(self.sus_down_nbr)

    # -- ids ----------------------------------------------------------------------------
    def set_ids(self, ids: pa.Array, lower: pa.Array) -> None:
        self.id_blob, self.id_off = _blob(ids, separator="")
        self.lower_blob, self.lower_off = _blob(lower, separator="\n")
        hashes = hash_ids(self.lower_blob, self.lower_off)
        order = np.argsort(hashes, kind="stable")
        self.id_hash = hashes[order]
        self.id_hash_node = order.astype(np.int32)

    def id_of(self, node: int) -> str:
        start, end = self.id_off[node : node + 2].tolist()
        return bytes(self.id_blob[start:end]).decode()

    def lower_of(self, node: int) -> bytes:
        return bytes(self.lower_blob[self.lower_off[node] : self.lower_off[node + 1] - 1])

    def id_array(self) -> pa.LargeStringArray:
        """Every id as one Arrow array over the (mapped) blob, without copying it."""
        if self._ids is None:
            import pyarrow as pa

            self._ids = pa.LargeStringArray.from_buffers(
                self.n_nodes, pa.py_buffer(self.id_off), pa.py_buffer(self.id_blob)
            )
        return self._ids

    def ids_of(self, nodes: np.ndarray) -> list[str]:
        """The ids of ``nodes``, in their order: their bytes gathered from the blob with a
        separator after each, in array operations, then decoded and split once (numpy only:
        a fresh process answering a question need not load pyarrow)."""
        if len(nodes) == 0:
            return []
        picks = np.asarray(nodes, np.int64)
        starts = self.id_off[picks]
        lengths = self.id_off[picks + 1] - starts
        ends = np.cumsum(lengths + 1) - 1  # where each id's separator goes
        out = np.full(int(ends[-1]) + 1, SEPARATOR, np.uint8)
        out[spans(ends - lengths, lengths)] = self.id_blob[spans(starts, lengths)]
        return out[:-1].tobytes().decode().split("\n")

    # -- persistence ---------------------------------------------------------------------
    def save(self, target: Path) -> None:
        """Write to a temporary folder, then rename: readers never see half an index."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent))
        try:
            shapes: dict[str, list[int]] = {}
            patched: list[str] = []
            for f in fields(self):
                value = getattr(self, f.name)
                if isinstance(value, np.ndarray):
                    shapes[f.name] = list(value.shape)
                    if self._link(f.name, value, tmp):
                        if f.name in self._patches:
                            rows, values = self._patches[f.name]
                            np.save(tmp / f"{f.name}.rows.npy", rows, allow_pickle=False)
                            np.save(tmp / f"{f.name}.values.npy", values, allow_pickle=False)
                            patched.append(f.name)
                        continue
                    np.save(tmp / f"{f.name}.npy", value, allow_pickle=False)
            meta = {
                "format": FORMAT_VERSION,
                "vocab": self.vocab,
                "meta": self.meta,
                "shapes": shapes,
                "patched": patched,
            }
            (tmp / "meta.json").write_text(json.dumps(meta))
            try:
                os.rename(tmp, target)
            except OSError:
                if (target / "meta.json").exists():  # another process won the race
                    shutil.rmtree(tmp, ignore_errors=True)
                else:
                    raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _link(self, name: str, value: np.ndarray, folder: Path) -> bool:
        """Link the file already holding ``value`` into ``folder``; False if there is none."""
        on_disk = self._files.get(name)
        if on_disk is None or on_disk[1] is not value:
            return False
        try:
            os.link(on_disk[0], folder / f"{name}.npy")
        except OSError:
            return False
        return True

    @classmethod
    def load(cls, folder: Path) -> IndexArrays:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") not in READABLE_FORMATS:
            raise ValueError("index format changed")
        shapes = meta.get("shapes", {})
        patched = set(meta.get("patched", []))
        out = cls()
        for f in fields(cls):
            path = folder / f"{f.name}.npy"
            if path.exists():
                patch = None
                if f.name in patched:
                    patch = (
                        np.load(folder / f"{f.name}.rows.npy", allow_pickle=False),
                        np.load(folder / f"{f.name}.values.npy", allow_pickle=False),
                    )
                    out._patches[f.name] = patch
                mapped = map_array(path, shapes.get(f.name), patch)
                setattr(out, f.name, mapped)
                out._files[f.name] = (path, mapped)
            elif f.name not in ("vocab", "meta", "_ids", "_files", "_patches"):
                raise ValueError(f"index file {path.name} is missing")
        out.vocab = meta["vocab"]
        out.meta = meta["meta"]
        return out


def npy_layout(path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """An ``.npy`` file's element type, the shape its header states, and where its data
    starts (a file a delta grew in place holds more rows than its header says)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        if fortran and len(shape) > 1:
            raise ValueError(f"{path.name}: Fortran-ordered arrays are not index arrays")
        return dtype, tuple(shape), f.tell()


def map_array(
    path: Path,
    shape: list[int] | tuple[int, ...] | None = None,
    patch: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """The array of an ``.npy`` file, memory-mapped: its first ``shape`` rows (the header's
    shape by default), with ``patch`` (rows, values) applied to a copy-on-write mapping
    (only the pages the patch touches are copied, in this process only). Read-only.

    A plain ndarray view of the mapping: numpy's memmap subclass costs a microsecond on
    every slice, which small traversals do by the dozen."""
    dtype, stated, offset = npy_layout(path)
    want = tuple(int(x) for x in shape) if shape is not None else stated
    if int(np.prod(want)) == 0:
        return np.zeros(want, dtype)
    if offset + int(np.prod(want)) * dtype.itemsize > os.path.getsize(path):
        raise ValueError(f"index file {path.name} is shorter than its index says")
    mode = "c" if patch is not None and len(patch[0]) else "r"
    mapped = np.asarray(np.memmap(path, dtype=dtype, mode=mode, offset=offset, shape=want))
    if mode == "c":
        assert patch is not None
        mapped[patch[0]] = patch[1]
        mapped.flags.writeable = False
    return mapped


#: Multiplier of the polynomial id hash (the 64-bit FNV prime); arithmetic wraps at 2**64.
HASH_BASE = 1099511628211
_MASK = (1 << 64) - 1
_MAX_ID = 4096


def hash_id(key: bytes) -> int:
    """The look-up hash of one lower-case id; :func:`hash_ids` computes the same for all."""
    h = 0
    for byte in key:
        h = (h * HASH_BASE + byte) & _MASK
    return h


def hash_ids(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Hash every id of a separator-terminated blob at once (array operations, in chunks)."""
    n = len(offsets) - 1
    out = np.zeros(n, np.uint64)
    if n == 0:
        return out
    ends = offsets[1:] - 1  # position of each id's separator
    step = 1 << 14  # ids per chunk: a few MB of temporaries, not hundreds
    with np.errstate(over="ignore"):
        powers = np.ones(_MAX_ID + 1, np.uint64)
        for k in range(1, _MAX_ID + 1):
            powers[k] = powers[k - 1] * np.uint64(HASH_BASE)  # wraps, as in hash_id
        for first in range(0, n, step):
            last = min(n, first + step)
            lo, hi = int(offsets[first]), int(offsets[last])
            chunk = np.asarray(blob[lo:hi]).astype(np.uint64)
            owner = np.repeat(np.arange(first, last), np.diff(offsets[first : last + 1]))
            from_end = ends[owner] - np.arange(lo, hi) - 1  # -1 on separators
            keep = from_end >= 0
            terms = np.zeros(hi - lo, np.uint64)
            terms[keep] = chunk[keep] * powers[np.minimum(from_end[keep], _MAX_ID)]
            starts = offsets[first:last] - lo
            out[first:last] = np.add.reduceat(terms, starts)
            out[first:last][offsets[first + 1 : last + 1] - offsets[first:last] == 1] = 0
    return out


def spans(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions ``starts[i] .. starts[i] + lengths[i] - 1`` for every i, concatenated:
    all adjacency entries of a set of nodes in one array operation."""
    total = int(lengths.sum())
    return np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)


def _blob(values: pa.Array, separator: str) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate strings, each followed by ``separator``; offsets give where each starts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.cast(values, pa.large_string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if separator:
        values = pc.binary_join_element_wise(
            values, pa.scalar("", pa.large_string()), pa.scalar(separator, pa.large_string())
        )
    if values.offset or values.null_count:
        values = pc.fill_null(values, "").take(pa.array(np.arange(len(values))))
    _, offsets_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[: len(values) + 1]
    if data_buf is None or offsets[-1] == 0:
        return np.zeros(0, np.uint8), np.zeros(len(values) + 1, np.int64)
    base = int(offsets[0])
    blob = np.frombuffer(data_buf, dtype=np.uint8, count=int(offsets[-1]) - base, offset=base)
    return blob, (offsets - base if base else offsets)
