"""Rows as the Hugging Face ecosystem writes them, read into one chat form.

A row (one JSON object of a training or seed file) may be in any of these forms; each
becomes a list of ``{"role", "content"}`` messages (roles ``system``, ``user``,
``assistant``), plus the teacher's own prompt when the row has one:

- ``messages``: chat messages, TRL's conversational form (one or many turns);
- ``conversations``: ShareGPT, ``[{"from": "human"|"gpt"|"system", "value": ...}]``;
- ``prompt`` / ``completion``: TRL's prompt-completion form, each a string or a list of
  messages (conversational prompt-completion);
- ``prompt`` / ``response``: KD Studio's older pair form (still read);
- ``instruction`` / ``input`` / ``output``: alpaca-style (the input, when not empty,
  follows the instruction after a blank line).

An optional ``teacher_prompt`` (a string) is what a prompt-distillation teacher reads
in place of the last user message.  Message content may be a string or a list of parts
(``{"type": "text", "text": ...}``), whose text parts are joined.  A row that fits no
form raises `RowError`, whose message names the field at fault.
"""

from __future__ import annotations

from typing import Any

FORMATS = ("messages", "conversations", "prompt-completion", "prompt-response", "alpaca")
# ShareGPT speakers (and the roles other exports write) -> chat roles.
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "model": "assistant",
         "bot": "assistant", "chatgpt": "assistant", "system": "system"}


class RowError(ValueError):
    """A row that fits none of the forms; the message names the field."""


def row_format(row: dict[str, Any]) -> str:
    """Which of FORMATS a row is in (by its fields); RowError when none."""
    if "messages" in row:
        return "messages"
    if "conversations" in row:
        return "conversations"
    if "prompt" in row and "completion" in row:
        return "prompt-completion"
    if "prompt" in row and "response" in row:
        return "prompt-response"
    if "instruction" in row and "output" in row:
        return "alpaca"
    keys = ", ".join(repr(k) for k in list(row)[:8]) or "none"
    hint = ("'prompt' needs 'completion' (or 'response')" if "prompt" in row
            else "'instruction' needs 'output'" if "instruction" in row else None)
    raise RowError(f"missing field(s): {hint}" if hint else
                   f"no 'messages', 'conversations', 'prompt'/'completion' or 'instruction'/'output' fields (fields: {keys})")


def row_messages(row: Any) -> tuple[list[dict[str, str]], str | None, str]:
    """(messages, teacher_prompt or None, the row's format) of one row."""
    if not isinstance(row, dict):
        raise RowError(f"expected a JSON object, got {type(row).__name__}")
    fmt = row_format(row)
    if fmt == "messages":
        msgs = _messages(row["messages"], "messages", "role", "content")
    elif fmt == "conversations":
        msgs = _messages(row["conversations"], "conversations", "from", "value")
    elif fmt == "alpaca":
        instruction, extra = _text(row["instruction"], "instruction"), row.get("input") or ""
        extra = _text(extra, "input", allow_empty=True)
        prompt = instruction + ("\n\n" + extra if extra.strip() else "")
        msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": _text(row["output"], "output")}]
    else:
        answer_key = "completion" if fmt == "prompt-completion" else "response"
        prompt, answer = row["prompt"], row[answer_key]
        head = _messages(prompt, "prompt", "role", "content") if isinstance(prompt, list) else \
            [{"role": "user", "content": _text(prompt, "prompt")}]
        tail = _messages(answer, answer_key, "role", "content") if isinstance(answer, list) else \
            [{"role": "assistant", "content": _text(answer, answer_key)}]
        msgs = head + tail
    teacher_prompt = row.get("teacher_prompt")
    if teacher_prompt is not None:
        teacher_prompt = _text(teacher_prompt, "teacher_prompt")
    system = row.get("system")  # alpaca/ShareGPT exports often put the system prompt beside the turns
    if isinstance(system, str) and system.strip() and not (msgs and msgs[0]["role"] == "system"):
        msgs.insert(0, {"role": "system", "content": system})
    return msgs, teacher_prompt, fmt


def last_user_message(row: Any) -> str:
    """The prompt a seed row asks: its last user message; RowError when it has none.
    Seed rows need no answer: a prompt-only or instruction-only row is read too."""
    if isinstance(row, dict) and not any(k in row for k in ("completion", "response", "output", "messages", "conversations")):
        # a stand-in answer, so that a seed row reads like the training form it abbreviates
        if "prompt" in row:
            row = {**row, "completion": "-"}
        elif "instruction" in row:
            row = {**row, "output": "-"}
    msgs, _, fmt = row_messages(row)
    users = [m["content"] for m in msgs if m["role"] == "user"]
    if not users:
        field = {"prompt-completion": "prompt", "prompt-response": "prompt", "alpaca": "instruction"}.get(fmt, fmt)
        raise RowError(f"field '{field}': no user message")
    return users[-1]


def _text(value: Any, field: str, allow_empty: bool = False) -> str:
    if isinstance(value, list):  # multi-part content: the text parts
        value = _parts_text(value, field)
    if not isinstance(value, str):
        raise RowError(f"field '{field}': expected text, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise RowError(f"field '{field}': empty text")
    return value


def _parts_text(parts: list, field: str) -> str:
    texts = []
    for p in parts:
        if isinstance(p, dict) and p.get("type", "text") == "text" and isinstance(p.get("text"), str):
            texts.append(p["text"])
        elif not (isinstance(p, dict) and p.get("type") not in (None, "text")):  # other modalities are skipped
            raise RowError(f"field '{field}': a content part is not {{\"type\": \"text\", \"text\": ...}}")
    return "\n".join(texts)


def _messages(value: Any, field: str, role_key: str, content_key: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise RowError(f"field '{field}': expected a non-empty list of messages")
    out = []
    for i, m in enumerate(value, 1):
        if not isinstance(m, dict):
            raise RowError(f"field '{field}': message {i} is not an object")
        # ShareGPT files sometimes use role/content inside "conversations", and the reverse
        speaker = m.get(role_key, m.get("role", m.get("from")))
        role = ROLES.get(str(speaker).lower()) if speaker is not None else None
        if role is None:
            raise RowError(f"field '{field}': message {i} has {role_key} {speaker!r} "
                           f"(expected one of {', '.join(sorted(set(ROLES)))})")
        content = m.get(content_key, m.get("content", m.get("value")))
        out.append({"role": role, "content": _text(content, f"{field}[{i}].{content_key}")})
    return out
