"""LoRA training of a student on (prompt, response) pairs, on top of transformers.Trainer.

Trainer brings gradient accumulation, schedulers, checkpointing, mixed precision and
multi-process training (accelerate); this module adds what it lacks for KD Studio:

- response-only loss, with the output layer applied only at response positions
  (Gemma 3's 262k-token vocabulary makes full logits dominate time and memory);
- the chat formatting of each pair with the student's own template;
- a JSONL log of every logging step (step, epoch, loss, lr, tokens/s, ETA).

The recipe: `train_lora(model_spec, examples, TrainConfig(...))`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed

from kd_core import devices
from kd_core.errors import KDError
from kd_core.generation import chat_text, encode_prompt
from kd_core.models import LoadedModel, ModelSpec, guard_4bit_cpu, load_model


@dataclass
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"


@dataclass
class TrainConfig:
    output_dir: str
    loss: str = "sft"
    epochs: float = 3.0
    learning_rate: float = 1e-3
    batch_size: int = 16
    grad_accum: int = 1
    max_length: int = 384
    warmup: float = 0.05  # ratio of total steps
    weight_decay: float = 0.0
    scheduler: str = "linear"
    logging_steps: int = 5
    seed: int = 0
    system: str | None = None  # system message for every prompt (None: the template's default)
    lora: LoraSettings = field(default_factory=LoraSettings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Example:
    prompt: str
    response: str


# ---------------------------------------------------------------------------
# Data


def encode_example(tokenizer, prompt: str, response: str, system: str | None = None) -> tuple[list[int], list[int]]:
    """(prompt ids, response ids) exactly as the chat template lays the pair out.

    The response part is what the template writes after the generation prompt for an
    assistant turn (the answer and its end-of-turn token), so the student learns to stop.
    """
    prompt_text = chat_text(tokenizer, prompt, system)
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    full_text = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full_text.startswith(prompt_text):
        raise KDError("the chat template does not write an assistant turn after its generation prompt; cannot find the response")
    completion = full_text[len(prompt_text):].rstrip("\n")
    return encode_prompt(tokenizer, prompt_text), encode_prompt(tokenizer, completion)


class PairDataset(torch.utils.data.Dataset):
    def __init__(self, tokenizer, examples: Sequence[Example], max_length: int, system: str | None = None):
        self.items = []
        for ex in examples:
            p, r = encode_example(tokenizer, ex.prompt, ex.response, system)
            ids = (p + r)[:max_length]
            labels = ([-100] * len(p) + r)[:max_length]
            if any(label != -100 for label in labels):
                self.items.append({"input_ids": ids, "labels": labels})
        if not self.items:
            raise KDError("no training example has any response token within max_length")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.items[i]


def collate(pad_id: int) -> Callable[[list[dict]], dict[str, torch.Tensor]]:
    def fn(batch: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n] = torch.tensor(b["input_ids"])
            labels[i, :n] = torch.tensor(b["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return fn


# ---------------------------------------------------------------------------
# Loss: output layer only where the loss needs it


def causal_lm_parts(model) -> tuple[Any, Any, float | None]:
    """(decoder body, output layer, logit softcap) of a causal LM, through PEFT wrappers."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = base.get_decoder() if hasattr(base, "get_decoder") else None
    head = base.get_output_embeddings()
    if body is None or head is None:
        raise KDError(f"{type(base).__name__}: cannot find the decoder and output layer")
    cfg = getattr(base.config, "get_text_config", lambda: base.config)()
    return body, head, getattr(cfg, "final_logit_softcapping", None)


