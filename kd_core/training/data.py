"""Training pairs: read from JSONL (`read_examples`), laid out with the student's own
chat template (`encode_example`), tokenized with the response as the only labels
(`PairDataset`; for prompt distillation each item also holds the teacher's own prompt
before the same response ids) and padded into batches (`collate`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch

from kd_core.data.files import jsonl_rows
from kd_core.errors import KDError
from kd_core.models.generation import chat_text, encode_prompt

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass
class Example:
    prompt: str
    response: str
    teacher_prompt: str | None = None  # what the teacher sees instead (prompt distillation); None: the prompt



def encode_example(tokenizer: PreTrainedTokenizerBase, prompt: str, response: str, system: str | None = None) -> tuple[list[int], list[int]]:
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
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: not UTF-8 text") from None
    for n, row in jsonl_rows(path, text):
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
