#!/usr/bin/env python
"""KD Studio's training against TRL, the trainer our users would pick instead (not a test).

Same run, same data, same LoRA, same seed, fp32, on the demo's SmolLM2-135M-Instruct and
Gemma 3 270M (its 262k-token vocabulary is where computing only the needed logits pays):

1. Parity, step 0 (one batch of 8, in this process).  One LoRA model (B drawn at random,
   so the A matrices get gradients too) and one batch, tokenized once:
   - SFT: our `sft_loss` vs TRL's `SFTTrainer.compute_loss` (its default "nll" loss, the
     fused LM head that projects only the completion positions, in tiles) on the batch
     TRL's own collator makes from the pre-tokenized rows (`input_ids`, `completion_mask`):
     the loss and every LoRA gradient, goal equal within 1e-4.
   - KD: our `response_losses(..., want=("kd",))` vs TRL's `GKDTrainer.generalized_jsd_loss`
     at beta 0 (forward KL(teacher || student)) on the two models' full logits: goal equal
     within 1e-5 at T=1; at T=2 ours is T^2 times TRL's (our loss keeps a cross-entropy's
     gradient scale as T changes, TRL's does not), and the bench checks that too.
   The teacher is a model that differs from the student: SmolLM2 with the demo's
   fine-tune adapter, Gemma with the demo student's adapter (recorded in assets/demo).
   Also: whether TRL's own tokenization of the same pairs (conversational prompt-completion
   rows, its chat-template path) gives our tokens, row for row.

2. Speed and memory, each arm in a fresh process, the same 128 demo pairs, 16 optimizer
   steps of batch 8, learning rate 1e-3, constant schedule, no warm-up, LoRA r16 on all
   linear layers, no dropout, no gradient checkpointing, fp32:
   - SFT: ours (`train_lora`, the product path) vs TRL `SFTTrainer` (pre-tokenized rows,
     its collator and loss).  The 16-step loss curves side by side.
   - KD: ours (`train_lora(loss="kd")`, T=1, the separate teacher) vs TRL `GKDTrainer`
     (lmbda 0: on-policy generation off; beta 0; its loss at T=1) fed our batches.
   tokens/s = the arm's input tokens (prompt and response, no padding) / the wall time of
   `trainer.train()`; memory = the peak resident memory during training above the memory
   before it (sampled every 5 ms), and the process's peak.  Arms alternate over --reps.

    .venv/bin/python bench/bench_trl.py                    # the reported run (~30 min here)
    .venv/bin/python bench/bench_trl.py --quick            # SmolLM2 only, 2 steps: does it run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402

import kd_core  # noqa: E402,F401
from bench.common import row, write  # noqa: E402
from kd_core.demo.models import DEMO_ADAPTER_DIR  # noqa: E402
from kd_core.demo.world import finetune_examples  # noqa: E402
from kd_core.models.loading import ModelSpec, load_model  # noqa: E402
from kd_core.training.config import LoraSettings, TrainConfig  # noqa: E402
from kd_core.training.data import PairDataset, collate  # noqa: E402

MODELS = {
    "smollm2": ("demo:smollm2-135m-instruct", str(DEMO_ADAPTER_DIR)),
    "gemma": ("demo:gemma3-270m", str(ROOT / "assets" / "demo" / "student" / "job" / "adapter")),
}
SEED = 0


def examples(n: int):
    return finetune_examples([], seed=0)[:n]


def train_config(steps: int, batch: int, loss: str = "sft") -> TrainConfig:
    """The settings every arm shares (TRL's arms copy them field by field)."""
    return TrainConfig(loss=loss, max_steps=steps, batch_size=batch, learning_rate=1e-3, warmup=0.0, scheduler="constant",
                       weight_decay=0.0, logging_steps=1, save_steps=0, seed=SEED, kd_temperature=1.0,
                       lora=LoraSettings(r=16, alpha=32, dropout=0.0))


def trl_args(cls, cfg: TrainConfig, out: str, **extra):
    """TRL's config with our settings: fp32 and no gradient checkpointing (TRL's own
    defaults turn both on; the comparison is at equal settings)."""
    return cls(output_dir=out, max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
               learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.scheduler, warmup_steps=0, weight_decay=cfg.weight_decay,
               logging_steps=1, save_strategy="no", report_to=[], seed=SEED, data_seed=SEED, use_cpu=True, bf16=False,
               gradient_checkpointing=False, dataloader_num_workers=0, disable_tqdm=True,
               train_sampling_strategy="group_by_length", **extra)


def sft_args(cfg: TrainConfig, out: str):
    from trl import SFTConfig

    # completion_only_loss: pre-tokenized rows are read as plain language modelling unless
    # told (TRL's prompt-completion rows turn it on by themselves).
    return trl_args(SFTConfig, cfg, out, completion_only_loss=True)


def pretokenized(tokenizer, exs, cfg: TrainConfig):
    """Our tokenization as the rows a TRL user passes pre-tokenized: input_ids and completion_mask."""
    from datasets import Dataset

    items = PairDataset(tokenizer, exs, cfg.max_length, cfg.system).items
    return Dataset.from_list([{"input_ids": x["input_ids"], "completion_mask": [int(v != -100) for v in x["labels"]]}
                              for x in items])


class PeakRSS:
    """The process's resident memory sampled every 5 ms while the block runs (the CPU has
    no allocator counter like CUDA's max_memory_allocated)."""

    def __init__(self):
        self.before = self.peak = 0
        self._stop = threading.Event()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.005)

    def __enter__(self):
        self.before = self.peak = self._rss()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    def figures(self) -> dict:
        return {"train_peak_above_start_mb": round((self.peak - self.before) / 2**20, 1),
                "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


# ---------------------------------------------------------------------------
# 1. Parity


def lora_grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> tuple[float, float]:
    """(max |a - b| over every LoRA gradient, max |a|): the scale the difference is read against."""
    assert a.keys() == b.keys(), "the two losses trained different parameters"
    return (max(float((a[k] - b[k]).abs().max()) for k in a), max(float(a[k].abs().max()) for k in a))


def parity(key: str, batch_size: int) -> dict:
    from trl import SFTTrainer
    from trl.experimental.gkd import GKDTrainer

    from kd_core.training.losses import response_losses, sft_loss
    from kd_core.training.trainer import add_lora

    name, teacher_adapter = MODELS[key]
    cfg = train_config(1, batch_size)
    lm = load_model(ModelSpec(name))
    exs = examples(batch_size)
    model = add_lora(lm.model, cfg.lora, SEED)
    torch.manual_seed(1)
    with torch.no_grad():  # a fresh B is zero (so are A's gradients): draw it, so that every LoRA weight is checked
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.02)
    model.train()
    res: dict = {"model": name}

    # SFT: our loss on our batch; TRL's loss on the batch its collator makes from the same rows.
    batch = collate(lm.tokenizer.pad_token_id)(PairDataset(lm.tokenizer, exs, cfg.max_length, cfg.system).items)
    model.zero_grad(set_to_none=True)
    ours_loss = sft_loss(model, batch)[0]
    ours_loss.backward()
    ours_g = lora_grads(model)
    # fp32's noise floor: the same loss with the output layer one position at a time (only
    # the order of the float sums differs).
    model.zero_grad(set_to_none=True)
    floor_loss = sft_loss(model, batch, chunk_size=1)[0]
    floor_loss.backward()
    floor_diff, _ = max_diff(ours_g, lora_grads(model))
    with tempfile.TemporaryDirectory() as d:
        trainer = SFTTrainer(model=model, args=sft_args(cfg, d), train_dataset=pretokenized(lm.tokenizer, exs, cfg),
                             processing_class=lm.tokenizer)
        inputs = trainer.data_collator([trainer.train_dataset[i] for i in range(len(exs))])
        same_tokens = torch.equal(inputs["input_ids"], batch["input_ids"]) and torch.equal(inputs["labels"], batch["labels"])
        model.zero_grad(set_to_none=True)
        trl_loss = trainer.compute_loss(model, dict(inputs))
        trl_loss.backward()
        trl_g = lora_grads(model)
    gdiff, gscale = max_diff(ours_g, trl_g)
    res["sft"] = {"batch_equal": same_tokens, "ours_loss": float(ours_loss), "trl_loss": float(trl_loss),
                  "loss_diff": abs(float(ours_loss) - float(trl_loss)), "grad_max_diff": gdiff, "grad_max": gscale,
                  "tensors": len(ours_g), "ok": abs(float(ours_loss) - float(trl_loss)) <= 1e-4 and gdiff <= 1e-4,
                  "noise_floor": {"loss_diff": abs(float(ours_loss) - float(floor_loss)), "grad_max_diff": floor_diff}}
    print(f"  {key} SFT step 0: ours {float(ours_loss):.6f}, TRL {float(trl_loss):.6f} (|diff| {res['sft']['loss_diff']:.1e}); "
          f"LoRA gradients max |diff| {gdiff:.1e} (largest {gscale:.1e}, {len(ours_g)} tensors); same batch: {same_tokens}; "
          f"fp32 noise floor (ours, another chunking): loss {res['sft']['noise_floor']['loss_diff']:.1e}, gradients {floor_diff:.1e}",
          flush=True)

    # TRL's own chat-template tokenization of the same pairs, where the model has a chat template.
    if lm.tokenizer.chat_template and not lm.default_template:
        from datasets import Dataset

        rows = Dataset.from_list([{"prompt": [{"role": "user", "content": e.prompt}],
                                   "completion": [{"role": "assistant", "content": e.response}]} for e in exs])
        with tempfile.TemporaryDirectory() as d:
            own = SFTTrainer(model=model, args=sft_args(cfg, d), train_dataset=rows, processing_class=lm.tokenizer)
            mine = pretokenized(lm.tokenizer, exs, cfg)
            theirs = [(a["input_ids"], [int(v != -100) for v in a["labels"]]) for a in own.train_dataset]
            newline = lm.tokenizer.encode("\n", add_special_tokens=False)
            res["trl_tokenization_rows_equal"] = sum(t == (b["input_ids"], b["completion_mask"]) for t, b in zip(theirs, mine))
            # TRL renders the whole conversation and keeps the template's newline after the end-of-turn token.
            res["trl_tokenization_rows_equal_but_final_newline"] = sum(
                t[0][-len(newline):] == newline and (t[0][:-len(newline)], t[1][:-len(newline)]) == (b["input_ids"], b["completion_mask"])
                for t, b in zip(theirs, mine))
        print(f"  {key} TRL's own chat-template tokenization of the pairs equals ours on {res['trl_tokenization_rows_equal']}/{len(exs)} "
              f"rows, and on {res['trl_tokenization_rows_equal_but_final_newline']}/{len(exs)} but for a final newline token "
              "TRL also trains on", flush=True)
    else:
        res["trl_tokenization_rows_equal"] = None  # no chat template: KD Studio's plain template; TRL has none to compare

    # KD: forward KL from a teacher that differs from the student.
    teacher = load_model(ModelSpec(name, adapter=teacher_adapter)).model.eval()
    for T in (1.0, 2.0):
        model.zero_grad(set_to_none=True)
        ours = response_losses(model, batch, teacher, temperature=T, want=("kd",))["kd"]
        ours.backward()
        ours_g = lora_grads(model)
        model.zero_grad(set_to_none=True)
        s_logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        with torch.no_grad():
            t_logits = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        theirs = GKDTrainer.generalized_jsd_loss(s_logits[:, :-1], t_logits[:, :-1], batch["labels"][:, 1:], beta=0.0, temperature=T)
        (theirs * T * T).backward()  # TRL's loss times T^2: our convention, so the gradients compare at any T
        trl_g = lora_grads(model)
        gdiff, gscale = max_diff(ours_g, trl_g)
        diff = abs(float(ours) - float(theirs) * T * T)
        res[f"kd_T{T:g}"] = {"ours_loss": float(ours), "trl_loss": float(theirs), "ratio": float(ours) / float(theirs),
                              "loss_diff_after_T2": diff, "grad_max_diff": gdiff, "grad_max": gscale, "ok": diff <= 1e-5 and gdiff <= 1e-5}
        print(f"  {key} KD T={T:g}: ours {float(ours):.7f}, TRL GJSD beta 0 {float(theirs):.7f} (ours/TRL {float(ours) / float(theirs):.4f}, "
              f"T^2 = {T * T:g}); |ours - T^2 TRL| {diff:.1e}; gradients max |diff| {gdiff:.1e} (largest {gscale:.1e})", flush=True)
    return res