def logits_at(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Next-token logits only at `positions` (a bool mask over [batch, seq])."""
    body, head, softcap = causal_lm_parts(model)
    hidden = body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    logits = head(hidden[positions]).float()
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return logits


def sft_loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Mean next-token cross-entropy over response tokens; returns (loss, n tokens)."""
    labels = batch["labels"]
    positions = torch.zeros_like(labels, dtype=torch.bool)
    positions[:, :-1] = labels[:, 1:] != -100
    targets = labels[:, 1:][labels[:, 1:] != -100]
    logits = logits_at(model, batch["input_ids"], batch["attention_mask"], positions)
    return torch.nn.functional.cross_entropy(logits, targets), int(targets.numel())


class LossTrainer(Trainer):
    """Trainer whose loss is KD Studio's response-only loss, not the model's own."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, _ = sft_loss(model, inputs)
        return (loss, None) if return_outputs else loss


# ---------------------------------------------------------------------------
# Progress log


def jsonl_logger(path: Path, total_tokens_per_epoch: int | None = None):
    class JsonlLogger(TrainerCallback):
        def __init__(self):
            self.t0 = None
            self.tokens = 0

        def on_train_begin(self, args, state, control, **kw):
            self.t0 = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kw):
            if not logs or self.t0 is None:
                return
            elapsed = time.perf_counter() - self.t0
            row = {"step": state.global_step, "max_steps": state.max_steps, "epoch": round(state.epoch or 0, 4), "elapsed_s": round(elapsed, 2)}
            row.update({k: v for k, v in logs.items() if isinstance(v, (int, float))})
            if state.global_step:
                row["eta_s"] = round(elapsed / state.global_step * (state.max_steps - state.global_step), 1)
                if total_tokens_per_epoch:
                    row["tokens_per_s"] = round(total_tokens_per_epoch * (state.epoch or 0) / elapsed, 1)
            with path.open("a") as f:
                f.write(json.dumps(row) + "\n")

    return JsonlLogger()


# ---------------------------------------------------------------------------
# The recipe


def add_lora(model, settings: LoraSettings, seed: int = 0):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    cfg = LoraConfig(
        r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
        target_modules=settings.target_modules, task_type="CAUSAL_LM",
    )
    return get_peft_model(model, cfg)


def train_lora(student: ModelSpec | LoadedModel, examples: Sequence[Example], config: TrainConfig) -> dict[str, Any]:
    """Train a LoRA on the student; save the adapter to config.output_dir/adapter.

    Returns a summary: steps, wall time, tokens/s, final loss, adapter path and size.
    """
    set_seed(config.seed)
    lm = student if isinstance(student, LoadedModel) else load_model(student)
    if lm.has_adapter:
        raise KDError("the student already has an adapter; train a new LoRA on its base model")
    model = add_lora(lm.model, config.lora, config.seed)
    if lm.spec.load_in_4bit:
        guard_4bit_cpu(model)
    data = PairDataset(lm.tokenizer, examples, config.max_length, config.system)
    n_tokens = sum(len(x["input_ids"]) for x in data.items)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "log.jsonl"
    log_path.unlink(missing_ok=True)

    use_bf16 = devices.autocast_dtype(lm.device, lm.dtype) == torch.bfloat16
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.scheduler,
        warmup_steps=config.warmup,
        logging_steps=config.logging_steps,
        save_strategy="no",
        report_to=[],
        seed=config.seed,
        data_seed=config.seed,
        bf16=use_bf16,
        use_cpu=lm.device.type == "cpu",
        dataloader_num_workers=0,
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length",
        disable_tqdm=os.environ.get("KD_STUDIO_PROGRESS") != "1",
    )
    trainer = LossTrainer(
        model=model, args=args, train_dataset=data, data_collator=collate(lm.tokenizer.pad_token_id),
        callbacks=[jsonl_logger(log_path, n_tokens)],
    )
    t0 = time.perf_counter()
    result = trainer.train()
    wall = time.perf_counter() - t0
    adapter_dir = out / "adapter"
    model.save_pretrained(adapter_dir)
    lm.tokenizer.save_pretrained(adapter_dir)  # the chat template used travels with the adapter
    (out / "train_config.json").write_text(json.dumps({"config": config.to_dict(), "student": lm.spec.to_dict()}, indent=2))
    size = sum(f.stat().st_size for f in adapter_dir.glob("adapter_model*"))
    return {
        "steps": result.global_step,
        "wall_s": round(wall, 1),
        "examples": len(data),
        "tokens_per_epoch": n_tokens,
        "tokens_per_s": round(n_tokens * config.epochs / wall, 1),
        "final_loss": _last_loss(log_path),
        "train_loss": round(result.training_loss, 4),
        "adapter": str(adapter_dir),
        "adapter_mb": round(size / 2**20, 2),
    }


def _last_loss(log_path: Path) -> float | None:
    if not log_path.exists():
        return None
    losses = [r["loss"] for r in map(json.loads, log_path.read_text().splitlines()) if "loss" in r]
    return losses[-1] if losses else None
