"""LoRA training of a student on (prompt, response) pairs, on top of transformers.Trainer.

Trainer brings gradient accumulation, schedulers, checkpointing, mixed precision and
multi-process training (accelerate); this module adds what it lacks for KD Studio:

- response-only losses, with the output layer applied only at response positions
  (Gemma 3's 262k-token vocabulary makes full logits dominate time and memory):
  `sft` (cross-entropy), `kd` (forward KL from a teacher's distribution, chunked over
  positions so memory stays bounded) or a weighted `mix` of both;
- a teacher that sees its own prompt (prompt distillation: document + question for
  the teacher, the question alone for the student, the same response tokens), and
  that may be the student itself with its LoRA disabled (no second copy of weights);
- the chat formatting of each pair with the student's own template;
- a JSONL log of every logging step (step, epoch, loss, lr, tokens/s, ETA).

The recipe: `train_lora(model_spec, examples, TrainConfig(...), teacher=None)`;
`TrainConfig` round-trips through YAML (`to_dict` / `TrainConfig.from_dict`).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from peft import PeftModelForCausalLM
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed

from kd_core.models import devices
from kd_core.data.config import checked_fields
from kd_core.errors import KDError
from kd_core.models.generation import chat_text, encode_prompt
from kd_core.models.loading import LoadedModel, ModelSpec, causal_lm_parts, guard_4bit_cpu, load_model


LOSSES = ("sft", "kd", "mix")


@dataclass
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "lora") -> "LoraSettings":
        return cls(**checked_fields(cls, data, where))

    def validate(self, where: str = "lora") -> None:
        """peft rejects these only once the job process has loaded the model; alpha 0
        would train an adapter whose update is always scaled to nothing."""
        checks = [("r", self.r >= 1, "must be >= 1"), ("alpha", self.alpha > 0, "must be > 0"),
                  ("dropout", 0 <= self.dropout < 1, "must be >= 0 and < 1")]
        for name, ok, why in checks:
            if not ok:
                raise KDError(f"{where}.{name}: {why} (got {getattr(self, name)!r})")


@dataclass
class TrainConfig:
    output_dir: str = ""  # a job fills it with its own folder
    loss: str = "sft"  # sft | kd | mix
    epochs: float = 3.0
    max_steps: int = -1  # > 0: stop after this many optimizer steps (overrides epochs)
    learning_rate: float = 1e-3
    batch_size: int = 16
    grad_accum: int = 1
    max_length: int = 384  # student sequence; the teacher sees its whole prompt plus the same response tokens
    warmup: float = 0.05  # ratio of total steps
    weight_decay: float = 0.0
    scheduler: str = "linear"
    logging_steps: int = 5
    save_steps: int = 0  # > 0: a checkpoint every N steps (resumable); stop-and-save always writes one
    save_total_limit: int = 2
    seed: int = 0
    system: str | None = None  # system message for every prompt (None: the template's default)
    kd_temperature: float = 2.0  # both distributions softened by T; the loss is scaled by T^2
    kd_weight: float = 1.0  # mix: loss = sft_weight * sft + kd_weight * kd
    sft_weight: float = 1.0
    kd_chunk_size: int = 0  # response positions per output-layer chunk; 0: about 16M logits a chunk
    teacher_cache_mb: int = 1024  # kd/mix: keep the frozen teacher's states across epochs, up to this much CPU memory (0: off)
    lora: LoraSettings = field(default_factory=LoraSettings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "train") -> "TrainConfig":
        """Build from plain data (a YAML mapping), naming any unknown or mistyped field."""
        values = checked_fields(cls, data, where)
        if isinstance(values.get("lora"), dict):
            values["lora"] = LoraSettings.from_dict(values["lora"], f"{where}.lora")
        config = cls(**values)
        config.validate(where)
        return config

    def validate(self, where: str = "train") -> None:
        """Reject settings that would fail (or silently misbehave) minutes into training."""
        if self.loss not in LOSSES:
            raise KDError(f"{where}.loss: '{self.loss}' is not a loss (choose one of {', '.join(LOSSES)})")
        checks = [
            ("kd_temperature", self.kd_temperature > 0, "must be > 0"),
            ("kd_weight", self.kd_weight >= 0, "must be >= 0"),
            ("sft_weight", self.sft_weight >= 0, "must be >= 0"),
            ("epochs", self.epochs > 0 or self.max_steps > 0, "must be > 0 (or set max_steps)"),
            ("learning_rate", self.learning_rate > 0, "must be > 0"),
            ("batch_size", self.batch_size >= 1, "must be >= 1"),
            ("grad_accum", self.grad_accum >= 1, "must be >= 1"),
            ("max_length", self.max_length >= 2, "must be >= 2"),
            ("logging_steps", self.logging_steps >= 1, "must be >= 1"),
            ("save_steps", self.save_steps >= 0, "must be >= 0"),
            ("kd_chunk_size", self.kd_chunk_size >= 0, "must be >= 0 (0: automatic)"),
            ("teacher_cache_mb", self.teacher_cache_mb >= 0, "must be >= 0 (0: no cache)"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise KDError(f"{where}.{name}: {why} (got {getattr(self, name)!r})")
        if self.loss == "mix" and self.kd_weight == 0 and self.sft_weight == 0:
            raise KDError(f"{where}: loss 'mix' needs kd_weight or sft_weight above 0")
        if isinstance(self.lora, LoraSettings):
            self.lora.validate(f"{where}.lora")


@dataclass
class Example:
    prompt: str
    response: str
    teacher_prompt: str | None = None  # what the teacher sees instead (prompt distillation); None: the prompt


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
    """Tokenized pairs; with `with_teacher`, each item also holds the teacher's sequence:
    its own prompt followed by exactly the student's (possibly truncated) response ids,
    so the two response spans align token for token."""

    def __init__(self, tokenizer, examples: Sequence[Example], max_length: int, system: str | None = None,
                 with_teacher: bool = False):
        self.items = []
        for ex in examples:
            p, r = encode_example(tokenizer, ex.prompt, ex.response, system)
            kept = min(len(r), max_length - len(p))
            if kept <= 0:
                continue
            item = {"input_ids": p + r[:kept], "labels": [-100] * len(p) + r[:kept], "index": len(self.items)}
            if with_teacher:
                tp = p if ex.teacher_prompt is None else encode_example(tokenizer, ex.teacher_prompt, ex.response, system)[0]
                item["teacher_input_ids"] = tp + r[:kept]
                item["teacher_labels"] = [-100] * len(tp) + r[:kept]
            self.items.append(item)
        if not self.items:
            raise KDError("no training example has any response token within max_length")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.items[i]


def collate(pad_id: int) -> Callable[[list[dict]], dict[str, torch.Tensor]]:
    def pad(batch: list[dict], ids_key: str, labels_key: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        width = max(len(b[ids_key]) for b in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b[ids_key])
            ids[i, :n] = torch.tensor(b[ids_key])
            labels[i, :n] = torch.tensor(b[labels_key])
            mask[i, :n] = 1
        return ids, labels, mask

    def fn(batch: list[dict]) -> dict[str, torch.Tensor]:
        ids, labels, mask = pad(batch, "input_ids", "labels")
        out = {"input_ids": ids, "labels": labels, "attention_mask": mask}
        if "index" in batch[0]:  # which examples: the teacher cache's key
            out["example_index"] = torch.tensor([b["index"] for b in batch], dtype=torch.long)
        if "teacher_input_ids" in batch[0]:
            t_ids, t_labels, t_mask = pad(batch, "teacher_input_ids", "teacher_labels")
            out.update(teacher_input_ids=t_ids, teacher_labels=t_labels, teacher_attention_mask=t_mask)
        return out

    return fn


def read_examples(path: str | Path) -> list[Example]:
    """Training pairs from a JSONL file: one object per line, either
    ``{"prompt", "response"[, "teacher_prompt"]}`` or the chat form that `kd-studio pool
    export` writes, ``{"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}``
    (an optional leading system message is ignored: the training config sets one).
    A bad line is an error naming the file and line: silently training on part of the
    data is worse than stopping."""
    from kd_core.errors import InputFileError

    path = Path(path).expanduser()
    if not path.is_file():
        raise InputFileError(f"training data not found: {path}")
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        raise InputFileError(f"{path}: training data must be a .jsonl file (one JSON object per line)")
    examples = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: not UTF-8 text") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputFileError(f"{path}, line {n}: not valid JSON ({e.msg})") from None
        try:
            examples.append(_example_from_row(row))
        except ValueError as e:
            raise InputFileError(f"{path}, line {n}: {e}") from None
    if not examples:
        raise InputFileError(f"{path}: no training examples in it")
    return examples


def _example_from_row(row: Any) -> Example:
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    if "messages" in row:
        msgs = row["messages"]
        if not isinstance(msgs, list) or not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in msgs):
            raise ValueError("'messages' must be a list of {\"role\", \"content\"} objects")
        turns = [m for m in msgs if m.get("role") != "system"]
        if [m.get("role") for m in turns] != ["user", "assistant"]:
            raise ValueError("'messages' must hold one user message then one assistant message (multi-turn chats are not supported)")
        prompt, response, teacher_prompt = turns[0]["content"], turns[1]["content"], row.get("teacher_prompt")
    else:
        missing = [k for k in ("prompt", "response") if k not in row]
        if missing:
            raise ValueError(f"missing field(s) {', '.join(repr(k) for k in missing)} (or give 'messages')")
        prompt, response, teacher_prompt = row["prompt"], row["response"], row.get("teacher_prompt")
    for name, v in (("prompt", prompt), ("response", response)):
        if not isinstance(v, str) or not v.strip():
            raise ValueError(f"'{name}' must be a non-empty string")
    if teacher_prompt is not None and (not isinstance(teacher_prompt, str) or not teacher_prompt.strip()):
        raise ValueError("'teacher_prompt' must be a non-empty string when given")
    return Example(prompt, response, teacher_prompt)


# ---------------------------------------------------------------------------
# Loss: output layer only where the loss needs it


def _head_logits(head, softcap: float | None, hidden: torch.Tensor) -> torch.Tensor:
    logits = head(hidden).float()
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return logits


def response_hidden(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor):
    """(last hidden states at `positions` [n, hidden], output layer, softcap)."""
    body, head, softcap = causal_lm_parts(model)
    hidden = body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return hidden[positions], head, softcap


def logits_at(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Next-token logits only at `positions` (a bool mask over [batch, seq])."""
    hidden, head, softcap = response_hidden(model, input_ids, attention_mask, positions)
    return _head_logits(head, softcap, hidden)


def response_positions(labels: torch.Tensor) -> torch.Tensor:
    """Positions whose next token is a response token (the ones a loss reads)."""
    positions = torch.zeros_like(labels, dtype=torch.bool)
    positions[:, :-1] = labels[:, 1:] != -100
    return positions


def sft_loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Mean next-token cross-entropy over response tokens; returns (loss, n tokens)."""
    labels = batch["labels"]
    targets = labels[:, 1:][labels[:, 1:] != -100]
    logits = logits_at(model, batch["input_ids"], batch["attention_mask"], response_positions(labels))
    return torch.nn.functional.cross_entropy(logits, targets), int(targets.numel())


def _adapter_off(model):
    """The student as its own teacher: the same weights with the LoRA switched off."""
    if hasattr(model, "disable_adapter"):
        return model.disable_adapter()
    return contextlib.nullcontext()  # no adapter at all: the model is its own teacher


class TeacherCache:
    """The frozen teacher's last hidden states at each example's response positions, kept
    on the CPU after the first epoch computed them.  The teacher never changes (its
    weights are frozen, or they are the student's with the adapter off, which training
    does not touch; dropout is off), so later epochs read them back instead of running
    the teacher's whole prompt (document included) through its body again: exact in
    fp32 (under bf16 autocast a recomputed teacher differs a little with the batch's
    shape, the cached one does not).  Stops adding once `limit_bytes` are held (one hidden vector per
    response token: 576 floats for SmolLM2-135M, so ~2 KB a token)."""

    def __init__(self, limit_bytes: int):
        self.limit = limit_bytes
        self.bytes = 0
        self.states: dict[int, torch.Tensor] = {}
        self.hits = self.misses = 0

    def get(self, index: torch.Tensor | None, device) -> torch.Tensor | None:
        if index is None or not all(int(i) in self.states for i in index):
            self.misses += 1
            return None
        self.hits += 1
        return torch.cat([self.states[int(i)] for i in index]).to(device)

    def put(self, index: torch.Tensor | None, hidden: torch.Tensor, counts: torch.Tensor) -> None:
        if index is None:
            return
        for i, part in zip(index.tolist(), torch.split(hidden, counts.tolist())):
            if i in self.states or self.bytes + part.numel() * part.element_size() > self.limit:
                continue
            self.states[i] = part.detach().to("cpu", copy=True)
            self.bytes += part.numel() * part.element_size()


def _teacher_side(student, teacher, batch: dict[str, torch.Tensor], cache: TeacherCache | None = None):
    """Teacher hidden states at its response positions, and a function from those to its logits.

    `teacher` None means the student with its adapter disabled.  The teacher reads
    `teacher_input_ids` when the batch has them (its own prompt), else the student's.
    With a `cache`, states computed for these examples before are read back.
    """
    ids = batch.get("teacher_input_ids", batch["input_ids"])
    mask = batch.get("teacher_attention_mask", batch["attention_mask"])
    labels = batch.get("teacher_labels", batch["labels"])
    positions = response_positions(labels)
    index = batch.get("example_index")
    with torch.no_grad():
        if teacher is None:
            _, head, softcap = causal_lm_parts(student)
            hidden = cache.get(index, ids.device) if cache is not None else None
            if hidden is None:
                was_training = student.training
                student.eval()  # the teacher's distribution must not carry dropout noise
                try:
                    with _adapter_off(student):
                        hidden, head, softcap = response_hidden(student, ids, mask, positions)
                finally:
                    student.train(was_training)
                if cache is not None:
                    cache.put(index, hidden, positions.sum(1))

            def to_logits(h: torch.Tensor) -> torch.Tensor:
                with torch.no_grad(), _adapter_off(student):  # a LoRA on the output layer is off too
                    return _head_logits(head, softcap, h)
        else:
            dev = next(teacher.parameters()).device
            _, head, softcap = causal_lm_parts(teacher)
            hidden = cache.get(index, dev) if cache is not None else None
            if hidden is None:
                hidden, head, softcap = response_hidden(teacher, ids.to(dev), mask.to(dev), positions.to(dev))
                if cache is not None:
                    cache.put(index, hidden, positions.sum(1))

            def to_logits(h: torch.Tensor) -> torch.Tensor:
                with torch.no_grad():
                    return _head_logits(head, softcap, h)
    return hidden, to_logits


def auto_chunk(vocab_size: int, budget: int = 1 << 24) -> int:
    """Positions per chunk so one chunk's logits stay near `budget` floats (64 MB)."""
    return max(1, budget // max(1, vocab_size))


def response_losses(
    model,
    batch: dict[str, torch.Tensor],
    teacher=None,
    temperature: float = 2.0,
    chunk_size: int = 0,
    want: tuple[str, ...] = ("kd",),
    cache: TeacherCache | None = None,
) -> dict[str, torch.Tensor]:
    """Response-token losses over the full vocabulary, computed chunk by chunk.

    - ``kd``: forward KL(teacher || student) of the distributions softened by
      `temperature`, mean over response tokens, times T^2 (so its gradients keep the
      scale of a cross-entropy as T changes);
    - ``sft``: mean cross-entropy of the student at temperature 1 (for the mix).

    The output layer runs on `chunk_size` positions at a time; in training each chunk
    is recomputed in the backward pass (activation checkpointing), so memory holds one
    chunk's logits, not [tokens x vocab]: the difference between fitting and not for
    262k-token vocabularies.  When the vocabularies' padded sizes differ (same
    tokenizer, different output-layer padding) the common leading ids are compared.
    """
    from torch.nn import functional as F
    from torch.utils.checkpoint import checkpoint

    labels = batch["labels"]
    targets = labels[:, 1:][labels[:, 1:] != -100]
    hidden, head, softcap = response_hidden(model, batch["input_ids"], batch["attention_mask"], response_positions(labels))
    n = hidden.shape[0]
    t_hidden, t_logits = _teacher_side(model, teacher, batch, cache) if "kd" in want else (None, None)
    if t_hidden is not None and t_hidden.shape[0] != n:
        raise KDError(f"teacher and student response spans differ ({t_hidden.shape[0]} vs {n} tokens); they must share the response")
    vocab = getattr(head, "out_features", None) or head.weight.shape[0]
    step = chunk_size or auto_chunk(vocab)
    T = float(temperature)

    def chunk(h: torch.Tensor, th: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor:
        s = _head_logits(head, softcap, h)
        parts = []
        if "kd" in want:
            t = t_logits(th).to(s.device)
            v = min(s.shape[-1], t.shape[-1])
            log_ps = F.log_softmax(s[:, :v] / T, dim=-1)
            log_pt = F.log_softmax(t[:, :v] / T, dim=-1)
            parts.append(F.kl_div(log_ps, log_pt, log_target=True, reduction="sum"))
        if "sft" in want:
            parts.append(F.cross_entropy(s, y, reduction="sum"))
        return torch.stack(parts)

    total = None
    for i in range(0, n, step):
        h = hidden[i : i + step]
        th = t_hidden[i : i + step] if t_hidden is not None else None  # stays on the teacher's device
        y = targets[i : i + step]
        if torch.is_grad_enabled() and h.requires_grad:
            sums = checkpoint(chunk, h, th, y, use_reentrant=False)
        else:
            sums = chunk(h, th, y)
        total = sums if total is None else total + sums
    if total is None:  # no response token in the batch: nothing to learn, nothing to add
        total = hidden.sum() * 0.0 + torch.zeros(len(want), device=hidden.device)
    denom = max(n, 1)
    out, k = {}, 0
    if "kd" in want:
        out["kd"] = total[k] / denom * T * T
        k += 1
    if "sft" in want:
        out["sft"] = total[k] / denom
    return out


def check_kd_compatible(student: LoadedModel, teacher: LoadedModel) -> None:
    """KD compares distributions id by id: both models must share one tokenizer.

    Raises a KDError naming both models when they do not (SFT has no such need: it
    trains on the teacher's text, retokenized)."""
    sv, tv = student.tokenizer.get_vocab(), teacher.tokenizer.get_vocab()
    if sv == tv:
        return
    only_s = sorted(set(sv) - set(tv))[:3]
    only_t = sorted(set(tv) - set(sv))[:3]
    moved = [t for t in sv if t in tv and sv[t] != tv[t]][:3]
    detail = (
        f"tokens only in the student: {only_s}" if only_s else f"tokens only in the teacher: {only_t}" if only_t
        else f"the same tokens under other ids: {moved}"
    )
    raise KDError(
        f"loss 'kd' needs teacher and student to share one tokenizer, but teacher {teacher.spec.label()} "
        f"({len(tv)} tokens) and student {student.spec.label()} ({len(sv)} tokens) differ ({detail}); "
        "use loss 'sft' to train on the teacher's answers across tokenizers"
    )


class StudentLM(PeftModelForCausalLM):
    """The LoRA student: a PEFT causal LM whose forward can also compute KD Studio's losses.

    Trainer hands `compute_loss` the model as wrapped for multi-process training
    (DistributedDataParallel, FSDP, DeepSpeed), and accelerate wraps its forward for
    mixed precision.  Those wrappers act only through forward: DDP arms its gradient
    all-reduce there, FSDP gathers its shards there.  A loss that reached past them to
    the decoder and output layer would leave each process training on its own gradients.
    So `forward(loss_fn=f, **batch)` returns `f(self, batch)`, computed inside the wrappers;
    without `loss_fn` it is the ordinary PEFT forward.
    """

    def forward(self, *args: Any, loss_fn: Callable[[Any, dict[str, Any]], dict[str, torch.Tensor]] | None = None, **kwargs: Any):
        if loss_fn is None:
            return super().forward(*args, **kwargs)
        return loss_fn(self, kwargs)


def response_token_count(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Response tokens a loss averages over (positions whose next token is a label)."""
    return (batch["labels"][:, 1:] != -100).sum()


class LossTrainer(Trainer):
    """Trainer whose loss is KD Studio's response-only loss, not the model's own.

    The loss is the mean over every response token of an optimizer step, across
    gradient-accumulation micro-batches and processes, so one process with batch B and
    N processes splitting the same B take the same step."""

    # compute_loss normalizes by the whole step's token count itself.
    loss_is_scaled_for_ga = True

    def __init__(self, *args, train_config: TrainConfig | None = None, teacher=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kd_config = train_config or TrainConfig()
        self.teacher = teacher
        mb = self.kd_config.teacher_cache_mb
        self.teacher_cache = TeacherCache(mb * 2**20) if mb > 0 and self.kd_config.loss != "sft" else None
        self._parts: dict[str, list[float]] = {}
        self._step_tokens: torch.Tensor | None = None

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        samples, count = super().get_batch_samples(epoch_iterator, num_batches, device)
        # Trainer counts tokens only for some model classes and label conventions; this
        # loss always needs the count, over this step's micro-batches on every process.
        tokens = sum((response_token_count(b) for b in samples), torch.tensor(0)).to(device)
        if self.accelerator.num_processes > 1:
            tokens = self.accelerator.reduce(tokens, reduction="sum")
        self._step_tokens = tokens
        return samples, count

    def _losses(self, student, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Runs inside the (wrapped) student's forward; `student` is the unwrapped StudentLM."""
        cfg = self.kd_config
        if cfg.loss == "sft":
            return {"loss": sft_loss(student, batch)[0]}
        want = ("kd", "sft") if cfg.loss == "mix" else ("kd",)
        cache = self.teacher_cache if student.training else None  # evaluation batches are other examples
        parts = response_losses(student, batch, self.teacher, cfg.kd_temperature, cfg.kd_chunk_size, want, cache)
        loss = cfg.kd_weight * parts["kd"] + cfg.sft_weight * parts["sft"] if cfg.loss == "mix" else parts["kd"]
        return {"loss": loss, **parts}

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not isinstance(self.accelerator.unwrap_model(model), StudentLM):
            raise KDError("LossTrainer needs the student made by add_lora (a StudentLM)")
        out = model(**inputs, loss_fn=self._losses)  # through DDP/FSDP/DeepSpeed and autocast
        mean = out["loss"]
        if model.training and self._step_tokens is not None:
            # The micro-batch mean weighted by its share of the step's tokens; DDP averages
            # gradients over processes, so the share is counted per process.
            share = response_token_count(inputs).to(mean.device) * self.accelerator.num_processes / self._step_tokens.clamp(min=1)
            loss = mean * share
        else:
            loss = mean / self.args.gradient_accumulation_steps
        if self.kd_config.loss == "mix":
            for name in ("kd", "sft"):  # both parts in the log: which one moves is the story
                self._parts.setdefault(f"loss_{name}", []).append(float(out[name].detach()))
        return (loss, out) if return_outputs else loss

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs:
            for name, values in sorted(self._parts.items()):
                value = torch.tensor(sum(values) / len(values), device=self.args.device)
                if self.accelerator.num_processes > 1:  # every process logs at the same step
                    value = self.accelerator.reduce(value, reduction="mean")
                logs[name] = round(float(value), 4)
            self._parts = {}
        super().log(logs, *args, **kwargs)


# ---------------------------------------------------------------------------
# Progress log


def jsonl_logger(path: Path, total_tokens_per_epoch: int | None = None):
    class JsonlLogger(TrainerCallback):
        def __init__(self):
            self.t0 = None
            self.step0 = 0
            self.epoch0 = 0.0

        def on_train_begin(self, args, state, control, **kw):
            # A resumed run starts at its checkpoint's step: rates and ETA count from there.
            self.t0 = time.perf_counter()
            self.step0, self.epoch0 = state.global_step, state.epoch or 0.0

        def on_log(self, args, state, control, logs=None, **kw):
            if not logs or self.t0 is None or not state.is_world_process_zero:  # one writer for the job folder
                return
            elapsed = time.perf_counter() - self.t0
            row = {"step": state.global_step, "max_steps": state.max_steps, "epoch": round(state.epoch or 0, 4), "elapsed_s": round(elapsed, 2)}
            row.update({k: v for k, v in logs.items() if isinstance(v, (int, float))})
            done = state.global_step - self.step0
            if done > 0:
                row["eta_s"] = round(elapsed / done * (state.max_steps - state.global_step), 1)
                if total_tokens_per_epoch:
                    row["tokens_per_s"] = round(total_tokens_per_epoch * ((state.epoch or 0) - self.epoch0) / elapsed, 1)
            with path.open("a") as f:
                f.write(json.dumps(row) + "\n")

    return JsonlLogger()


def truncate_log(path: Path, last_step: int) -> None:
    """Drop log rows after `last_step`: a resumed run redoes those steps and logs them again."""
    if not path.exists():
        return
    rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= last_step]
    path.write_text("".join(line + "\n" for line in rows))


# ---------------------------------------------------------------------------
# The recipe


def add_lora(model, settings: LoraSettings, seed: int = 0) -> StudentLM:
    """A new LoRA on `model`, as the StudentLM that LossTrainer trains."""
    from peft import LoraConfig

    torch.manual_seed(seed)
    cfg = LoraConfig(
        r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
        target_modules=settings.target_modules, task_type="CAUSAL_LM",
    )
    cfg.base_model_name_or_path = model.__dict__.get("name_or_path")  # as get_peft_model records it
    return StudentLM(model, cfg)


def resolve_teacher(student: LoadedModel, teacher: ModelSpec | LoadedModel | None, loss: str) -> LoadedModel | None:
    """The teacher model for a KD loss, checked against the student; None: the student
    with its adapter disabled (self-distillation, no second copy of the weights).

    The teacher reads sequences made with the student's tokenizer and chat template
    (one tokenizer is required anyway), so both see the very same response ids."""
    if loss == "sft" or teacher is None:
        return None
    t = teacher if isinstance(teacher, LoadedModel) else load_model(teacher)
    check_kd_compatible(student, t)
    t.model.requires_grad_(False)
    t.model.eval()
    return t


def train_lora(
    student: ModelSpec | LoadedModel,
    examples: Sequence[Example],
    config: TrainConfig,
    teacher: ModelSpec | LoadedModel | None = None,
    callbacks: Sequence[TrainerCallback] = (),
    resume_from_checkpoint: str | None = None,
    print_logs: bool = True,
) -> dict[str, Any]:
    """Train a LoRA on the student; save the adapter to config.output_dir/adapter.

    `teacher` is read by the `kd` and `mix` losses only; None means the student's own
    base weights (its adapter disabled), the prompt-distillation setting.  A teacher
    with another tokenizer is refused before any training.  Checkpoints go to
    output_dir/checkpoints; `resume_from_checkpoint` continues from one of them.
    `print_logs=False` silences Trainer's own printing of each log (its dicts).

    Under a multi-process launcher (`torchrun`, `accelerate launch`) every process runs
    this with the same arguments; `config.batch_size` stays the batch of one optimizer
    step, split across the processes, and only the first process writes files.

    Returns a summary: steps, wall time, tokens/s, final loss, adapter path and size.
    """
    config.validate()
    if not config.output_dir:
        raise KDError("train: output_dir is not set")
    set_seed(config.seed)
    if world_size() > 1 and torch.cuda.is_available():
        # One GPU per process: "cuda" (the device "auto" resolves to) must mean this process's own.
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    lm = student if isinstance(student, LoadedModel) else load_model(student)
    if lm.has_adapter:
        raise KDError("the student already has an adapter; train a new LoRA on its base model")
    teacher_lm = resolve_teacher(lm, teacher, config.loss)
    model = add_lora(lm.model, config.lora, config.seed)
    if lm.spec.load_in_4bit:
        guard_4bit_cpu(model)
    data = PairDataset(lm.tokenizer, examples, config.max_length, config.system, with_teacher=config.loss != "sft")
    n_tokens = sum(len(x["input_ids"]) for x in data.items)
    world = world_size()
    if config.batch_size % world:
        raise KDError(f"train.batch_size ({config.batch_size}) must be a multiple of the number of processes ({world}): "
                      "each optimizer step splits one batch across them")
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "log.jsonl"

    use_bf16 = devices.autocast_dtype(lm.device, lm.dtype) == torch.bfloat16
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"),
        # batch_size is per optimizer step (times grad_accum), whatever the number of
        # processes: split_batches cuts each batch across them, so one config trains the
        # same way on 1 or N processes.
        per_device_train_batch_size=config.batch_size,
        accelerator_config={"split_batches": True},
        gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.scheduler,
        warmup_steps=config.warmup,
        logging_steps=config.logging_steps,
        save_strategy="steps" if config.save_steps > 0 else "no",
        save_steps=config.save_steps if config.save_steps > 0 else 500,
        save_total_limit=config.save_total_limit,
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
    main_process = args.process_index == 0  # the job folder has one writer
    if main_process:
        if resume_from_checkpoint:
            truncate_log(log_path, _checkpoint_step(resume_from_checkpoint))
        else:
            log_path.unlink(missing_ok=True)
    trainer = LossTrainer(
        model=model, args=args, train_dataset=data, data_collator=collate(lm.tokenizer.pad_token_id),
        callbacks=[jsonl_logger(log_path, n_tokens), *callbacks],
        train_config=config, teacher=teacher_lm.model if teacher_lm is not None else None,
    )
    if not print_logs:  # the caller prints its own progress lines
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    wall = time.perf_counter() - t0
    adapter_dir = out / "adapter"
    teacher_label = None if config.loss == "sft" else (teacher_lm.spec.label() if teacher_lm else "self (adapter disabled)")
    if main_process:
        model.save_pretrained(adapter_dir)
        lm.tokenizer.save_pretrained(adapter_dir)  # the chat template used travels with the adapter
        (out / "train_config.json").write_text(json.dumps(
            {"config": config.to_dict(), "student": lm.spec.to_dict(), "teacher": teacher_label, "processes": world}, indent=2))
    trainer.accelerator.wait_for_everyone()  # every process returns with the adapter on disk
    size = sum(f.stat().st_size for f in adapter_dir.glob("adapter_model*"))
    epochs_done = (trainer.state.epoch or 0.0) - (_checkpoint_epoch(resume_from_checkpoint) if resume_from_checkpoint else 0.0)
    return {
        "steps": result.global_step,
        "wall_s": round(wall, 1),
        "examples": len(data),
        "tokens_per_epoch": n_tokens,
        "tokens_per_s": round(n_tokens * epochs_done / wall, 1) if wall > 0 else None,
        "final_loss": _last_loss(log_path),
        "train_loss": round(result.training_loss, 4),
        "loss": config.loss,
        "teacher": teacher_label,
        "stopped_early": bool(trainer.control.should_training_stop and result.global_step < trainer.state.max_steps),
        "adapter": str(adapter_dir),
        "adapter_mb": round(size / 2**20, 2),
        "processes": world,
        "compute": devices.compute_name(lm.device, lm.dtype),
        "teacher_cache": None if trainer.teacher_cache is None else {
            "hits": trainer.teacher_cache.hits, "misses": trainer.teacher_cache.misses,
            "mb": round(trainer.teacher_cache.bytes / 2**20, 1)},
    }


def world_size() -> int:
    """Processes in this training run: the launcher's WORLD_SIZE (torchrun, accelerate launch), else 1."""
    return max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))


def _checkpoint_state(checkpoint: str) -> dict[str, Any]:
    path = Path(checkpoint) / "trainer_state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _checkpoint_step(checkpoint: str) -> int:
    return int(_checkpoint_state(checkpoint).get("global_step", 0))


def _checkpoint_epoch(checkpoint: str) -> float:
    return float(_checkpoint_state(checkpoint).get("epoch") or 0.0)


def _last_loss(log_path: Path) -> float | None:
    if not log_path.exists():
        return None
    losses = [r["loss"] for r in map(json.loads, log_path.read_text().splitlines()) if "loss" in r]
    return losses[-1] if losses else None
