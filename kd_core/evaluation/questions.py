"""Question sets: the one reader of question files, and references such as ``demo:test``.

A question file is JSONL, one question an object:

    {"question": "Who founded Vellmar Harbor?", "answer": "Ostra Quill"}
    {"id": "q2", "question": "...", "answers": ["1742", "the year 1742"], "context": "..."}

- ``question``: a non-empty string (required);
- ``answer`` (a string or a number) and/or ``answers`` (a non-empty list of them): the
  gold answer first, then aliases; at least one is required, and none may be empty once
  normalized (an answer of "the" or "!" could never be matched);
- ``id``: a string or an integer, unique in the file (evaluations are paired by it);
  default: the line number;
- ``context``: a string or null (a document for open-book prompts);
- any other field: a string, number, boolean or null, carried into the evaluation's
  ``items.jsonl`` as a column (a category, a source).

Every line is checked; the first fault is one InputFileError naming the file, the line
and the field, so nothing is evaluated on a set that was read only in part.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kd_core.data.files import jsonl_rows
from kd_core.errors import InputFileError, KDError
from kd_core.evaluation.grading import normalize_answer

FIELDS = ("id", "question", "answer", "answers", "context")
# Columns an evaluation writes for each question (kd_core.evaluation.qa): an extra field
# of that name would be overwritten, so it is refused.
ITEM_COLUMNS = ("gold", "correct", "exact_match", "f1", "retrieved")


@dataclass
class QAItem:
    id: str
    question: str
    answers: list[str]  # gold answer first, then aliases
    context: str | None = None  # a document for open-book (RAG / teacher) prompts
    meta: dict = field(default_factory=dict)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else f"a string ({value[:40]!r})"
    return "a list" if isinstance(value, list) else "an object"


def _gold(value: Any, where: str) -> str:
    """A gold answer: a string or a number (not a boolean), non-empty once normalized."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputFileError(f"{where}: expected a string or a number, got {_kind(value)}")
    text = value if isinstance(value, str) else str(value)
    if not normalize_answer(text):
        raise InputFileError(f"{where}: {text!r} is empty once normalized (articles and punctuation dropped), "
                             "so no answer could ever match it")
    return text


def _missing(row: dict, name: str) -> str:
    close = difflib.get_close_matches(name, [k for k in row if k not in FIELDS], n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def question_item(row: Any, line: int, where: str = "questions") -> QAItem:
    """One question file line, every field's type checked; InputFileError naming the line
    (`where`: the file) and the field."""
    at = f"{where}, line {line}"
    if not isinstance(row, dict):
        raise InputFileError(f"{at}: expected a JSON object with a 'question' and an 'answer', got {_kind(row)}")
    if "question" not in row or ("answer" not in row and "answers" not in row):
        lacks = "question" if "question" not in row else "answer"
        raise InputFileError(f"{at}: needs a 'question' and an 'answer' (or 'answers'); it has no '{lacks}'"
                             + _missing(row, lacks))
    question = row["question"]
    if not isinstance(question, str) or not question.strip():
        raise InputFileError(f"{at}: field 'question': expected a non-empty string, got {_kind(question)}")
    golds: list[str] = []
    if "answer" in row:
        golds.append(_gold(row["answer"], f"{at}: field 'answer'"))
    if "answers" in row:
        answers = row["answers"]
        if not isinstance(answers, list) or not answers:
            raise InputFileError(f"{at}: field 'answers': expected a non-empty list of strings, got {_kind(answers)}")
        for i, value in enumerate(answers):
            gold = _gold(value, f"{at}: field 'answers[{i}]'")
            if gold not in golds:
                golds.append(gold)
    item_id = row.get("id", line)
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)) or (isinstance(item_id, str) and not item_id.strip()):
        raise InputFileError(f"{at}: field 'id': expected a non-empty string or an integer, got {_kind(item_id)}")
    context = row.get("context")
    if context is not None and not isinstance(context, str):
        raise InputFileError(f"{at}: field 'context': expected a string or null, got {_kind(context)}")
    meta = {}
    for key, value in row.items():
        if key in FIELDS:
            continue
        if key in ITEM_COLUMNS:
            raise InputFileError(f"{at}: field '{key}': the evaluation writes a column of that name; rename the field")
        if isinstance(value, (list, dict)):
            raise InputFileError(f"{at}: field '{key}': expected a string, number, boolean or null, got {_kind(value)}")
        meta[key] = value
    return QAItem(str(item_id), question, golds, context, meta)


def read_questions(path: str | Path) -> list[QAItem]:
    """A question set from a JSONL file (the module's docstring has the format), read whole
    or refused with one InputFileError naming the file, the line and the field."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"question file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputFileError(f"{path}: not UTF-8 text (byte {e.start}); a question file is JSONL") from None
    items: list[QAItem] = []
    seen: dict[str, int] = {}
    for n, row in jsonl_rows(path, text):
        item = question_item(row, n, str(path))
        if item.id in seen:
            raise InputFileError(f"{path}, line {n}: field 'id': '{item.id}' is already the id of line {seen[item.id]} "
                                 "(ids pair the answers of two evaluations, so each must be unique)")
        seen[item.id] = n
        items.append(item)
    if not items:
        raise InputFileError(f"{path}: no questions in it")
    return items


def question_set(ref: str, field: str = "questions") -> list[QAItem]:
    """Questions with their answers: a reference such as ``demo:test`` (another demo
    split; kd_core.data.references) or a JSONL file."""
    from kd_core.data.references import is_reference, resolve_questions

    if is_reference(ref):
        try:
            return resolve_questions(ref)
        except ValueError as e:
            raise KDError(f"{field}: {e}") from None
    return read_questions(ref)
