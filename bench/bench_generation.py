#!/usr/bin/env python
"""Benchmark answer generation (not a test): kd_core.models.generation against the loop a user
writes first, one `model.generate` per prompt.

Every stage of TuneShift-KD and prompt distillation answers many prompts (the fine-tuned
model's answers to scored prompts, teacher answers, evaluation).  `generate` batches
prompts of similar length with left padding; the baseline answers them one at a time.
Both run greedy on the demo's fine-tuned model (SmolLM2-135M + demo adapter) over the
same demo questions, taking turns chunk by chunk so a change in the machine's load hits
both alike.  The figure is answer tokens per second (the answers re-tokenized, so both
are counted the same way); also how many answers came out identical (batching in fp32
can flip a near-tie between two tokens, which changes the rest of that answer).

    .venv/bin/python bench/bench_generation.py                 # the reported run
    .venv/bin/python bench/bench_generation.py --prompts 8 --chunk 4 --out /tmp/g.json   # quick
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.common import row, write  # noqa: E402
from kd_core.demo import world as demo  # noqa: E402
from kd_core.demo.models import DEMO_ADAPTER_DIR  # noqa: E402
from kd_core.models.generation import GenerationConfig, chat_text, encode_prompt, generate  # noqa: E402
from kd_core.models.loading import ModelSpec, load_model  # noqa: E402


@torch.inference_mode()
def one_at_a_time(lm, prompts: list[str], max_new_tokens: int) -> list[str]:
    """The first loop one writes: chat template, generate, decode, per prompt."""
    out = []
    for p in prompts:
        ids = torch.tensor([encode_prompt(lm.tokenizer, chat_text(lm.tokenizer, p))], device=lm.device)
        seq = lm.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                do_sample=False, pad_token_id=lm.tokenizer.pad_token_id)
        out.append(lm.tokenizer.decode(seq[0, ids.shape[1]:], skip_special_tokens=True).strip())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=96)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--chunk", type=int, default=32, help="prompts per turn")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    spec = ModelSpec("demo:smollm2-135m-instruct", adapter=str(DEMO_ADAPTER_DIR) if (DEMO_ADAPTER_DIR / "adapter_config.json").exists() else None)
    lm = load_model(spec)
    prompts = [q.question for q in demo.qa_items("test")][: args.prompts]
    cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    print(f"{len(prompts)} demo questions, greedy, up to {args.max_new_tokens} new tokens, batch {args.batch_size}, "
          f"model {spec.name}{' + demo adapter' if spec.adapter else ''}, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    generate(lm, prompts[:2], cfg)  # warm-up

    def n_tokens(texts: list[str]) -> int:
        return sum(len(lm.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)

    wall = {"ours": 0.0, "loop": 0.0}
    toks = {"ours": 0, "loop": 0}
    same = 0
    for c0 in range(0, len(prompts), args.chunk):
        chunk = prompts[c0 : c0 + args.chunk]
        t0 = time.perf_counter()
        ours = generate(lm, chunk, cfg)
        wall["ours"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        loop = one_at_a_time(lm, chunk, args.max_new_tokens)
        wall["loop"] += time.perf_counter() - t0
        toks["ours"] += n_tokens(ours)
        toks["loop"] += n_tokens(loop)
        same += sum(a == b for a, b in zip(ours, loop))
        print(f"  after {c0 + len(chunk):>4} prompts: ours {toks['ours'] / wall['ours']:.1f}, one at a time "
              f"{toks['loop'] / wall['loop']:.1f} tok/s (load {os.getloadavg()[0]:.2f})", flush=True)
    res = {"prompts": len(prompts), "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size, "model": spec.name,
           "adapter": spec.adapter, "wall_s": wall, "answer_tokens": toks,
           "ours_tok_s": toks["ours"] / wall["ours"], "loop_tok_s": toks["loop"] / wall["loop"], "identical_answers": same}
    res["ours_vs_loop"] = res["ours_tok_s"] / res["loop_tok_s"]
    print(f"ours {res['ours_tok_s']:.1f} tok/s | one at a time {res['loop_tok_s']:.1f} tok/s | ratio {res['ours_vs_loop']:.2f}x "
          f"(goal >= 2x) | identical answers {same}/{len(prompts)}", flush=True)
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"generation-{len(prompts)}.json"
    write(out, res, [row("generation: greedy answers, demo fine-tuned model", res["ours_tok_s"], "answer tok/s",
                         "one model.generate per prompt", res["loop_tok_s"], goal=">= 2x")])


if __name__ == "__main__":
    main()
