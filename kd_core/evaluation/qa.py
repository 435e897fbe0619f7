"""Closed-book (or open-book) QA accuracy of any loaded model on a question set.

Greedy answers, each graded three ways (kd_core.evaluation.grading): the containment
grade (``correct``: a normalized gold answer or alias occurs in the answer as whole
words; the accuracy every table reports), SQuAD exact match and token F1.  Every
accuracy carries its 95% Wilson interval (kd_core.evaluation.stats).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from kd_core.data.files import read_json, write_atomic, write_json
from kd_core.errors import KDError
from kd_core.evaluation.grading import exact_match, is_correct, normalize_answer, token_f1
from kd_core.evaluation.questions import QAItem, question_set, read_questions
from kd_core.evaluation.stats import interval_text, wilson
from kd_core.models import devices
from kd_core.models.generation import GenerationConfig, generate
from kd_core.models.loading import LoadedModel
from kd_core.project import Project

# Re-exported: callers read question sets and grade through this module.
__all__ = ["QAItem", "question_set", "read_questions", "is_correct", "normalize_answer", "exact_match", "token_f1"]

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


def grade_summary(items: pd.DataFrame) -> dict[str, Any]:
    """The summary figures of graded items: n, correct, accuracy and its 95% Wilson
    interval (the containment grade), exact match (count, rate, interval), mean token F1."""
    n = len(items)
    correct = int(items["correct"].sum()) if n else 0
    out: dict[str, Any] = {"n": n, "correct": correct, "accuracy": round(correct / n, 4) if n else 0.0,
                           "accuracy_ci95": [round(x, 4) for x in wilson(correct, n)]}
    if "exact_match" in items:
        em = int(items["exact_match"].sum()) if n else 0
        out |= {"exact_match_correct": em, "exact_match": round(em / n, 4) if n else 0.0,
                "exact_match_ci95": [round(x, 4) for x in wilson(em, n)]}
    if "f1" in items:
        out["f1"] = round(float(items["f1"].mean()), 4) if n else 0.0
    return out


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
        # meta first: a question file's extra columns never overwrite a grade
        rows.append({"id": it.id, "question": it.question, **it.meta, "answer": ans, "gold": it.answers[0],
                     "correct": is_correct(ans, it.answers), "exact_match": exact_match(ans, it.answers),
                     "f1": round(token_f1(ans, it.answers), 4)})
    df = pd.DataFrame(rows)
    summary = {
        "model": lm.spec.label(),
        **grade_summary(df),
        "wall_s": round(wall, 1),
        "max_new_tokens": config.max_new_tokens,
        "compute": devices.compute_name(lm.device, lm.dtype),  # bf16 and fp32 answers differ now and then
    }
    return EvalResult(df, summary)


# ---------------------------------------------------------------------------
# A project's evaluations (the UI's Evaluate tab; `kd-studio eval --project`)

EVAL_DIR = "eval"  # <project>/eval/<name>/: items.jsonl, summary.json
EVAL_RUN = "evaluate"  # <project>/evaluate/: the run in the background (kd_core.runtime.runs)
WHAT = "evaluation run"
RESULT_COLUMNS = ["name", "model", "questions", "accuracy", "95% interval", "correct", "n", "exact_match", "f1", "wall_s"]


def evaluation_name(text: str) -> str:
    """A folder name from a label: letters, digits, '.', '_', '-' (nothing climbs out of eval/)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80]
    return name or "evaluation"


def summary_interval(summary: dict) -> str:
    """'23.1-31.9%': the 95% interval of a saved evaluation's accuracy, from its counts
    (summaries written before intervals were recorded have them too); '' without counts."""
    correct, n = summary.get("correct"), summary.get("n")
    if not isinstance(correct, int) or not isinstance(n, int) or isinstance(correct, bool) or not 0 <= correct <= n:
        return ""
    return interval_text(correct, n)


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
                         summary_interval(s), s.get("correct"), s.get("n"), s.get("exact_match"), s.get("f1"), s.get("wall_s")])
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def evaluate_model(spec: Any, questions: str, generation: GenerationConfig, project: str | Path | None = None,
                   name: str | None = None, out: str | Path | None = None,
                   progress: Callable[[int, int | None, str], None] | None = None) -> EvalResult:
    """Load the model of `spec`, answer the question set `questions` (a file or demo:SPLIT)
    and grade it; saved into `out`. With `project`: recorded as a run of ``<project>/evaluate/``
    (the Evaluate tab follows its stage) and saved by default in ``<project>/eval/<name>/``
    (name: the model's label). `progress(done, total, stage)`: every batch answered (the
    CLI's bar), besides the run's throttled stage. `kd-studio eval` and the background
    evaluation run."""
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
            report = progress or (lambda done, total, text: None)
            stage("loading the model")
            report(0, None, f"loading {spec.label()}")
            lm = load_model(spec)
            report(0, len(items), "answered")  # the clock starts before the first batch
            recorded = throttled(lambda done, total, _: stage(f"answered {done}/{total}"))

            def answered(done: int, total: int) -> None:
                recorded(done, total)
                report(done, total, "answered")

            result = evaluate_qa(lm, items, generation, progress=answered)
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
