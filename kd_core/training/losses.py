"""Response-only losses, with the output layer applied only at response positions
(Gemma 3's 262k-token vocabulary makes full logits dominate time and memory):
`sft_loss` (cross-entropy) and `response_losses` (forward KL from a teacher's
distribution, chunked over positions so memory stays bounded, and the cross-entropy a
`mix` adds to it).  The teacher sees its own prompt and may be the student itself with
its LoRA disabled; `TeacherCache` keeps its states across epochs."""

from __future__ import annotations

import contextlib

import torch

from kd_core.errors import KDError
from kd_core.models.loading import causal_lm_parts


def _head_logits(head, softcap: float | None, hidden: torch.Tensor) -> torch.Tensor:
    logits = head(hidden).float()
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return logits


def response_hidden(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    positions: torch.Tensor) -> tuple[torch.Tensor, torch.nn.Module, float | None]:
    """(last hidden states at `positions` [n, hidden], output layer, softcap)."""
    body, head, softcap = causal_lm_parts(model)
    hidden = body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return hidden[positions], head, softcap


def response_positions(labels: torch.Tensor) -> torch.Tensor:
    """Positions whose next token is a response token (the ones a loss reads)."""
    positions = torch.zeros_like(labels, dtype=torch.bool)
    positions[:, :-1] = labels[:, 1:] != -100
    return positions


def sft_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor], chunk_size: int = 0) -> tuple[torch.Tensor, int]:
    """Mean next-token cross-entropy over response tokens; returns (loss, n tokens).  The
    output layer runs on `chunk_size` positions at a time (`response_losses`), so a
    262k-token vocabulary's logits for a whole batch are never in memory at once (they were
    the 420 MB by which TRL's tiled loss undercut this one on Gemma 3 270M:
    bench/bench_trl.py)."""
    n = int((batch["labels"][:, 1:] != -100).sum())
    return response_losses(model, batch, chunk_size=chunk_size, want=("sft",))["sft"], n


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

    def get(self, index: torch.Tensor | None, device: torch.device | str) -> torch.Tensor | None:
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
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    teacher: torch.nn.Module | None = None,
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
