"""Hostile files on disk (issue 16, item 1): a scan reads only what it can afford.

Each folder is built by the test the way an attacker would leave it on a shared disk: a
56-byte GGUF declaring an array of 2^40 strings, FIFOs named like model files, a
``config.json`` linking out of the tree, a ``config.json`` too large to read. The scan must
finish, report each file, and still read the legitimate files beside them.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from filiation.limits import MAX_GGUF_ARRAY_ITEMS, MAX_SCAN_TEXT_BYTES
from filiation.sources import local_folder
from tests.test_scan import write_gguf

BASE = "meta-llama/Llama-3.1-8B-Instruct"


#: GGUF value types (gguf.GGUFValueType): the reader loops over a numeric array's declared
#: items even when none is there, so an array of UINT8 or UINT32 is the one that ate memory.
UINT8, UINT32, STRING = 0, 4, 8


def hostile_gguf(items: int = 2**40, item_type: int = UINT32) -> bytes:
    """A GGUF v3 header with one metadata entry, ``general.tags``: an array declaring
    ``items`` items, and none of them present (60 bytes)."""
    key = b"general.tags"
    return (
        b"GGUF"
        + struct.pack("<IQQ", 3, 0, 1)
        + struct.pack("<Q", len(key))
        + key
        + struct.pack("<IIQ", 9, item_type, items)  # ARRAY, item type, count
    )


def scan_in_thread(root: Path, seconds: float = 20) -> local_folder.ScanResult:
    """The scan of ``root``, failing the test (instead of hanging it) when it blocks."""
    out: list[local_folder.ScanResult] = []
    t = threading.Thread(target=lambda: out.append(local_folder.scan(root)), daemon=True)
    t.start()
    t.join(seconds)
    assert out, f"the scan of {root} did not finish in {seconds} s (blocked on a file?)"
    return out[0]


def problems(result: local_folder.ScanResult) -> dict[str, str]:
    return {p.file: p.message for p in result.problems}


@pytest.mark.parametrize("item_type", [UINT8, UINT32, STRING])
def test_gguf_declaring_2_to_the_40_items_is_refused_with_bounded_memory(
    tmp_path: Path, item_type: int
) -> None:
    data = hostile_gguf(item_type=item_type)
    assert len(data) < 64
    model = tmp_path / "evil"
    model.mkdir()
    (model / "evil.gguf").write_bytes(data)
    # In a child process whose address space is capped at 2 GB: before the fix the gguf
    # reader grew without bound (5.4 GB in 33 s) and died of MemoryError.
    code = textwrap.dedent(
        f"""
        import resource, json
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        from filiation.sources import local_folder
        r = local_folder.scan({str(tmp_path)!r})
        print(json.dumps([p.message for p in r.problems]))
        """
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": "src"}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert run.returncode == 0, run.stderr[-2000:]
    messages = run.stdout.strip().splitlines()[-1]
    assert f"array of {2**40} items (limit {MAX_GGUF_ARRAY_ITEMS})" in messages


def test_gguf_whose_counts_exceed_its_size_is_reported_not_parsed(tmp_path: Path) -> None:
    (tmp_path / "short.gguf").write_bytes(hostile_gguf(1000, STRING))  # 1000 strings, 0 bytes
    (tmp_path / "empty.gguf").write_bytes(b"")
    result = scan_in_thread(tmp_path)
    found = problems(result)
    assert "runs past the end of the file" in found["short.gguf"]
    assert "empty.gguf" in found


def test_fifos_named_like_model_files_do_not_block_the_scan(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    os.mkfifo(model / "README.md")
    os.mkfifo(model / "x.gguf")
    os.mkfifo(model / "config.json")
    # A real GGUF beside them is still read.
    write_gguf(model / "real.gguf", f"https://huggingface.co/{BASE}", "https://huggingface.co/d/x")
    result = scan_in_thread(tmp_path)
    found = problems(result)
    for name in ("README.md", "x.gguf", "config.json"):
        assert "not a regular file" in found[f"model/{name}"]
    [m] = result.models
    assert [p.parent for p in m.parents] == [BASE]


def test_links_out_of_the_tree_are_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "config.json"
    secret.write_text('{"_name_or_path": "secret-org/secret-model"}')
    root = tmp_path / "tree"
    (root / "model").mkdir(parents=True)
    (root / "model" / "config.json").symlink_to(secret)
    (root / "model" / "README.md").symlink_to("/etc/passwd")
    # A link inside the tree is followed.
    (root / "inner").mkdir()
    (root / "inner" / "real.json").write_text(f'{{"_name_or_path": "{BASE}"}}')
    (root / "inner" / "config.json").symlink_to(root / "inner" / "real.json")
    result = scan_in_thread(root)
    found = problems(result)
    assert "outside the scanned folder" in found["model/config.json"]
    assert "outside the scanned folder" in found["model/README.md"]
    parents = {m.id: [p.parent for p in m.parents] for m in result.models}
    assert parents["local/inner"] == [BASE]
    assert "secret-org/secret-model" not in str(parents)


def test_a_config_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    model = tmp_path / "big"
    model.mkdir()
    with (model / "config.json").open("wb") as f:
        f.write(f'{{"_name_or_path": "{BASE}", "pad": "'.encode())
        f.truncate(MAX_SCAN_TEXT_BYTES + 1)  # sparse: no disk used
    result = scan_in_thread(tmp_path)
    assert "over the scan's limit" in problems(result)["big/config.json"]


def test_hf_cache_snapshot_links_to_its_blobs_are_still_followed(tmp_path: Path) -> None:
    """Scanning one snapshot folder of the cache: its files link to ``../../blobs``, outside
    the scanned folder but inside the same cached repo."""
    repo = tmp_path / "models--org--quant"
    (repo / "blobs").mkdir(parents=True)
    snap = repo / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (repo / "blobs" / "b1").write_text(f'{{"_name_or_path": "{BASE}", "quantization_config": 1}}')
    (snap / "config.json").symlink_to(Path("..") / ".." / "blobs" / "b1")
    result = scan_in_thread(snap)
    assert not result.problems
    [m] = result.models
    assert (m.id, [(p.parent, p.relation.value) for p in m.parents]) == (
        "org/quant",
        [(BASE, "quantized")],
    )


def test_folder_names_with_control_characters_are_skipped_and_counted(tmp_path: Path) -> None:
    bad = tmp_path / "evil\x1b[2J"
    bad.mkdir()
    (bad / "config.json").write_text(f'{{"_name_or_path": "{BASE}"}}')
    good = tmp_path / "good"
    good.mkdir()
    (good / "config.json").write_text(f'{{"_name_or_path": "{BASE}"}}')
    records = local_folder.records(scan_in_thread(tmp_path))
    assert records.nodes.column("id").to_pylist() == ["local/good"]
    assert records.report.skipped == {"models whose folder name is not a usable id": 1}


@pytest.mark.parametrize("field", ["library_name", "pipeline_tag", "license"])
def test_card_fields_with_control_characters_are_cleaned(tmp_path: Path, field: str) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "README.md").write_text(
        f'---\nbase_model: {BASE}\n{field}: "lib\\e[2J\\0x"\n---\n', encoding="utf-8"
    )
    records = local_folder.records(scan_in_thread(tmp_path))
    assert records.nodes.column(field).to_pylist() == ["lib?[2J?x"]