# ---------------------------------------------------------------------------
# 2. One arm, in its own process


def arm(kind: str, key: str, n: int, steps: int, batch: int) -> dict:
    name, teacher_adapter = MODELS[key]
    exs = examples(n)
    loss = "kd" if kind.endswith("kd") else "sft"
    cfg = train_config(steps, batch, loss)
    with tempfile.TemporaryDirectory() as d:
        if kind.startswith("ours"):
            from kd_core.training.trainer import train_lora

            lm = load_model(ModelSpec(name))
            # Loaded before the memory window, as TRL's arm loads its teacher before training.
            teacher = load_model(ModelSpec(name, adapter=teacher_adapter)) if loss == "kd" else None
            cfg.output_dir = d
            tokens = sum(len(x["input_ids"]) for x in PairDataset(lm.tokenizer, exs, cfg.max_length, cfg.system).items)
            with PeakRSS() as mem:
                t0 = time.perf_counter()
                summary = train_lora(lm, exs, cfg, teacher=teacher, print_logs=False)
                wall = time.perf_counter() - t0
            losses = [r["loss"] for r in map(json.loads, (Path(d) / "log.jsonl").read_text().splitlines()) if "loss" in r]
            train_wall = summary["wall_s"]  # trainer.train() alone (the teacher's load is outside it)
        else:
            from kd_core.training.trainer import add_lora

            lm = load_model(ModelSpec(name))
            model = add_lora(lm.model, cfg.lora, SEED)
            if loss == "sft":
                from trl import SFTTrainer

                data = pretokenized(lm.tokenizer, exs, cfg)
                trainer = SFTTrainer(model=model, args=sft_args(cfg, d), train_dataset=data, processing_class=lm.tokenizer)
                tokens = sum(len(x) for x in data["input_ids"])
            else:
                from trl.experimental.gkd import GKDConfig, GKDTrainer

                teacher = load_model(ModelSpec(name, adapter=teacher_adapter)).model.merge_and_unload().eval()
                from datasets import Dataset

                data = Dataset.from_list([{"input_ids": x["input_ids"], "labels": x["labels"]}
                                          for x in PairDataset(lm.tokenizer, exs, cfg.max_length, cfg.system).items])
                # lmbda 0: no on-policy generation, the dataset's answers only; beta 0: forward KL.
                trainer = GKDTrainer(model=model, teacher_model=teacher, args=trl_args(GKDConfig, cfg, d, lmbda=0.0, beta=0.0,
                                                                                      temperature=1.0, max_length=cfg.max_length,
                                                                                      remove_unused_columns=False),
                                     train_dataset=data, data_collator=collate(lm.tokenizer.pad_token_id), processing_class=lm.tokenizer)
                tokens = sum(len(x) for x in data["input_ids"])
            with PeakRSS() as mem:
                t0 = time.perf_counter()
                trainer.train()
                wall = train_wall = time.perf_counter() - t0
            losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    epochs = steps * batch / n  # the arms run whole passes over the n pairs (n = steps x batch in the reported run)
    return {"arm": kind, "model": name, "steps": steps, "tokens": tokens, "wall_s": round(train_wall, 2), "outer_wall_s": round(wall, 2),
            "tokens_per_s": round(tokens * epochs / train_wall, 1), "losses": [round(float(x), 5) for x in losses], **mem.figures(),
            "load": os.getloadavg()[0]}


