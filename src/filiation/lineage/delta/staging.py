"""Where a delta puts the arrays of the index it makes: written ahead into the folder that
will be published, as each one is final, rather than all held in memory and saved at the end.

A 1,000-link delta over the 3.1 M-model index made every array (about 1 GB) in anonymous
memory, then wrote it all again to publish it. Staged, an array is written once, its memory
handed back to the page cache at once (the process's peak is one step's arrays, not the
whole index), and :meth:`IndexArrays.save` links the staged file into the published folder
instead of writing it again. An array the delta takes unchanged from the base is linked
from the base's folder; one the delta only grows (new nodes or links last, a few rows
changed) is *grown in place*: its new tail is appended to the base's own file (the index
records each array's length in ``meta.json``, so every process still mapping the base reads
the bytes it always read), the new index's folder links that file, and the few changed rows
are kept beside it as a patch (``IndexArrays._patches``) applied on load to a copy-on-write
mapping. The cost follows the change, not the index. When the base's file cannot be grown
(another delta already grew it, a foreign file system) or the patch would touch too many
rows, the file is copied by the kernel (``copy_file_range``, never through this process's
memory) before its tail and changed rows are written.

Without a folder (tests, a read-only place) everything stays in memory, as arrays.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import numpy as np

from filiation.lineage.arrays import IndexArrays, map_array, npy_layout

#: Above this many insertions into an array, it is written whole rather than copied from the
#: base's file piece by piece (a system call per piece).
MAX_PIECES = 20_000


def max_patch(n: int) -> int:
    """Above this many changed rows in an array of ``n``, the array is written whole rather
    than kept as a patch beside a shared file: every process applies a patch on load, and
    each row it changes costs a private page there."""
    return 1024 + n // 512


class Stage:
    """The arrays of ``out`` as they become final, written to ``folder`` when there is one."""

    def __init__(self, out: IndexArrays, base: IndexArrays, folder: Path | None) -> None:
        self.out = out
        self.base = base
        self.folder = folder
        # An array taken unchanged from the base is saved by linking the base's file (and
        # keeping its patch, if it has one).
        out._files.update(base._files)
        out._patches.update(base._patches)

    def keep(self, name: str, value: np.ndarray, changed: bool = False) -> np.ndarray:
        """Set ``out.<name>``, written to the stage (and mapped back) when there is one:
        as the base's file grown, when ``value`` is the base's array but for a few rows
        and a tail (new nodes or links last), else in full (at once when the caller knows
        it ``changed`` throughout: no comparison with the base's)."""
        if self.folder is not None and not changed and not self._on_disk(name, value):
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
                path = self.folder / f"{name}.npy"
                path.unlink(missing_ok=True)  # a link to a base's file: never write through it
                np.save(path, value, allow_pickle=False)
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
        ``rows`` set to ``values`` (rows along the first axis: the search filter's are its
        segments)."""
        tail = np.array(tail, old.dtype)
        on_disk = source._files.get(name)
        rows, values = _with_patch(source._patches.get(name), rows, values, old, tail)
        shared = self.folder is not None and on_disk is not None and on_disk[1] is old
        if shared and len(rows) <= max_patch(len(old) + len(tail)):
            assert on_disk is not None
            if self._append(name, on_disk[0], old, tail) is not None:
                patch = (rows, values) if len(rows) else None
                return self._map(name, (len(old) + len(tail), *old.shape[1:]), patch)
        if self.folder is not None and self._copies(on_disk, old):
            assert on_disk is not None
            path = self.folder / f"{name}.npy"
            try:
                start = _create(path, old.dtype, (len(old) + len(tail), *old.shape[1:]))
                if _copy_pieces(on_disk[0], path, [(0, old.nbytes, start)]):
                    col = np.load(path, mmap_mode="r+")
                    col[len(old) :] = tail
                    if len(rows):
                        col[rows] = values
                    del col
                    return self._map(name)
            except OSError:
                self._in_memory()
        col = np.concatenate([np.asarray(old), tail])
        if len(rows):
            col[rows] = values
        return self._save(name, col)

    def _append(self, name: str, path: Path, old: np.ndarray, tail: np.ndarray) -> Path | None:
        """The base's file ``path`` (holding ``old`` first) with ``tail`` written right after
        ``old``'s bytes, linked into the stage; None if the file holds more than ``old``
        (another delta from the same base grew it: its bytes are another index's) or
        cannot be written. Mappings of the base never reach past ``old``'s bytes."""
        assert self.folder is not None
        target = self.folder / f"{name}.npy"
        try:
            target.unlink(missing_ok=True)
            _, _, offset = npy_layout(path)
            end = offset + old.nbytes
            with open(path, "r+b") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # another delta growing the same file
                if os.fstat(f.fileno()).st_size != end:
                    return None
                try:
                    if len(tail):
                        os.pwrite(f.fileno(), np.ascontiguousarray(tail).tobytes(), end)
                    os.link(path, target)
                except OSError:
                    f.truncate(end)  # leave the base's file as it was for the next delta
                    return None
            return target
        except (OSError, ValueError):
            return None

    def inserted(
        self, name: str, old: np.ndarray, source: IndexArrays, pos: np.ndarray, values: np.ndarray
    ) -> np.ndarray:
        """Set ``out.<name>`` to ``np.insert(old, pos, values)`` (``old`` an array of
        ``source``): the base's file copied piece by piece between the insertions, when they
        are few enough for a copy each to cost less than writing the whole array."""
        values = np.asarray(values, old.dtype)
        on_disk = source._files.get(name)
        few = len(pos) <= MAX_PIECES and old.ndim == 1 and name not in source._patches
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

    def _map(
        self,
        name: str,
        shape: tuple[int, ...] | None = None,
        patch: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        assert self.folder is not None
        path = self.folder / f"{name}.npy"
        mapped = map_array(path, shape, patch)
        setattr(self.out, name, mapped)
        self.out._files[name] = (path, mapped)
        if patch is not None:
            self.out._patches[name] = patch
        else:
            self.out._patches.pop(name, None)
        return mapped


def _with_patch(
    patch: tuple[np.ndarray, np.ndarray] | None,
    rows: np.ndarray | None,
    values: np.ndarray | None,
    old: np.ndarray,
    tail: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of a grown array that differ from its base's file: the base's own patch
    (its file lacks those rows too), then those of ``rows`` whose value changes (which
    win), sorted and unique. Rows in the new tail are written into ``tail`` instead."""
    rows = np.zeros(0, np.int64) if rows is None else np.asarray(rows, np.int64)
    values = np.zeros(0, old.dtype) if values is None else np.asarray(values, old.dtype)
    values = np.broadcast_to(values, rows.shape) if values.ndim == 0 else values
    n = len(old)
    in_tail = rows >= n
    if in_tail.any():
        tail[rows[in_tail] - n] = values[in_tail]
        rows, values = rows[~in_tail], values[~in_tail]
    if old.ndim == 1 and len(rows):
        differs = _bits(np.asarray(old[rows])) != _bits(values)
        rows, values = rows[differs], values[differs]
    if patch is not None and len(patch[0]):
        rows = np.concatenate([patch[0].astype(np.int64), rows])
        values = np.concatenate([patch[1].astype(old.dtype), values])
    if not len(rows):
        return rows, values
    # The last value given for a row wins: unique over the reversed rows keeps it.
    last, first_rev = np.unique(rows[::-1], return_index=True)
    return last, values[::-1][first_rev]


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
    ``OSError`` here, not a ``SIGBUS`` when its mapping is written); where its data starts.
    A file already there (a link to a base's file, staged earlier) is unlinked, not written."""
    path.unlink(missing_ok=True)
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
