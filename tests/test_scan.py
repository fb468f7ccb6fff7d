"""``filiation scan``: models on disk and their origins, from files written by the real tools.

The folders are built in the test: a tiny Llama saved by ``transformers`` (and fine-tuned
copies of it, one naming a Hub model, one a local folder), a LoRA adapter saved by ``peft``,
a GGUF written by the ``gguf`` package, a mergekit configuration, a Hugging Face cache
snapshot, and broken files beside them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import filiation
from filiation.cli import app
from filiation.domain import Relation
from filiation.errors import SourceError
from filiation.sources.local_folder import FoundModel, ScanResult, scan

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
LLAMA_BASE = "meta-llama/Llama-3.1-8B"
MERGED = ("mlabonne/Meta-Llama-3.1-8B-Instruct-abliterated", "netcat420/MFANNv0.19")


def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32,
    )
    return LlamaForCausalLM(config)


def write_gguf(path: Path, base_repo_url: str, dataset_repo_url: str) -> None:
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("Tiny Llama Q8")
    writer.add_base_model_count(1)
    writer.add_base_model_name(0, "Llama 3.1 8B Instruct")
    writer.add_base_model_organization(0, "Meta Llama")
    writer.add_base_model_repo_url(0, base_repo_url)
    writer.add_dataset_count(1)
    writer.add_dataset_name(0, "Ultrachat 200k")
    writer.add_dataset_repo_url(0, dataset_repo_url)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree of model folders as tools leave them, with broken files among them."""
    pytest.importorskip("torch")
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments

    root = tmp_path_factory.mktemp("models")
    # A base saved locally, and two fine-tunes saved by the Trainer, whose model card names
    # what each was fine-tuned from (transformers 5 no longer keeps _name_or_path in
    # config.json) and the data set: one from the Hub id the model was loaded from, one from
    # the local folder.
    tiny_llama().save_pretrained(root / "base")
    for name, origin in (("ft-from-hub", None), ("ft-from-local", str(root / "base"))):
        model = tiny_llama()
        model.config._name_or_path = LLAMA
        trainer = Trainer(
            model=model,
            args=TrainingArguments(output_dir=str(root / name), report_to="none", use_cpu=True),
        )
        trainer.save_model()
        trainer.create_model_card(
            license="llama3.1", finetuned_from=origin, dataset_tags="HuggingFaceH4/ultrachat_200k"
        )
    # A model saved by an older transformers, whose config.json kept _name_or_path.
    (root / "old-ft").mkdir()
    (root / "old-ft" / "config.json").write_text(
        json.dumps({"_name_or_path": LLAMA_BASE, "model_type": "llama"})
    )
    # A LoRA adapter saved by peft on a model loaded from the Hub id.
    base = tiny_llama()
    base.name_or_path = LLAMA
    base.config._name_or_path = LLAMA
    adapter = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    adapter.save_pretrained(root / "team" / "lora", save_embedding_layers=False)
    # A GGUF quantization, written by the gguf package with llama.cpp's base-model keys.
    (root / "gguf").mkdir()
    write_gguf(
        root / "gguf" / "tiny-q8_0.gguf",
        f"https://huggingface.co/{LLAMA}",
        "https://huggingface.co/datasets/HuggingFaceH4/ultrachat_200k",
    )
    # A mergekit merge: every model named is a parent.
    (root / "merge").mkdir()
    (root / "merge" / "mergekit_config.yml").write_text(
        yaml.safe_dump(
            {
                "slices": [
                    {
                        "sources": [
                            {"model": MERGED[0], "layer_range": [0, 32]},
                            {"model": MERGED[1], "layer_range": [0, 32]},
                        ]
                    }
                ],
                "merge_method": "slerp",
                "base_model": MERGED[0],
                "parameters": {"t": 0.5},
                "dtype": "bfloat16",
            }
        )
    )
    # A Hugging Face cache snapshot whose card declares its base model and data set; as in
    # the real cache, the snapshot's files are links to blobs.
    repo = root / "hub" / "models--someorg--Llama-3.1-8B-Instruct-AWQ"
    snap = repo / "snapshots" / "0a1b2c"
    snap.mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0a1b2c")
    card = {
        "base_model": LLAMA,
        "base_model_relation": "quantized",
        "datasets": ["HuggingFaceH4/ultrachat_200k"],
        "license": "llama3.1",
    }
    files = {
        "README.md": "---\n" + yaml.safe_dump(card) + "---\n# An AWQ quantization\n",
        "config.json": json.dumps(
            {"_name_or_path": LLAMA, "quantization_config": {"quant_method": "awq"}}
        ),
    }
    for i, (name, text) in enumerate(files.items()):
        blob = repo / "blobs" / f"blob{i}"
        blob.write_text(text)
        (snap / name).symlink_to(Path("..") / ".." / "blobs" / blob.name)
    # Broken files: each must be reported, and the scan must go on.
    broken = root / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"_name_or_path": "org/x", ')
    (broken / "adapter_config.json").write_text("[1, 2]")
    (broken / "README.md").write_bytes(b"---\nbase_model: \xff\xfe\n---\n")
    (broken / "bad.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x01" * 7)
    (broken / "mergekit_config.yml").write_text("models: [unclosed\n")
    return root


def by_id(result: ScanResult) -> dict[str, FoundModel]:
    return {m.id: m for m in result.models}


def parents(model: FoundModel) -> dict[str, str]:
    return {p.parent: p.relation.value for p in model.parents}