def run_arm(kind: str, key: str, args) -> dict:
    cmd = [sys.executable, __file__, "--arm", kind, "--model", key, "--examples", str(args.examples), "--steps", str(args.steps),
           "--batch", str(args.batch)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    line = next((x for x in reversed(p.stdout.splitlines()) if x.startswith("{")), None)
    if p.returncode or line is None:
        raise SystemExit(f"arm {kind} {key} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="smollm2,gemma")
    ap.add_argument("--examples", type=int, default=128)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--skip-parity", action="store_true")
    ap.add_argument("--skip-kd", action="store_true")
    ap.add_argument("--parity-only", action="store_true", help="the step-0 parity checks only")
    ap.add_argument("--quick", action="store_true", help="SmolLM2, 16 pairs, 2 steps, 1 rep: checks that it runs")
    ap.add_argument("--arm", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--model", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.quick:
        args.models, args.examples, args.steps, args.reps = "smollm2", 16, 2, 1
    if args.arm:
        print(json.dumps(arm(args.arm, args.model, args.examples, args.steps, args.batch)))
        return

    keys = args.models.split(",")
    res: dict = {"settings": {"examples": args.examples, "steps": args.steps, "batch": args.batch, "reps": args.reps,
                              "lr": 1e-3, "lora": "r16 alpha32 all-linear, no dropout", "dtype": "fp32",
                              "gradient_checkpointing": False},
                 "trl": __import__("trl").__version__, "parity": {}, "runs": []}
    print(f"TRL {res['trl']}; torch threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.2f}", flush=True)
    if not args.skip_parity:
        for key in keys:
            res["parity"][key] = parity(key, args.batch)
    summary = []
    if args.parity_only:
        keys = []
    for key in keys:
        pairs = [("ours-sft", "trl-sft")] + ([] if args.skip_kd else [("ours-kd", "trl-gkd")])
        for ours_kind, trl_kind in pairs:
            got: dict[str, list] = {ours_kind: [], trl_kind: []}
            for rep in range(args.reps):
                for kind in ((ours_kind, trl_kind) if rep % 2 == 0 else (trl_kind, ours_kind)):
                    r = run_arm(kind, key, args)
                    r["rep"] = rep
                    got[kind].append(r)
                    res["runs"].append(r)
                    print(f"  {key} {kind:<8} rep {rep}: {r['tokens_per_s']:.1f} tok/s ({r['wall_s']:.1f} s), "
                          f"peak +{r['train_peak_above_start_mb']:.0f} MB above start (process {r['process_peak_rss_mb']:.0f} MB), "
                          f"losses {r['losses'][0]:.3f} .. {r['losses'][-1]:.3f}; load {r['load']:.2f}", flush=True)
            tok = {k: sum(r["tokens"] * args.steps * args.batch / args.examples for r in v) / sum(r["wall_s"] for r in v)
                   for k, v in got.items()}
            mem = {k: max(r["train_peak_above_start_mb"] for r in v) for k, v in got.items()}
            curve = {k: v[0]["losses"] for k, v in got.items()}
            res[f"{key}_{ours_kind}"] = {"ours_tok_s": tok[ours_kind], "trl_tok_s": tok[trl_kind], "ratio": tok[ours_kind] / tok[trl_kind],
                                         "ours_peak_mb": mem[ours_kind], "trl_peak_mb": mem[trl_kind], "curves": curve,
                                         "curve_max_diff": max(abs(a - b) for a, b in zip(*curve.values()))}
            what = "SFT vs TRL SFTTrainer" if ours_kind == "ours-sft" else "KD (T=1) vs TRL GKDTrainer (lmbda 0, beta 0)"
            print(f"{key} {what}: {tok[ours_kind]:.1f} vs {tok[trl_kind]:.1f} tok/s ({tok[ours_kind] / tok[trl_kind]:.2f}x); "
                  f"training peak above start {mem[ours_kind]:.0f} vs {mem[trl_kind]:.0f} MB; "
                  f"loss curves max |diff| {res[f'{key}_{ours_kind}']['curve_max_diff']:.4f}", flush=True)
            summary.append(row(f"training vs TRL: {what}, {MODELS[key][0]}", tok[ours_kind], "tok/s", trl_kind, tok[trl_kind],
                               goal="> 1.0x"))
            summary.append(row(f"training vs TRL: peak memory above start, {what}, {MODELS[key][0]}", mem[ours_kind], "MB",
                               trl_kind, mem[trl_kind], higher_is_better=False, goal=">= 1.0x"))
    out = Path(args.out) if args.out else (Path("/tmp/kd-bench-quick") if args.quick else ROOT / "bench" / "results") / "trl.json"
    write(out, res, summary)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
