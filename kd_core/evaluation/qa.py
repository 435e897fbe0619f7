"""Closed-book (or open-book) QA accuracy of any loaded model on a question set.

Greedy answers; an answer is correct when a normalized gold answer (or alias) occurs
in the normalized answer as whole words.  Normalization: lower case, number words to
digits, thousands separators dropped, punctuation and the articles a/an/the removed.
A substring match rather than exact match because chat models answer in sentences
("Vellmar Harbor was founded by Ostra Quill."); whole words so "12" does not match "120".
"""

from __future__ import annotations

import re
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from kd_core.data.files import jsonl_rows, read_json, write_atomic, write_json
from kd_core.errors import InputFileError, KDError
from kd_core.models import devices
from kd_core.models.generation import GenerationConfig, generate
from kd_core.models.loading import LoadedModel
from kd_core.project import Project

_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBER_WORDS = {w: i for i, w in enumerate(_UNITS)} | {w: 10 * i for i, w in enumerate(_TENS) if w != "_"}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}


def _words_to_numbers(text: str) -> str:
    """'twenty-one' -> '21', 'three hundred' -> '300', 'seven' -> '7' (up to the thousands)."""
    tokens = re.split(r"(\s+|-)", text)
    out: list[str] = []
    value: int | None = None
    current = 0

    def flush():
        nonlocal value, current
        if value is not None:
            out.append(str(value + current))
            value, current = None, 0

    for tok in tokens:
        w = tok.lower()
        if w in NUMBER_WORDS:
            value = value or 0
            current += NUMBER_WORDS[w]
        elif w in ("hundred", "thousand") and value is not None:
            mult = 100 if w == "hundred" else 1000
            if w == "hundred":
                current = (current or 1) * mult
            else:
                value, current = (value + (current or 1)) * mult, 0
        elif value is not None and (tok.isspace() or tok == "-" or w == "and"):
            continue  # inside a number phrase
        else:
            flush()
            out.append(tok)
    flush()
    return " ".join(t for t in out if t and not t.isspace())


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 2,350 -> 2350
    text = _words_to_numbers(text)
    text = re.sub(r"\b(" + "|".join(_ORDINALS) + r")\b", lambda m: str(_ORDINALS[m.group(1)]), text)
    text = re.sub(r"(?<=\d)(st|nd|rd|th)\b", "", text)  # 3rd -> 3
    text = "".join(" " if ch in string.punctuation or ch in "\u2018\u2019\u201c\u201d\u2013\u2014" else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def is_correct(answer: str, golds: Sequence[str]) -> bool:
    norm = f" {normalize_answer(answer)} "
    return any(f" {g} " in norm for g in (normalize_answer(x) for x in golds) if g)


@dataclass
class QAItem:
    id: str
    question: str
    answers: list[str]  # gold answer first, then aliases
    context: str | None = None  # a document for open-book (RAG / teacher) prompts
    meta: dict = field(default_factory=dict)


CONTEXT_TEMPLATE = "{context}\n\n---\n\n{question}"  # the prompt-distillation paper's layout


@dataclass
class EvalResult:
    items: pd.DataFrame  # id, question, answer, gold, correct, (+ meta columns)
    summary: dict

    def save(self, out_dir: str | Path) -> None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "items.jsonl", self.items.to_json(orient="records", lines=True))
        write_json(out / "summary.json", self.summary)


def measured_before(out_dir: str | Path, **same: Any) -> dict | None:
    """The summary saved in `out_dir` when it was measured with every one of `same`'s
    values (model, questions, settings), else None: a stage reads an evaluation back
    instead of rerunning it, and reruns it when anything it depends on changed."""
    summary = read_json(Path(out_dir) / "summary.json")  # missing or damaged: measure again
    return summary if summary and all(summary.get(k) == v for k, v in same.items()) else None


