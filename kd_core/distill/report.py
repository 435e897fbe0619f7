"""Prompt distillation's last stage: accuracy of each system on held-out questions, and
the run's report (``pd/results.json``, ``pd/results.md``)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from kd_core.data.documents import Chunk
from kd_core.data.files import read_jsonl
from kd_core.distill.config import META_QUESTION_STATS, MODES, EvalSettings, Log, PDConfig
from kd_core.distill.stages import answers_path, live_questions, load_documents
from kd_core.errors import KDError
from kd_core.evaluation.qa import QAItem
from kd_core.evaluation.stats import accuracy_text, compare_files, paired_text
from kd_core.models.generation import GenerationConfig
from kd_core.project import Project
from kd_core.runtime import runs

if TYPE_CHECKING:
    from kd_core.models.loading import ModelSpec
    from kd_core.tuneshift.pool import Pool


def load_question_set(ref: str) -> list[QAItem]:
    """Held-out questions: `demo:test` (or another demo split) or a JSONL file."""
    from kd_core.evaluation.qa import question_set

    return question_set(ref, "eval.questions")


def with_retrieved(items: Sequence[QAItem], chunks: Sequence[Chunk], k: int) -> list[QAItem]:
    """The items with the top-k BM25 chunks as their context, best first."""
    from kd_core.data.retrieval import BM25

    index = BM25([c.text for c in chunks])
    out = []
    for it in items:
        top = index.top_k(it.question, k)
        out.append(replace(it, context="\n\n".join(chunks[i].text for i in top), meta={**it.meta, "retrieved": [chunks[i].id for i in top]}))
    return out


def leaked_questions(pool: Pool, items: Sequence[QAItem], chunks: Sequence[Chunk]) -> int:
    """Held-out questions that the generated training questions repeat (exactly or nearly):
    reported beside the accuracies, as a check that held-out means held out."""
    from kd_core.data.dedup import DedupIndex

    index = DedupIndex(pool.dedup_config)
    live = live_questions(pool, chunks)
    index.add_many([r.id for r in live], [r.text for r in live])
    return sum(index.check(it.question) is not None for it in items)  # one by one: not against each other


def evaluate_stage(project: str | Path, model_spec: ModelSpec, chunks: Sequence[Chunk], settings: EvalSettings,
                   adapters: dict[str, str], log: Log = print) -> dict[str, dict]:
    """Accuracy of each system on the held-out questions; a system already measured on
    the same questions is read back, not rerun."""
    from kd_core.evaluation.qa import EvalResult, evaluate_qa, measured_before
    from kd_core.models.loading import load_model

    if not settings.questions:
        raise KDError("eval.questions: not set (a JSONL file of questions with answers, or demo:test)")
    items = load_question_set(settings.questions)
    retrieved = with_retrieved(items, chunks, settings.rag_k)
    config = GenerationConfig(max_new_tokens=settings.max_new_tokens, batch_size=settings.batch_size)
    results: dict[str, dict] = {}
    loaded: dict[str | None, Any] = {}
    for system in settings.systems:
        out = Project.at(project).pd_evaluation(system)
        adapter = adapters.get("pd") if system.startswith("pd") else adapters.get("sft") if system == "sft" else None
        if system in ("sft", "pd", "pd+rag") and not adapter:
            raise KDError(f"evaluate {system}: no trained adapter (run the train stage first)")
        use_rag = system.endswith("rag")
        summary = measured_before(out, model=replace(model_spec, adapter=adapter).label(), n=len(items), questions=settings.questions,
                                  rag_k=settings.rag_k if use_rag else None, max_new_tokens=settings.max_new_tokens)
        if summary:
            results[system] = summary
            log(f"evaluate {system}: {accuracy_text(summary['correct'], summary['n'])} (measured before)")
            continue
        if adapter not in loaded:
            loaded.clear()  # one model in memory at a time
            loaded[adapter] = load_model(replace(model_spec, adapter=adapter))
        lm = loaded[adapter]
        t0 = time.perf_counter()
        result = evaluate_qa(lm, retrieved if use_rag else items, config, use_context=use_rag)
        summary = {**result.summary, "system": system, "questions": settings.questions, "rag_k": settings.rag_k if use_rag else None,
                   "wall_s": round(time.perf_counter() - t0, 1)}
        EvalResult(result.items, summary).save(out)
        results[system] = summary
        log(f"evaluate {system}: {accuracy_text(summary['correct'], summary['n'])}, {summary['wall_s']:.0f} s")
    return results


# The comparisons the report tests (first, second): each system against the closed-book
# base (what training or retrieval added), and the method against its baselines.
COMPARISONS = (("sft", "closed-book"), ("pd", "closed-book"), ("rag", "closed-book"), ("pd", "sft"), ("pd", "rag"),
               ("pd+rag", "rag"), ("pd+rag", "pd"))


def comparisons(project: str | Path, systems: Sequence[str]) -> list[dict[str, Any]]:
    """McNemar's exact test of each of COMPARISONS whose two systems were evaluated on the
    same questions (``pd/eval/<system>/items.jsonl``)."""
    where = Project.at(project)
    out = []
    for first, second in COMPARISONS:
        if first not in systems or second not in systems:
            continue
        try:
            pair = compare_files(where.pd_evaluation(first), where.pd_evaluation(second))
        except KDError:
            continue  # an evaluation missing, damaged or of other questions: no paired figure
        out.append({"first": first, "second": second, **pair.to_dict()})
    return out


def pd_report(project: Path, pool: Pool, chunks: Sequence[Chunk], items: Sequence[QAItem], results: dict[str, dict],
              config: PDConfig, job_ids: dict[str, str]) -> dict[str, Any]:
    from kd_core.runtime import jobs

    counts = {mode: len(read_jsonl(answers_path(project, mode))) for mode in MODES}
    train = {}
    for key, job_id in job_ids.items():
        try:
            s = jobs.job_status(jobs.jobs_dir(project) / job_id).get("summary") or {}
        except KDError:
            s = {}  # its status.json is damaged (named in a warning): the report goes on without its numbers
        train[key] = {"job": job_id, **{k: s.get(k) for k in ("examples", "steps", "wall_s", "tokens_per_s", "final_loss", "teacher_cache")}}
    rag = results.get("rag", {}).get("accuracy")
    return {
        "model": config.model_spec().label(),
        "documents": len(load_documents(project)),
        "chunks": len(chunks),
        "questions": len(live_questions(pool, chunks)),
        "question_stats": pool.get_meta(META_QUESTION_STATS, {}),
        "answers": counts,
        "held_out": {"questions": config.eval.questions, "n": len(items), "repeated_by_training_questions": leaked_questions(pool, items, chunks)},
        "results": results,
        "pd_over_rag": round(results["pd"]["accuracy"] / rag, 3) if rag and "pd" in results else None,
        "comparisons": comparisons(project, list(results)),
        "train": train,
        "stage_wall_s": runs.stage_times(Project.at(project).pd_dir),
        "config": config.to_dict(),
    }


_SYSTEM_NAMES = {
    "closed-book": "closed-book base model",
    "sft": "SFT on teacher answers (T={sft_t:g})",
    "pd": "prompt distillation (KD, T={kd_t:g} answers)",
    "rag": "RAG: BM25 top-{k} chunks, base model",
    "pd+rag": "PD + RAG",
}


def results_markdown(report: dict[str, Any]) -> str:
    cfg = report["config"]
    lines = [f"# Prompt distillation: {report['model']}", "",
             f"{report['documents']} documents, {report['chunks']} chunks, {report['questions']} training questions; "
             f"held-out: {report['held_out']['n']} questions ({report['held_out']['questions']}), "
             f"{report['held_out']['repeated_by_training_questions']} of them repeated by a training question.", "",
             "| system | accuracy | eval wall s |", "| --- | --- | --- |"]
    names = {}
    for system, r in report["results"].items():
        names[system] = _SYSTEM_NAMES[system].format(sft_t=cfg["teacher"]["sft_temperature"], kd_t=cfg["teacher"]["temperature"],
                                                     k=cfg["eval"]["rag_k"])
        lines.append(f"| {names[system]} | {accuracy_text(r['correct'], r['n'])} | {r['wall_s']:.0f} |")
    if report.get("comparisons"):
        lines += ["", "Paired comparisons on the same questions (McNemar's exact test): questions only the first "
                  "system got right / only the second, and p.", "",
                  "| first | second | only first / only second, p |", "| --- | --- | --- |"]
        lines += [f"| {c['first']} | {c['second']} | {paired_text(c)} |" for c in report["comparisons"]]
    lines += ["", "| stage | wall s |", "| --- | --- |"] + [f"| {k} | {v:.0f} |" for k, v in report["stage_wall_s"].items()]
    return "\n".join(lines) + "\n"
