"""Training pairs: read from JSONL in the ecosystem's forms (`read_examples`; see
kd_core.data.record_formats), laid out with the student's own chat template
(`encode_example`), tokenized with the response as the only labels (`PairDataset`; for
prompt distillation each item also holds the teacher's own prompt before the same
response ids) and padded into batches (`collate`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch

from kd_core.data.files import jsonl_rows
from kd_core.data.record_formats import RowError, row_messages
from kd_core.errors import KDError
from kd_core.models.generation import chat_text, encode_prompt

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass
class Example:
    prompt: str
    response: str
    teacher_prompt: str | None = None  # what the teacher sees instead (prompt distillation); None: the prompt
    # Earlier turns of a multi-turn chat (and its own system message), before `prompt`:
    # the context this answer was given in; no loss is taken on them.
    context: tuple[dict[str, str], ...] = ()


class TrainingData(list):
    """The examples of a training file, with where they came from (for the model card)."""

    def __init__(self, examples: Sequence[Example], source: str = "", rows: int = 0, formats: dict[str, int] | None = None):
        super().__init__(examples)
        self.source = source  # the file's name (no folder: cards travel to other machines)
        self.rows = rows  # JSON rows read (a multi-turn chat gives one example per assistant turn)
        self.formats = dict(formats or {})  # rows by form (kd_core.data.record_formats.FORMATS)


def encode_example(tokenizer: PreTrainedTokenizerBase, prompt: str, response: str, system: str | None = None,
                   context: Sequence[dict[str, str]] = ()) -> tuple[list[int], list[int]]:
    """(prompt ids, response ids) exactly as the chat template lays the pair out, after
    the earlier turns in `context` (a system message there wins over `system`).

    The response part is what the template writes after the generation prompt for an
    assistant turn (the answer and its end-of-turn token), so the student learns to stop.
    """
    head = [*context, {"role": "user", "content": prompt}]
    prompt_text = chat_text(tokenizer, head, system)
    full_text = chat_text(tokenizer, [*head, {"role": "assistant", "content": response}], system, add_generation_prompt=False)
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
            p, r = encode_example(tokenizer, ex.prompt, ex.response, system, ex.context)
            kept = min(len(r), max_length - len(p))
            if kept <= 0:
                continue
            item = {"input_ids": p + r[:kept], "labels": [-100] * len(p) + r[:kept], "index": len(self.items)}
            if with_teacher:
                tp = p if ex.teacher_prompt is None else encode_example(tokenizer, ex.teacher_prompt, ex.response, system, ex.context)[0]
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


def read_examples(path: str | Path) -> TrainingData:
    """Training examples from a JSONL file, one JSON object per line in any of the forms
    of kd_core.data.record_formats: chat ``messages``, ShareGPT ``conversations``, TRL's
    ``prompt``/``completion`` (strings or message lists), KD Studio's older
    ``prompt``/``response``, alpaca ``instruction``/``input``/``output``; an optional
    ``teacher_prompt`` beside them (prompt distillation).

    A multi-turn chat gives one example per assistant turn, each with the turns before
    it as its context: the loss is taken on every assistant turn and nothing else.  A
    row's own system message is kept (a training config's `system` applies to rows
    without one).  A bad line is one error naming the file, line and field: silently
    training on part of the data is worse than stopping."""
    from kd_core.errors import InputFileError

    path = Path(path).expanduser()
    if not path.is_file():
        raise InputFileError(f"training data not found: {path}")
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        raise InputFileError(f"{path}: training data must be a .jsonl file (one JSON object per line)")
    examples: list[Example] = []
    formats: dict[str, int] = {}
    rows = 0
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: not UTF-8 text") from None
    for n, row in jsonl_rows(path, text):
        try:
            got, fmt = examples_from_row(row)
        except RowError as e:
            raise InputFileError(f"{path}, line {n}: {e}") from None
        examples.extend(got)
        formats[fmt] = formats.get(fmt, 0) + 1
        rows += 1
    if not examples:
        raise InputFileError(f"{path}: no training examples in it")
    return TrainingData(examples, path.name, rows, formats)


def examples_from_row(row: Any) -> tuple[list[Example], str]:
    """(the examples of one row, its format); RowError naming the field when it cannot train.

    The turns must alternate user, assistant, ... after any system message, and end with
    an assistant turn: chat templates refuse (or silently garble) anything else."""
    msgs, teacher_prompt, fmt = row_messages(row)
    field = {"prompt-completion": "prompt", "prompt-response": "prompt", "alpaca": "instruction"}.get(fmt, fmt)
    start = 0
    while start < len(msgs) and msgs[start]["role"] == "system":
        start += 1
    turns = msgs[start:]
    if not turns:
        raise RowError(f"field '{field}': only system messages, no user message")
    for i, m in enumerate(turns):
        want = "user" if i % 2 == 0 else "assistant"
        if m["role"] != want:
            raise RowError(f"field '{field}': message {start + i + 1} is from the {m['role']} where the {want} "
                           "speaks (turns must alternate user, assistant, ... after any system message)")
    if turns[-1]["role"] != "assistant":
        raise RowError(f"field '{field}': the last message is the user's; there is no assistant answer to train on")
    for m in turns:
        if not m["content"].strip():
            raise RowError(f"field '{field}': an empty {m['role']} message")
    examples = []
    for i in range(0, len(turns), 2):
        context = tuple(msgs[: start + i])
        last = i == len(turns) - 2  # the teacher's own prompt replaces the user message it answers last
        examples.append(Example(turns[i]["content"], turns[i + 1]["content"], teacher_prompt if last else None, context))
    return examples, fmt