def evaluate_qa(
    lm: LoadedModel,
    items: Sequence[QAItem],
    config: GenerationConfig | None = None,
    use_context: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """Answer every question greedily and grade it against its gold answers."""
    config = config or GenerationConfig(max_new_tokens=48)
    prompts = [
        CONTEXT_TEMPLATE.format(context=it.context, question=it.question) if use_context and it.context else it.question
        for it in items
    ]
    t0 = time.perf_counter()
    answers = generate(lm, prompts, config, progress=progress)
    wall = time.perf_counter() - t0
    rows = []
    for it, ans in zip(items, answers):
        rows.append({"id": it.id, "question": it.question, "answer": ans, "gold": it.answers[0],
                     "correct": is_correct(ans, it.answers), **it.meta})
    df = pd.DataFrame(rows)
    n = len(df)
    summary = {
        "model": lm.spec.label(),
        "n": n,
        "correct": int(df["correct"].sum()) if n else 0,
        "accuracy": round(float(df["correct"].mean()), 4) if n else 0.0,
        "wall_s": round(wall, 1),
        "max_new_tokens": config.max_new_tokens,
        "compute": devices.compute_name(lm.device, lm.dtype),  # bf16 and fp32 answers differ now and then
    }
    return EvalResult(df, summary)


def read_questions(path: str | Path) -> list[QAItem]:
    """A question set from JSONL: {"question": ..., "answer": ... or "answers": [...], "id"?, "context"?}."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"question file not found: {path}")
    items = []
    for n, row in jsonl_rows(path, path.read_text(encoding="utf-8-sig")):
        golds = (row.get("answers") or ([row["answer"]] if row.get("answer") else [])) if isinstance(row, dict) else []
        if not isinstance(row, dict) or not row.get("question") or not golds:
            raise InputFileError(f"{path}, line {n}: needs a 'question' and an 'answer' (or 'answers')")
        items.append(QAItem(str(row.get("id", n)), row["question"], [str(g) for g in golds], row.get("context")))
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


# ---------------------------------------------------------------------------
# A project's evaluations (the UI's Evaluate tab; `kd-studio eval --project`)

EVAL_DIR = "eval"  # <project>/eval/<name>/: items.jsonl, summary.json
EVAL_RUN = "evaluate"  # <project>/evaluate/: the run in the background (kd_core.runtime.runs)
WHAT = "evaluation run"
RESULT_COLUMNS = ["name", "model", "questions", "accuracy", "correct", "n", "wall_s"]


def evaluation_name(text: str) -> str:
    """A folder name from a label: letters, digits, '.', '_', '-' (nothing climbs out of eval/)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80]
    return name or "evaluation"


def project_results(project: str | Path) -> pd.DataFrame:
    """One row per evaluation recorded in the project (``eval/*/summary.json``, and
    prompt distillation's ``pd/eval/*``), oldest first."""
    where = Project.at(project)
    rows = []
    for prefix, folder in (("", where.eval_dir), ("pd:", where.pd_eval_dir)):
        for summary_path in sorted(folder.glob("*/summary.json"), key=lambda p: p.stat().st_mtime):
            s = read_json(summary_path)
            if not s:
                continue  # a summary that cannot be read is no result
            rows.append([prefix + summary_path.parent.name, s.get("model"), s.get("questions"), s.get("accuracy"),
                         s.get("correct"), s.get("n"), s.get("wall_s")])
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def evaluate_model(spec: Any, questions: str, generation: GenerationConfig, project: str | Path | None = None,
                   name: str | None = None, out: str | Path | None = None) -> EvalResult:
    """Load the model of `spec`, answer the question set `questions` (a file or demo:SPLIT)
    and grade it; saved into `out`. With `project`: recorded as a run of ``<project>/evaluate/``
    (the Evaluate tab follows its stage) and saved by default in ``<project>/eval/<name>/``
    (name: the model's label). `kd-studio eval` and the background evaluation run."""
    from contextlib import nullcontext

    from kd_core.models.loading import load_model
    from kd_core.runtime import runs
    from kd_core.runtime.background import throttled

    items = question_set(questions)  # a bad file fails before the model loads
    if project is not None:

        name = evaluation_name(name or spec.label())
        out = out or Project.at(project).evaluation(name)
    with runs.recorded(project, EVAL_RUN, WHAT, stage=None) if project is not None else nullcontext() as folder:
        def stage(text: str) -> None:
            if folder is not None:
                runs.update(folder, stage=f"{name}: {text}")

        # A project's run takes the device lock training jobs take: never two on one device.
        with runs.DeviceHold(folder, spec.device, lambda s: print(s, flush=True)) if folder is not None else nullcontext():
            stage("loading the model")
            lm = load_model(spec)
            result = evaluate_qa(lm, items, generation,
                                 progress=throttled(lambda done, total, _: stage(f"answered {done}/{total}")))
        result.summary["questions"] = questions
        if out:
            result.save(out)
    return result


def start_eval(project: str | Path, model: str, adapter: str | None, questions: str, max_new_tokens: int = 48,
               name: str | None = None, batch_size: int = 16) -> dict:
    """Evaluate in the background (kd_core.runtime.background); the questions are read
    now, so a bad file fails here."""
    from kd_core.models.loading import ModelSpec
    from kd_core.runtime.background import start_run

    if not model or not model.strip():
        raise KDError("Model: empty (demo:NAME, a hub id or a local folder)")
    if max_new_tokens < 1:
        raise KDError(f"Answer tokens: must be at least 1 (got {max_new_tokens})")
    question_set(questions)
    spec = ModelSpec(model.strip(), adapter=(adapter or "").strip() or None)
    settings = {"model": spec.to_dict(), "questions": questions, "name": name,
                "generation": {"max_new_tokens": max_new_tokens, "batch_size": batch_size}}
    return start_run(project, EVAL_RUN, WHAT, settings, stage=None)
