#!/usr/bin/env python
"""Benchmark prompt-distillation KD training with and without the teacher cache (not a test).

The setting of `kd-studio pd`: SmolLM2-135M-Instruct as its own teacher (adapter off),
the teacher reading a demo document before each question, the student the question
alone, forward KL over the full vocabulary at the answer positions.  Without the cache
the teacher runs over its whole prompt (document included) every epoch; with it
(`train.teacher_cache_mb`, the default) only in the first.  The two take turns (--reps
rounds) so a change in the machine's load hits both alike; the losses logged agree
exactly in fp32 (the cache is exact there; under bf16 autocast, on CPUs with AVX-512 bf16,
a teacher recomputed in a batch of another shape differs slightly, so they agree to ~1e-3).
Prints student tokens/s for each and the ratio.

    .venv/bin/python bench/bench_kd.py               # the reported run
    .venv/bin/python bench/bench_kd.py --pairs 16 --epochs 2 --reps 1   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import kd_core  # noqa: E402,F401
from bench.common import row, write  # noqa: E402
from kd_core.demo import world as demo  # noqa: E402
from kd_core.evaluation.qa import CONTEXT_TEMPLATE  # noqa: E402
from kd_core.models.loading import ModelSpec  # noqa: E402
from kd_core.training.config import LoraSettings, TrainConfig  # noqa: E402
from kd_core.training.data import Example  # noqa: E402
from kd_core.training.trainer import train_lora  # noqa: E402

MODEL = "demo:smollm2-135m-instruct"


def pd_pairs(n: int) -> list[Example]:
    """(question, the fact's statement) with the paragraph that states it in the teacher's prompt."""
    facts = {f.id: f for f in demo.facts()}
    out = []
    for doc in demo.documents():
        paragraphs = doc["text"].split("\n\n")
        for fid in doc["facts"]:
            f = facts[fid]
            para = next((p for p in paragraphs if f.subject.split()[0] in p), paragraphs[0])
            out.append(Example(f.train[0], f.statement, teacher_prompt=CONTEXT_TEMPLATE.format(context=para, question=f.train[0])))
    return out[:n]


def run(pairs: list[Example], epochs: float, batch: int, cache_mb: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        cfg = TrainConfig(output_dir=d, loss="kd", epochs=epochs, batch_size=batch, learning_rate=1e-3, warmup=0.0,
                          logging_steps=1, teacher_cache_mb=cache_mb, lora=LoraSettings(dropout=0.0))
        s = train_lora(ModelSpec(MODEL), pairs, cfg, print_logs=False)
        losses = [r["loss"] for r in map(json.loads, (Path(d) / "log.jsonl").read_text().splitlines()) if "loss" in r]
    return {"tokens": s["tokens_per_epoch"] * epochs, "wall_s": s["wall_s"], "tokens_per_s": s["tokens_per_s"],
            "losses": losses, "teacher_cache": s["teacher_cache"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=64)
    ap.add_argument("--epochs", type=float, default=4)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    pairs = pd_pairs(args.pairs)
    res: dict = {"pairs": len(pairs), "epochs": args.epochs, "batch_size": args.batch_size, "model": MODEL, "runs": []}
    print(f"{len(pairs)} demo PD pairs, {args.epochs:g} epochs, batch {args.batch_size}, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    totals = {"cache": [0.0, 0.0], "no_cache": [0.0, 0.0]}
    losses = {}
    for rep in range(args.reps):
        for name, mb in (("cache", 1024), ("no_cache", 0)):
            r = run(pairs, args.epochs, args.batch_size, mb)
            totals[name][0] += r["tokens"]
            totals[name][1] += r["wall_s"]
            losses[name] = r["losses"]
            res["runs"].append({"method": name, "rep": rep, **r, "load": os.getloadavg()[0]})
            print(f"  rep {rep} {name:<8} {r['tokens_per_s']:.1f} tok/s ({r['wall_s']:.1f} s; cache {r['teacher_cache']}; "
                  f"load {os.getloadavg()[0]:.2f})", flush=True)
    for name, (tok, wall) in totals.items():
        res[f"{name}_tok_s"] = tok / wall
    res["cache_vs_no_cache"] = res["cache_tok_s"] / res["no_cache_tok_s"]
    res["max_loss_difference"] = max(abs(a - b) for a, b in zip(losses["cache"], losses["no_cache"]))
    print(f"with cache {res['cache_tok_s']:.1f} tok/s | without {res['no_cache_tok_s']:.1f} tok/s | "
          f"ratio {res['cache_vs_no_cache']:.2f}x (goal > 1.0x) | largest logged-loss difference {res['max_loss_difference']:.2e}",
          flush=True)
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"kd-cache-{len(pairs)}.json"
    write(out, res, [row(f"prompt-distillation KD: {len(pairs)} pairs, {args.epochs:g} epochs", res["cache_tok_s"], "student tok/s",
                         "teacher recomputed every epoch (no cache)", res["no_cache_tok_s"], goal="> 1.0x")])


if __name__ == "__main__":
    main()
