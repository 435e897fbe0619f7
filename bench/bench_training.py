#!/usr/bin/env python
"""Benchmark LoRA SFT training speed and memory (not a test).

Speed: `kd_core.training.trainer.train_lora` (transformers.Trainer, response-only loss with the
output layer only at response positions) against a plain hand-written PyTorch loop
(the same model, LoRA, data, batch size, optimizer and learning rate; the model's own
loss over full logits, the way most training scripts do it), on SmolLM2-135M-Instruct
and real demo pairs.  The two take turns (--reps rounds) so a change in the machine's
load hits both alike.  Prints tokens/s for each and the ratio.

Memory: peak resident memory (ru_maxrss) of a few training steps in a fresh process
for plain LoRA at the CPU default dtype (fp32), in bf16, and as 4-bit QLoRA (nf4), with
the memory the loaded weights take (transformers' get_memory_footprint).

    .venv/bin/python bench/bench_training.py                 # the reported run
    .venv/bin/python bench/bench_training.py --examples 32   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import kd_core  # noqa: E402,F401
from bench.common import row, write  # noqa: E402
from kd_core.demo.world import finetune_examples  # noqa: E402
from kd_core.models.loading import ModelSpec, load_model  # noqa: E402
from kd_core.training.config import LoraSettings, TrainConfig  # noqa: E402
from kd_core.training.data import PairDataset, collate  # noqa: E402
from kd_core.training.trainer import add_lora, train_lora  # noqa: E402

MODEL = "demo:smollm2-135m-instruct"


def examples(n: int):
    return finetune_examples([], seed=0)[:n]


def plain_loop(exs, cfg: TrainConfig) -> dict:
    """The hand-written baseline: fixed batches in order, full forward with labels, AdamW."""
    torch.manual_seed(cfg.seed)
    lm = load_model(ModelSpec(MODEL))
    model = add_lora(lm.model, cfg.lora, cfg.seed)
    model.train()
    data = PairDataset(lm.tokenizer, exs, cfg.max_length, cfg.system)
    loader = torch.utils.data.DataLoader(data, batch_size=cfg.batch_size, shuffle=True, collate_fn=collate(lm.tokenizer.pad_token_id))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate, weight_decay=0.0)
    n_tokens = sum(len(x["input_ids"]) for x in data.items)
    t0 = time.perf_counter()
    for batch in loader:
        loss = model(**batch).loss  # the model's own loss: full logits, shifted cross-entropy
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    wall = time.perf_counter() - t0
    return {"tokens": n_tokens, "wall_s": wall, "tokens_per_s": n_tokens / wall, "final_loss": float(loss)}


def ours(exs, cfg: TrainConfig) -> dict:
    with tempfile.TemporaryDirectory() as d:
        cfg.output_dir = d
        s = train_lora(ModelSpec(MODEL), exs, cfg, print_logs=False)
    return {"tokens": s["tokens_per_epoch"], "wall_s": s["wall_s"], "tokens_per_s": s["tokens_per_s"],
            "final_loss": s["final_loss"] if s["final_loss"] is not None else s["train_loss"]}


def memory_probe(kind: str, n: int, steps: int) -> None:
    """Run in a fresh process: a few training steps, then print peak RSS as JSON."""
    spec = ModelSpec(MODEL, dtype="bfloat16" if kind == "bf16" else "auto", load_in_4bit=kind == "4bit")
    cfg = TrainConfig(max_steps=steps, batch_size=8, warmup=0.0, logging_steps=1, lora=LoraSettings())
    lm = load_model(spec)
    weights_mb = lm.model.get_memory_footprint() / 2**20  # what the weights hold once loaded (4-bit: packed)
    with tempfile.TemporaryDirectory() as d:
        cfg.output_dir = d
        t0 = time.perf_counter()
        train_lora(lm, examples(n), cfg, print_logs=False)
        wall = time.perf_counter() - t0
    # Peak RSS includes loading, where the CPU path still materializes full-precision weights.
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"kind": kind, "weights_mb": round(weights_mb, 1), "peak_rss_mb": round(peak_mb, 1), "steps": steps,
                      "wall_s": round(wall, 1)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--memory-steps", type=int, default=1)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.probe:
        memory_probe(args.probe, args.examples, args.memory_steps)
        return

    exs = examples(args.examples)
    res: dict = {"examples": len(exs), "batch_size": args.batch_size, "model": MODEL, "runs": []}
    print(f"{len(exs)} demo pairs, batch {args.batch_size}, LoRA r16 all-linear, 1 epoch, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    totals = {"ours": [0, 0.0], "plain": [0, 0.0]}
    for rep in range(args.reps):
        for name, fn in (("ours", ours), ("plain", plain_loop)):
            cfg = TrainConfig(epochs=1, batch_size=args.batch_size, learning_rate=1e-3, warmup=0.0, logging_steps=5,
                              lora=LoraSettings(dropout=0.0))
            r = fn(exs, cfg)
            totals[name][0] += r["tokens"]
            totals[name][1] += r["wall_s"]
            res["runs"].append({"method": name, "rep": rep, **r, "load": os.getloadavg()[0]})
            print(f"  rep {rep} {name:<5} {r['tokens_per_s']:.1f} tok/s ({r['tokens']} tokens, {r['wall_s']:.1f} s, "
                  f"final loss {r['final_loss']:.3f}; load {os.getloadavg()[0]:.2f})", flush=True)
    for name, (tok, wall) in totals.items():
        res[f"{name}_tok_s"] = tok / wall
    res["ours_vs_plain"] = res["ours_tok_s"] / res["plain_tok_s"]
    print(f"ours {res['ours_tok_s']:.1f} tok/s | plain loop {res['plain_tok_s']:.1f} tok/s | "
          f"ratio {res['ours_vs_plain']:.2f}x (goal >= 1.0x)", flush=True)

    if not args.skip_memory:
        res["memory"] = {}
        for kind in ("fp32", "bf16", "4bit"):
            p = subprocess.run([sys.executable, __file__, "--probe", kind, "--examples", "32", "--memory-steps", str(args.memory_steps)],
                               capture_output=True, text=True)
            line = next((x for x in p.stdout.splitlines() if x.startswith("{")), None)
            res["memory"][kind] = json.loads(line) if line else {"error": (p.stderr or p.stdout)[-500:]}
            print(f"  memory {kind}: {res['memory'][kind]}", flush=True)
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"training-{len(exs)}.json"
    summary = [row(f"training: LoRA SFT, {len(exs)} demo pairs, batch {args.batch_size}", res["ours_tok_s"], "tok/s",
                   "plain PyTorch loop", res["plain_tok_s"], goal=">= 1.0x")]
    if "memory" in res and "weights_mb" in res["memory"].get("4bit", {}) and "weights_mb" in res["memory"].get("fp32", {}):
        summary.append(row("training: weights in memory, 4-bit", res["memory"]["4bit"]["weights_mb"], "MB", "fp32",
                           res["memory"]["fp32"]["weights_mb"], higher_is_better=False))
    write(out, res, summary)


if __name__ == "__main__":
    main()