def test_each_tool_s_files_give_the_right_parent(models: Path) -> None:
    found = by_id(scan(models))
    assert parents(found["local/ft-from-hub"]) == {LLAMA: "finetune"}
    assert parents(found["local/old-ft"]) == {LLAMA_BASE: "finetune"}
    assert parents(found["local/team--lora"]) == {LLAMA: "adapter"}
    assert parents(found["local/gguf"]) == {LLAMA: "quantized"}
    assert parents(found["local/merge"]) == dict.fromkeys(MERGED, "merge")
    # A local path that is a scanned folder names that folder's model.
    assert parents(found["local/ft-from-local"]) == {"local/base": "finetune"}
    assert parents(found["local/base"]) == {}
    for name in ("local/gguf", "local/ft-from-hub", "local/ft-from-local"):
        assert [d.parent for d in found[name].datasets] == ["HuggingFaceH4/ultrachat_200k"]


def test_evidence_names_the_file_and_field(models: Path) -> None:
    found = by_id(scan(models))
    (lora,) = found["local/team--lora"].parents
    # peft writes both files; the adapter configuration is the stronger evidence.
    assert lora.evidence == [
        "team/lora/adapter_config.json:base_model_name_or_path",
        "team/lora/README.md:base_model",
    ]
    assert not lora.declared
    (gguf_link,) = found["local/gguf"].parents
    assert gguf_link.evidence == ["gguf/tiny-q8_0.gguf:general.base_model.0.repo_url"]
    (ft,) = found["local/ft-from-hub"].parents
    assert ft.evidence == ["ft-from-hub/README.md:base_model"]
    (old,) = found["local/old-ft"].parents
    assert old.evidence == ["old-ft/config.json:_name_or_path"]


def test_hf_cache_snapshot_is_its_hub_id_and_the_card_declares_the_relation(models: Path) -> None:
    found = by_id(scan(models / "hub"))
    model = found["someorg/Llama-3.1-8B-Instruct-AWQ"]
    assert not model.local and model.license == "llama3.1"
    (link,) = model.parents
    assert (link.parent, link.relation, link.declared) == (LLAMA, Relation.QUANTIZED, True)
    # README and config.json both name it: one link, both files as evidence, README first.
    prefix = "models--someorg--Llama-3.1-8B-Instruct-AWQ/snapshots/0a1b2c/"
    assert link.evidence == [
        prefix + "README.md:base_model_relation",
        prefix + "config.json:_name_or_path",
    ]
    assert [d.parent for d in model.datasets] == ["HuggingFaceH4/ultrachat_200k"]


def test_broken_files_are_reported_one_by_one_and_the_scan_goes_on(models: Path) -> None:
    result = scan(models)
    problems = {p.file: p.message for p in result.problems}
    assert set(problems) == {
        "broken/README.md",
        "broken/config.json",
        "broken/adapter_config.json",
        "broken/mergekit_config.yml",
        "broken/bad.gguf",
    }
    assert "not UTF-8" in problems["broken/README.md"]
    assert "not valid JSON" in problems["broken/config.json"]
    assert "expected a JSON object" in problems["broken/adapter_config.json"]
    assert "not valid YAML" in problems["broken/mergekit_config.yml"]
    assert "GGUF" in problems["broken/bad.gguf"]
    assert result.skipped == 5
    assert "local/broken" in by_id(result) and not by_id(result)["local/broken"].parents
    assert len(result.models) == 9  # the eight good folders and the broken one


def test_a_path_that_is_not_a_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        scan(tmp_path / "nowhere")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(SourceError, match="not a folder"):
        scan(tmp_path / "file.txt")


def test_cli_scan_json_lists_findings_and_skips(models: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["--db", str(tmp_path / "s.sqlite"), "scan", str(models), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["skipped"] == 5 and len(doc["models"]) == 9
    lora = next(m for m in doc["models"] if m["id"] == "local/team--lora")
    assert lora["parents"][0]["relation"] == "adapter"


def test_cli_scan_table_names_the_skipped_files(models: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--db", str(tmp_path / "s.sqlite"), "scan", str(models)])
    assert result.exit_code == 0, result.output
    assert "skipped broken/config.json: not valid JSON" in result.output
    assert "5 skipped" in result.output


def test_ingest_records_the_scan_as_a_snapshot_with_evidence(models: Path, new_db) -> None:
    g = filiation.open(new_db("scan"))
    g.stats()  # the bundled Hub sample is loaded first
    report = g.ingest_scan(models / "team")
    assert report.source == "scan" and report.links == 1 and report.nodes == 1
    path = g.path(LLAMA_BASE, "local/lora")
    assert path.found
    last = path.links[-1]
    assert (last.parent, last.child, last.relation) == (LLAMA, "local/lora", "adapter")
    assert not last.declared and last.source.startswith("scan#")
    assert last.evidence == (
        "lora/adapter_config.json:base_model_name_or_path; lora/README.md:base_model"
    )
    # The Hub's own lineage is still there beside the scan.
    assert g.show(LLAMA).children_by_relation["adapter"] >= 2
    # A new scan under the same name replaces the previous findings.
    g.ingest_scan(models / "gguf")
    assert "local/lora" not in [h.id for h in g.search("local/lora")]
    assert [p.id for p in g.show("local/gguf").parents] == [LLAMA]
    # Another name is another source: both scans stay, and a relation the card states is
    # still recorded as inferred, the card's field named in the evidence.
    g.ingest_scan(models / "hub", name="cache")
    assert [p.id for p in g.show("local/gguf").parents] == [LLAMA]
    (link,) = g.path(LLAMA, "someorg/Llama-3.1-8B-Instruct-AWQ").links
    assert (link.relation, link.declared) == ("quantized", False)
    assert link.source.startswith("scan:cache#")
    assert "README.md:base_model_relation" in (link.evidence or "")
