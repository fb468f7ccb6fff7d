"""Opening files a scan finds, without trusting them (docs/security.md).

A scanned folder may hold anything: a FIFO named ``README.md`` (which would block the
scan), a link out of the scanned tree, a multi-gigabyte "text" file, a GGUF header that
declares 2^40 array items in a 56-byte file. Every file the scan reads goes through these
guards first; each refusal is an :class:`_Unreadable` whose message is the one line the
scan report shows for that file, and the scan goes on with the next file.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import stat
import struct
from pathlib import Path
from typing import Any

from filiation.limits import (
    MAX_GGUF_ARRAY_ITEMS,
    MAX_GGUF_KEYS,
    MAX_GGUF_STRING_BYTES,
    MAX_SCAN_TEXT_BYTES,
)

#: A Hugging Face cache repo folder (its snapshots link into its own ``blobs``).
_CACHE_DIR = re.compile(r"^models--(.+)$")


def _os(exc: OSError) -> str:
    return f"cannot read: {exc.strerror or exc}"


class _Unreadable(Exception):
    """A file that exists but cannot be used; its message says why, for the report."""


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _check_file(file: Path, root: Path) -> os.stat_result:
    """The file's status when it is safe to read: a regular file (not a FIFO, a device or a
    folder), reached without a link out of the scanned tree. A link is followed when its
    target is inside the scanned folder or, for a Hugging Face cache snapshot, inside the
    same ``models--org--name`` repo (snapshots link to ``../../blobs``)."""
    try:
        target = file.resolve(strict=True)
        info = target.stat()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of links
        raise _Unreadable(_os(exc) if isinstance(exc, OSError) else "a loop of links") from None
    if file.is_symlink() or target != file.absolute():
        allowed = [root.resolve()]
        allowed += [p for p in file.absolute().parents if _CACHE_DIR.match(p.name)]
        if not any(_inside(target, a.resolve()) for a in allowed):
            raise _Unreadable("a link to a file outside the scanned folder: not read")
    if not stat.S_ISREG(info.st_mode):
        raise _Unreadable("not a regular file (a FIFO, device or folder): not read")
    return info


def _read_bytes(file: Path, root: Path | None, limit: int, *, cut: bool = False) -> bytes:
    """At most ``limit`` bytes of a regular file; a larger file is unreadable unless ``cut``
    (then its first ``limit`` bytes). Opened without blocking and checked again once open,
    so a file replaced by a FIFO between the check and the read cannot hang the scan."""
    if root is not None:
        _check_file(file, root)
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise _Unreadable(_os(exc)) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _Unreadable("not a regular file (a FIFO, device or folder): not read")
        if info.st_size > limit and not cut:
            raise _Unreadable(
                f"{info.st_size} bytes, over the scan's limit of {limit} bytes for a text file "
                "(FILIATION_MAX_SCAN_TEXT_BYTES): not read"
            )
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise _Unreadable(_os(exc)) from None
    if len(data) > limit and not cut:  # grew since it was checked
        raise _Unreadable(f"over the scan's limit of {limit} bytes for a text file: not read")
    return data[:limit]


def _text(file: Path) -> str:
    data = _read_bytes(file, None, MAX_SCAN_TEXT_BYTES)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Unreadable(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _json_object(file: Path) -> dict[str, Any]:
    try:
        value = json.loads(_text(file))
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(value, dict):
        raise _Unreadable(f"expected a JSON object, found {type(value).__name__}")
    return value


def _yaml_object(text: str, what: str) -> dict[str, Any]:
    import yaml

    # libyaml's safe loader when PyYAML has it: ten times faster on a tree of cards.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        value = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise _Unreadable(f"{what} is not valid YAML{line}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Unreadable(f"{what} is not a YAML mapping")
    return value


#: Sizes of GGUF's fixed-size value types (gguf.GGUFValueType: 8 is a string, 9 an array).
_GGUF_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def _check_gguf(data: mmap.mmap | bytes) -> None:
    """Walk a GGUF file's metadata without building anything, checking every count and
    length against the bytes that remain and the limits (limits.py), so that the ``gguf``
    reader, which trusts them, is only given a file whose metadata fits in it."""
    size = len(data)
    if size < 24 or data[:4] != b"GGUF":
        raise _Unreadable("not a GGUF file (no GGUF header)")
    order = "<" if struct.unpack_from("<I", data, 4)[0] & 0xFFFF else ">"
    u32, u64 = struct.Struct(order + "I"), struct.Struct(order + "Q")
    tensors, keys = u64.unpack_from(data, 8)[0], u64.unpack_from(data, 16)[0]
    if keys > MAX_GGUF_KEYS:
        raise _Unreadable(f"GGUF header declares {keys} metadata entries (limit {MAX_GGUF_KEYS})")
    if tensors * 24 > size:  # a tensor's description takes at least 24 bytes
        raise _Unreadable(f"GGUF header declares {tensors} tensors: more than {size} bytes hold")
    pos = 24

    def need(n: int, what: str) -> None:
        if n > size - pos:
            raise _Unreadable(f"GGUF truncated or corrupted: {what} runs past the end of the file")

    def string() -> None:
        nonlocal pos
        need(8, "a string length")
        length = u64.unpack_from(data, pos)[0]
        if length > MAX_GGUF_STRING_BYTES:
            raise _Unreadable(f"a string of {length} bytes (limit {MAX_GGUF_STRING_BYTES})")
        pos += 8
        need(length, "a string")
        pos += length

    def value(kind: int, depth: int) -> None:
        nonlocal pos
        if kind in _GGUF_SIZES:
            need(_GGUF_SIZES[kind], "a value")
            pos += _GGUF_SIZES[kind]
        elif kind == _GGUF_STRING:
            string()
        elif kind == _GGUF_ARRAY and depth < 4:
            need(12, "an array header")
            item, count = u32.unpack_from(data, pos)[0], u64.unpack_from(data, pos + 4)[0]
            pos += 12
            if count > MAX_GGUF_ARRAY_ITEMS:
                raise _Unreadable(f"an array of {count} items (limit {MAX_GGUF_ARRAY_ITEMS})")
            smallest = _GGUF_SIZES.get(item, 8 if item == _GGUF_STRING else 12)
            need(count * smallest, f"an array of {count} items")
            if item in _GGUF_SIZES:
                pos += count * _GGUF_SIZES[item]
            else:
                for _ in range(count):
                    value(item, depth + 1)
        else:
            raise _Unreadable(f"truncated or corrupted: unknown value type {kind}")

    for _ in range(keys):
        string()
        need(4, "a value type")
        kind = u32.unpack_from(data, pos)[0]
        pos += 4
        value(kind, 0)
