"""``scan --weights`` on generated families: directed edge F1, relation accuracy, merges,
quantised recall, false links across families, time and peak memory.

    python benchmarks/weights.py                       # build (once) then measure
    python benchmarks/weights.py --workdir /tmp/fw --families 4 --seed 0

``--families`` families of 10 models each (default 4 -> 40 models) of a ~25 M parameter BERT
(hidden 512, 4 layers, vocabulary 24k), each family from its own random initialisation, built
by real operations (tests/weight_families.py): two fine-tunes of the root and a fine-tune of
the first (AdamW steps on their own regression targets), a LoRA trained with ``peft`` and
merged, fp16, bf16 and int8-per-row copies, a GGUF Q8_0 copy and a linear merge of the two
fine-tunes. The folders are built once under ``--workdir`` (reused while ``--seed`` and
``--families`` are unchanged); the scan is then measured in a fresh process (time, peak RSS).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]


def build(workdir: Path, families: int, seed: int) -> dict[str, list[list[str]]]:
    import torch
    from tests import weight_families as wf
    from transformers import BertConfig, BertModel

    torch.set_num_threads(2)
    cfg = BertConfig(
        vocab_size=24000,
        hidden_size=512,
        num_hidden_layers=4,
        num_attention_heads=8,
        intermediate_size=2048,
        max_position_embeddings=256,
    )
    c = {k: v for k, v in cfg.to_dict().items() if k != "_name_or_path"}

    def make() -> Any:
        return BertModel(cfg, add_pooling_layer=False)

    truth: dict[str, list[list[str]]] = {}
    for f in range(families):
        s = seed * 1000 + f * 10
        torch.manual_seed(s)
        root = wf.state(make())
        p = f"f{f}"
        ft_a = wf.finetune(make, root, s + 1, steps=4)
        ft_b = wf.finetune(make, root, s + 2, steps=4)
        ft_a1 = wf.finetune(make, ft_a, s + 3, steps=4)
        lora = wf.lora(make, root, s + 4, 4, None, ["query", "value", "dense"])
        models = {
            "root": (root, "F32", []),
            "ft-a": (ft_a, "F32", [("root", "finetune")]),
            "ft-b": (ft_b, "F32", [("root", "finetune")]),
            "ft-a1": (ft_a1, "F32", [("ft-a", "finetune")]),
            "lora": (lora, "F32", [("root", "adapter")]),
            "ft-a-fp16": (ft_a, "F16", [("ft-a", "quantized")]),
            "ft-a1-bf16": (ft_a1, "BF16", [("ft-a1", "quantized")]),
            "ft-b-int8": (ft_b, "I8", [("ft-b", "quantized")]),
            "merge": (
                wf.merge([(ft_a, 0.5), (ft_b, 0.5)]),
                "F32",
                [("ft-a", "merge"), ("ft-b", "merge")],
            ),
        }
        for name, (weights, dtype, parents) in models.items():
            wf.save(workdir / p / name, weights, c, dtype)
            if parents:
                truth[f"{p}--{name}"] = [[f"{p}--{q}", r] for q, r in parents]
        wf.save_gguf(workdir / p / "root-q8", root, "bert", cfg.num_hidden_layers, "Q8_0")
        truth[f"{p}--root-q8"] = [[f"{p}--root", "quantized"]]
        print(f"family {f} built", file=sys.stderr)
    return truth


def measure(workdir: Path) -> dict[str, Any]:
    """Run in its own process: the scan with --weights, timed, and its peak memory."""
    from filiation.inference.weights.scan import add_weight_links
    from filiation.sources.local_folder import scan

    t = time.perf_counter()
    result = scan(workdir)
    forest = add_weight_links(result)
    elapsed = time.perf_counter() - t
    links = [
        [
            m.id.removeprefix("local/"),
            p.parent.removeprefix("local/"),
            p.relation.value,
            p.confidence,
        ]
        for m in result.models
        for p in m.parents
        if p.source == "weights"
    ]
    return {
        "models": len(result.models),
        "links": links,
        "problems": [p.message for p in result.problems],
        "pairs": forest.pairs,
        "rho": forest.rho,
        "seconds": round(elapsed, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def score(truth: dict[str, list[list[str]]], run: dict[str, Any]) -> dict[str, Any]:
    true_edges = {(c, p): r for c, ps in truth.items() for p, r in ps}
    found = {(c, p): r for c, p, r, _ in run["links"]}
    right = set(found) & set(true_edges)
    precision = len(right) / len(found) if found else 0.0
    recall = len(right) / len(true_edges)
    f1 = 2 * precision * recall / (precision + recall) if right else 0.0
    per_relation: dict[str, str] = {}
    for rel in sorted(set(true_edges.values())):
        edges = [e for e, r in true_edges.items() if r == rel]
        hit = [e for e in edges if found.get(e) == rel]
        per_relation[rel] = f"{len(hit)}/{len(edges)}"
    typed = sum(1 for e in right if found[e] == true_edges[e])
    merges = [c for c, ps in truth.items() if all(r == "merge" for _, r in ps) and len(ps) > 1]
    both = sum(1 for c in merges if all(found.get((c, p)) == "merge" for p, _ in truth[c]))
    quant = [e for e, r in true_edges.items() if r == "quantized"]
    cross = [e for e in found if e[0].split("--")[0] != e[1].split("--")[0]]
    # calibration: precision of the links found per confidence band
    bands: dict[str, list[int]] = {}
    for c, p, r, conf in run["links"]:
        band = "0.9-1.0" if conf >= 0.9 else "0.7-0.9" if conf >= 0.7 else "0.5-0.7"
        ok = true_edges.get((c, p)) == r
        bands.setdefault(band, [0, 0])[0] += ok
        bands[band][1] += 1

    def family(model_id: str) -> str:
        return model_id.removeprefix("local/").split("--")[0]

    across = [abs(r) for a, b, r in run["rho"] if family(a) != family(b)]
    within = [r for a, b, r in run["rho"] if family(a) == family(b)]
    return {
        "rho_unrelated_max_abs": max(across, default=None),
        "rho_related_min": min(within, default=None),
        "directed_f1": round(f1, 3),
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "relation_right": round(typed / len(right), 3) if right else 0.0,
        "per_relation_recall": per_relation,
        "merges_both_parents": f"{both}/{len(merges)}",
        "quantized_recall": round(sum(found.get(e) == "quantized" for e in quant) / len(quant), 3),
        "links_across_families": len(cross),
        "precision_by_confidence": {b: f"{ok}/{n}" for b, (ok, n) in sorted(bands.items())},
        "missed": sorted(
            f"{c} <- {p} ({r})" for (c, p), r in true_edges.items() if found.get((c, p)) != r
        ),
        "wrong": sorted(
            f"{c} <- {p} ({r})" for (c, p), r in found.items() if true_edges.get((c, p)) != r
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/filiation-weights-bench"))
    ap.add_argument("--families", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure_only:
        print(json.dumps(measure(args.workdir / "models")))
        return
    stamp = args.workdir / "truth.json"
    key = {"families": args.families, "seed": args.seed}
    if not stamp.exists() or json.loads(stamp.read_text()).get("key") != key:
        shutil.rmtree(args.workdir / "models", ignore_errors=True)
        t = time.perf_counter()
        truth = build(args.workdir / "models", args.families, args.seed)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({"key": key, "truth": truth}))
        print(f"built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    truth = json.loads(stamp.read_text())["truth"]
    out = subprocess.run(
        [sys.executable, __file__, "--workdir", str(args.workdir), "--measure-only"],
        check=True,
        capture_output=True,
        text=True,
    )
    run = json.loads(out.stdout.strip().splitlines()[-1])
    report = {
        "models": run["models"],
        "pairs_compared": run["pairs"],
        "seconds": run["seconds"],
        "peak_rss_mb": run["peak_rss_mb"],
        "problems": run["problems"],
        **score(truth, run),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
