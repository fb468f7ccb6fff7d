"""Where a delta puts the arrays of the index it makes: written ahead into the folder that
will be published, as each one is final, rather than all held in memory and saved at the end.

A 1,000-link delta over the 3.1 M-model index made every array (about 1 GB) in anonymous
memory, then wrote it all again to publish it. Staged, an array is written once, its memory
handed back to the page cache at once (the process's peak is one step's arrays, not the
whole index), and :meth:`IndexArrays.save` links the staged file into the published folder
instead of writing it again. An array the delta takes unchanged from the base is linked
from the base's folder; one the delta only grows (new nodes or links last, a few rows
changed) is copied file to file by the kernel (``copy_file_range``), never through this
process's memory, and only its new tail and changed rows are written.

Without a folder (tests, a read-only place) everything stays in memory, as arrays.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from filiation.lineage.arrays import IndexArrays

#: Above this many insertions into an array, it is written whole rather than copied from the
#: base's file piece by piece (a system call per piece).
MAX_PIECES = 20_000


class Stage:
    """The arrays of ``out`` as they become final, written to ``folder`` when there is one."""

    def __init__(self, out: IndexArrays, base: IndexArrays, folder: Path | None) -> None:
        self.out = out
        self.base = base
        self.folder = folder
        # An array taken unchanged from the base is saved by linking the base's file.
        out._files.update(base._files)

    def keep(self, name: str, value: np.ndarray) -> np.ndarray:
        """Set ``out.<name>``, written to the stage (and mapped back) when there is one:
        as the base's file grown, when ``value`` is the base's array but for a few rows
        and a tail (new nodes or links last), else in full."""
        if self.folder is not None and not self._on_disk(name, value):
            old = getattr(self.base, name)
            if name in self.base._files and _grows(old, value):
                n = len(old)
                same = _bits(value[:n]) == _bits(old)
                if np.count_nonzero(same) > n - n // 8:
                    rows = np.flatnonzero(~same)
                    return self.grown(name, old, self.base, value[n:], rows, value[rows])
        return self._save(name, value)

    def _save(self, name: str, value: np.ndarray) -> np.ndarray:
        """Set ``out.<name>``, written in full to the stage when there is one."""
        if self.folder is not None and not self._on_disk(name, value):
            try:
                np.save(self.folder / f"{name}.npy", value, allow_pickle=False)
                return self._map(name)
            except OSError:
                self._in_memory()
        setattr(self.out, name, value)
        return value

    def grown(
        self,
        name: str,
        old: np.ndarray,
        source: IndexArrays,
        tail: np.ndarray,
        rows: np.ndarray | None = None,
        values: np.ndarray | None = None,
    ) -> np.ndarray:
        """Set ``out.<name>`` to ``old`` (an array of ``source``) followed by ``tail``, then
        ``rows`` set to ``values``."""
        tail = np.asarray(tail, old.dtype)
        on_disk = source._files.get(name)
        if self.folder is not None and self._copies(on_disk, old):
            assert on_disk is not None
            path = self.folder / f"{name}.npy"
            try:
                start = _create(path, old.dtype, (len(old) + len(tail), *old.shape[1:]))
                if _copy_pieces(on_disk[0], path, [(0, old.nbytes, start)]):
                    col = np.load(path, mmap_mode="r+")
                    col[len(old) :] = tail
                    if rows is not None and len(rows):
                        col[rows] = values
                    del col
                    return self._map(name)
            except OSError:
                self._in_memory()
        col = np.concatenate([np.asarray(old), tail])
        if rows is not None:
            col[rows] = values
        return self._save(name, col)

    def inserted(
        self, name: str, old: np.ndarray, source: IndexArrays, pos: np.ndarray, values: np.ndarray
    ) -> np.ndarray:
        """Set ``out.<name>`` to ``np.insert(old, pos, values)`` (``old`` an array of
        ``source``): the base's file copied piece by piece between the insertions, when they
        are few enough for a copy each to cost less than writing the whole array."""
        values = np.asarray(values, old.dtype)
        on_disk = source._files.get(name)
        few = len(pos) <= MAX_PIECES and old.ndim == 1
        if self.folder is not None and self._copies(on_disk, old) and few:
            assert on_disk is not None
            by_pos = np.argsort(pos, kind="stable")
            at, sorted_values = np.asarray(pos, np.int64)[by_pos], values[by_pos]
            path, item = self.folder / f"{name}.npy", old.itemsize
            cuts = np.concatenate([[0], np.unique(at), [len(old)]])
            shift = np.searchsorted(at, cuts[:-1], side="right")
            try:
                start = _create(path, old.dtype, (len(old) + len(at),))
                pieces = [
                    (a * item, (b - a) * item, start + (a + k) * item)
                    for a, b, k in zip(
                        cuts[:-1].tolist(), cuts[1:].tolist(), shift.tolist(), strict=True
                    )
                    if b > a
                ]
                if _copy_pieces(on_disk[0], path, pieces):
                    col = np.load(path, mmap_mode="r+")
                    col[at + np.arange(len(at))] = sorted_values
                    del col
                    return self._map(name)
            except OSError:
                self._in_memory()
        return self.keep(name, np.insert(old, pos, values))

    def _in_memory(self) -> None:
        """A full disk (or another write error): the rest of the index is made in memory,
        as :meth:`IndexCache.publish` keeps an index it cannot save; the store's commit
        reports the full disk."""
        self.folder = None

    def _copies(self, on_disk: tuple[Path, np.ndarray] | None, old: np.ndarray) -> bool:
        """Whether a staged array can start as a copy of the file that holds ``old``."""
        return on_disk is not None and on_disk[1] is old and hasattr(os, "posix_fallocate")

    def _on_disk(self, name: str, value: np.ndarray) -> bool:
        on_disk = self.out._files.get(name)
        return on_disk is not None and on_disk[1] is value

    def _map(self, name: str) -> np.ndarray:
        assert self.folder is not None
        path = self.folder / f"{name}.npy"
        mapped = np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))
        setattr(self.out, name, mapped)
        self.out._files[name] = (path, mapped)
        return mapped


def _grows(old: np.ndarray, value: np.ndarray) -> bool:
    """Whether ``value`` may be ``old`` with rows added at the end (same type and row shape)."""
    return (
        value.dtype == old.dtype
        and value.ndim == 1
        and old.ndim == 1
        and len(old) > 0
        and len(value) >= len(old)
    )


def _bits(a: np.ndarray) -> np.ndarray:
    """``a`` as unsigned integers of its width: equal bits compare equal (NaN included)."""
    return a.view(f"u{a.dtype.itemsize}") if a.dtype.kind == "f" else a


def _create(path: Path, dtype: np.dtype, shape: tuple[int, ...]) -> int:
    """An ``.npy`` file of that type and shape, its blocks allocated (a full disk is an
    ``OSError`` here, not a ``SIGBUS`` when its mapping is written); where its data starts."""
    mapped = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    start = int(mapped.offset)
    del mapped
    with open(path, "r+b") as f:
        os.posix_fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
    return start


def _copy_pieces(source: Path, target: Path, pieces: list[tuple[int, int, int]]) -> bool:
    """Copy byte ranges of the ``.npy`` file ``source``'s data (``(start in its data, size,
    position in target)``) into ``target``, in the kernel; False if it cannot."""
    if not hasattr(os, "copy_file_range"):
        return False
    try:
        with open(source, "rb") as src, open(target, "r+b") as dst:
            version = np.lib.format.read_magic(src)
            if version == (1, 0):
                np.lib.format.read_array_header_1_0(src)
            else:
                np.lib.format.read_array_header_2_0(src)
            data = src.tell()
            for begin, size, to in pieces:
                at, left = data + begin, size
                while left > 0:
                    done = os.copy_file_range(src.fileno(), dst.fileno(), left, at, to)
                    if done <= 0:
                        return False
                    at, to, left = at + done, to + done, left - done
        return True
    except (OSError, ValueError):
        return False
