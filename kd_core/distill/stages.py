"""Prompt distillation's data stages (see kd_core.distill.pipeline): documents into
chunks (ingest), the writer's questions into the pool (questions), and the teacher's
answers with the chunk in its prompt (answers), then the training files made from them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from kd_core.data.documents import Chunk, Document, chunk_document, read_documents, token_counter
from kd_core.data.files import append_jsonl, jsonl_text, load_json, read_jsonl, write_atomic
from kd_core.distill.config import (
    LIVE,
    META_QUESTION_STATS,
    META_QUESTIONS,
    MODES,
    Log,
    PDConfig,
    QuestionSettings,
    TeacherSettings,
)
from kd_core.errors import KDError
from kd_core.evaluation.qa import CONTEXT_TEMPLATE
from kd_core.models.generation import GenerationConfig, complete, generate
from kd_core.project import Project
from kd_core.tuneshift.questions import parse_questions, writer_prompt

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from kd_core.models.loading import LoadedModel
    from kd_core.tuneshift.pool import Pool

# ---------------------------------------------------------------------------
# Files in the project folder


def load_chunks(project: str | Path) -> list[Chunk]:
    rows = read_jsonl(Project.at(project).chunks)
    return [Chunk(**r) for r in rows]


def load_documents(project: str | Path) -> list[Document]:
    return [Document(**r) for r in read_jsonl(Project.at(project).documents_file)]


def resolve_documents(refs: Sequence[str]) -> list[Document]:
    """Documents from files or references (`demo:documents` stands for the demo world's 11)."""
    from kd_core.data.references import resolve_file

    return read_documents([resolve_file(ref) for ref in refs])


# ---------------------------------------------------------------------------
# 1. ingest


def ingest(project: str | Path, docs: Sequence[Document], tokenizer: PreTrainedTokenizerBase, chunk_tokens: int, context_limit: int | None,
           reserve_tokens: int, log: Log = print) -> list[Chunk]:
    """Store the documents and their chunks in the project; return every chunk.

    A project keeps its documents: ingesting again with the same documents changes
    nothing, new documents are added, a changed document or another chunk size is
    refused (its questions and answers were made from the old chunks)."""
    project = Path(project)
    if context_limit is not None and chunk_tokens + reserve_tokens > context_limit:
        raise KDError(
            f"chunk_tokens: {chunk_tokens} tokens of document plus {reserve_tokens} for the question and the answer "
            f"exceed the model's context of {context_limit} tokens; lower chunk_tokens (or teacher.max_new_tokens)"
        )
    name = getattr(tokenizer, "name_or_path", "") or ""
    settings = {"chunk_tokens": chunk_tokens, "tokenizer": Path(name).name}
    old_settings = load_json(Project.at(project).chunking_file)  # missing, or damaged (named in a warning): none recorded
    if isinstance(old_settings, dict) and old_settings.get("chunk_tokens", chunk_tokens) != chunk_tokens:
        raise KDError(f"chunk_tokens: {project} was chunked with {old_settings['chunk_tokens']} tokens, not {chunk_tokens}; "
                      "use a new project folder for another chunk size")
    old_docs = {d.id: d for d in load_documents(project)}
    chunks = load_chunks(project)
    new = []
    for doc in docs:
        if doc.id in old_docs:
            if old_docs[doc.id].text != doc.text:
                raise KDError(f"{doc.source}: document '{doc.id}' differs from the one already in {project}; "
                              "give it another id (or use a new project folder)")
            continue
        new.append(doc)
    if not new:
        log(f"ingest: {len(old_docs)} documents, {len(chunks)} chunks already in {project}")
        return chunks
    count = token_counter(tokenizer)
    added = [c for d in new for c in chunk_document(d, count, chunk_tokens)]
    # Chunks first, then documents: a kill in between leaves documents not yet listed,
    # which the next run adds again (their chunks dedup by id).
    known = {c.id for c in chunks}
    chunks = chunks + [c for c in added if c.id not in known]
    write_atomic(Project.at(project).chunks, jsonl_text([c.to_dict() for c in chunks]))
    write_atomic(Project.at(project).documents_file, jsonl_text([asdict(d) for d in [*old_docs.values(), *new]]))
    write_atomic(Project.at(project).chunking_file, json.dumps(settings, indent=2))
    longest = max(c.tokens for c in added)
    log(f"ingest: {len(new)} documents -> {len(added)} chunks (at most {chunk_tokens} tokens; longest {longest})")
    return chunks


def add_documents(project: str | Path, docs: Sequence[Document], config: PDConfig, log: Log = print) -> list[Chunk]:
    """`ingest` with the config's model tokenizer and context (the weights are not loaded)."""
    from kd_core.models.loading import load_tokenizer

    tokenizer, context = load_tokenizer(config.model_spec())
    reserve = 64 + config.teacher.max_new_tokens  # the question, the chat template and the answer
    return ingest(project, docs, tokenizer, config.chunk_tokens, context, reserve, log)


# ---------------------------------------------------------------------------
# 2. questions

def _seed(*parts: Any) -> int:
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def generate_questions(pool: Pool, writer: LoadedModel, chunks: Sequence[Chunk], settings: QuestionSettings, system: str | None = None,
                       seed: int = 0, log: Log = print, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run the writer over every chunk, `settings.calls` times, adding what it writes to the
    pool (source = chunk id).  Resumes: the pool's meta records each chunk's calls done,
    committed after every batch; a call is redone only if the run died inside it."""
    done: dict[str, int] = dict(pool.get_meta(META_QUESTIONS, {}) or {})
    stats: dict[str, int] = {k: 0 for k in ("samples", "lines", "unparseable", "unnamed", "added", "duplicates")}
    stats.update(pool.get_meta(META_QUESTION_STATS, {}) or {})
    total = len(chunks) * settings.calls
    finished = sum(min(done.get(c.id, 0), settings.calls) for c in chunks)
    if finished == total:
        log(f"questions: all {total} writer calls already done")
        return stats
    sampling = GenerationConfig(max_new_tokens=settings.max_new_tokens, do_sample=True, temperature=settings.temperature,
                                top_k=settings.top_k, top_p=settings.top_p, batch_size=settings.batch_size)
    empty_outputs: list[str] = []
    for call in range(settings.calls):
        todo = [c for c in chunks if done.get(c.id, 0) <= call]
        for start in range(0, len(todo), settings.batch_size):
            group = todo[start : start + settings.batch_size]
            texts = [writer_prompt(writer.tokenizer, c.text, settings.per_call, system) for c in group]
            outputs = complete(writer, texts, replace(sampling, seed=_seed(seed, call, group[0].id)))
            for chunk, output in zip(group, outputs):
                parsed = parse_questions(output, chunk.text, settings.per_call, settings.require_name)
                stats["samples"] += 1
                for key in ("lines", "unparseable", "unnamed"):
                    stats[key] += getattr(parsed, key)
                if parsed.questions:
                    result = pool.add_prompts(parsed.questions, source=chunk.id, round=0)
                    stats["added"] += len(result.added)
                    stats["duplicates"] += len(result.exact_dups) + len(result.near_dups)
                elif len(empty_outputs) < 3:
                    empty_outputs.append(output[:160])
                done[chunk.id] = call + 1
            pool.update_meta({META_QUESTIONS: done, META_QUESTION_STATS: stats})
            finished += len(group)
            if progress:
                progress(finished, total)
    if not live_questions(pool, chunks):
        pool.update_meta({META_QUESTIONS: {}, META_QUESTION_STATS: {}})  # a rerun with another writer starts afresh
        shown = "; ".join(repr(o) for o in empty_outputs) or "(nothing)"
        raise KDError(f"the question writer {writer.spec.label()} wrote no parsable question in {stats['samples']} samples "
                      f"(first outputs: {shown}); try another writer model (questions.writer) or other sampling settings")
    log(f"questions: {stats['samples']} writer samples -> {stats['added']} questions in the pool "
        f"({stats['unparseable']} lines not a question, {stats['unnamed']} naming nothing of their chunk, "
        f"{stats['duplicates']} duplicates)")
    return stats


# ---------------------------------------------------------------------------
# 3. answers


def answers_path(project: str | Path, mode: str) -> Path:
    return Project.at(project).pd_answers(mode)


def teacher_prompt(chunk: str, question: str) -> str:
    return CONTEXT_TEMPLATE.format(context=chunk, question=question)


def live_questions(pool: Pool, chunks: Sequence[Chunk]) -> list[Any]:
    """The pool's questions made from these chunks that are not rejected, oldest first."""
    from kd_core.tuneshift.pool import PoolFilter

    df = pool.query(PoolFilter(states=LIVE, sources=[c.id for c in chunks]))
    return list(df.itertuples(index=False))


def teacher_sampling(settings: TeacherSettings, mode: str, seed: int) -> GenerationConfig:
    temperature = settings.temperature if mode == "kd" else settings.sft_temperature
    return GenerationConfig(max_new_tokens=settings.max_new_tokens, do_sample=True, temperature=temperature,
                            top_k=settings.top_k, top_p=settings.top_p, batch_size=settings.batch_size, seed=seed)


def answer_questions(project: str | Path, pool: Pool, teacher: LoadedModel, chunks: Sequence[Chunk], settings: TeacherSettings, mode: str,
                     system: str | None = None, seed: int = 0, log: Log = print,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """The teacher's answer (chunk in its prompt) to every live question not yet answered
    in its current wording; appended to ``pd/answers-<mode>.jsonl`` batch by batch.  The
    KD answers also go into the pool as the questions' responses (what curation shows)."""
    from kd_core.tuneshift.pool import Results

    if mode not in MODES:
        raise KDError(f"answers: mode must be one of {', '.join(MODES)} (got {mode!r})")
    path = answers_path(project, mode)
    have = {(r["id"], r["prompt"]) for r in read_jsonl(path)}
    by_id = {c.id: c for c in chunks}
    todo = [r for r in live_questions(pool, chunks) if (r.id, r.text) not in have]
    if not todo:
        log(f"answers ({mode}): every question already answered -> {path}")
        return {"answered": 0, "empty": 0}
    sampling = teacher_sampling(settings, mode, seed)
    empty = answered = 0
    step = settings.batch_size * 4  # commit every few batches: a kill loses little
    for start in range(0, len(todo), step):
        rows = todo[start : start + step]
        prompts = [teacher_prompt(by_id[r.source].text, r.text) for r in rows]
        outputs = generate(teacher, prompts, replace(sampling, seed=_seed(seed, mode, rows[0].id)), system=system)
        keep = []
        for r, tp, out in zip(rows, prompts, outputs):
            if not out.strip():
                empty += 1  # nothing to learn from; asked again on the next run
                continue
            keep.append({"id": r.id, "prompt": r.text, "teacher_prompt": tp, "completion": out, "chunk": r.source})
        append_jsonl(path, keep)
        if mode == "kd" and keep:
            pool.set_results_many([Results(k["id"], k["completion"], scores={"chunk": k["chunk"], "teacher": "chunk in prompt"},
                                           prompt_text=k["prompt"]) for k in keep])
        answered += len(keep)
        if progress:
            progress(min(start + step, len(todo)), len(todo))
    log(f"answers ({mode}, temperature {sampling.temperature:g}): {answered} new -> {path}"
        + (f" ({empty} empty answers left out)" if empty else ""))
    return {"answered": answered, "empty": empty}


def training_data(project: str | Path, pool: Pool, chunks: Sequence[Chunk], mode: str) -> tuple[Path, int]:
    """``pd/train-<mode>.jsonl``: the answers to the live questions in their current
    wording, in TRL's prompt-completion form (``{"prompt", "completion"}``); KD rows keep
    the teacher prompt (chunk + question) beside them, SFT rows do not.  Answers files
    written before ``completion`` (their answer under ``response``) are still read.
    ``pd/README.md``, the dataset card of the train files, is written beside them."""
    answers: dict[tuple[int, str], dict] = {}
    for r in read_jsonl(answers_path(project, mode)):
        answers[(r["id"], r["prompt"])] = r  # the latest answer to a wording wins
    rows = []
    for q in live_questions(pool, chunks):
        a = answers.get((q.id, q.text))
        if a is None:
            continue
        row = {"prompt": a["prompt"], "completion": a["completion"] if "completion" in a else a["response"]}
        if mode == "kd":
            row["teacher_prompt"] = a["teacher_prompt"]
        rows.append(row)
    if not rows:
        raise KDError(f"no answered questions for '{mode}' training in {project}: run the answers stage first")
    path = Project.at(project).pd_train_data(mode)
    write_atomic(path, jsonl_text(rows))
    write_atomic(Project.at(project).pd_dir / "README.md", pd_dataset_card(project))
    return path, len(rows)


def pd_dataset_card(project: str | Path) -> str:
    """The dataset card of a project's prompt-distillation train files: one config per
    file (``kd``: with the teacher's prompt; ``sft``: prompt and completion only)."""
    from kd_core.data.cards import dataset_card, feature

    configs = []
    for mode in MODES:
        path = Project.at(project).pd_train_data(mode)
        if path.exists():
            features = [feature("prompt", "string"), feature("completion", "string")]
            if mode == "kd":
                features.append(feature("teacher_prompt", "string"))
            configs.append({"name": mode, "file": path.name, "rows": len(read_jsonl(path)), "features": features})
    rows = ", ".join(f"{c['name']}: {c['rows']} rows" for c in configs)
    body = "\n".join([
        "# KD Studio prompt-distillation data",
        "",
        "Questions a writer model asked about the project's documents, answered by the teacher (the model itself "
        "reading the document chunk before the question), in TRL's prompt-completion form.",
        "",
        f"- Configs: {rows}",
        "- `kd` (`train-kd.jsonl`): the teacher's answers sampled at the KD temperature; `teacher_prompt` is what "
        "the teacher read (`{chunk}\\n\\n---\\n\\n{question}`); a student trained on it sees `prompt` alone.",
        "- `sft` (`train-sft.jsonl`): the low-temperature answers, for the SFT baseline.",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        'kd = load_dataset("path/to/pd", "kd", split="train")  # prompt, completion, teacher_prompt',
        "```",
        "",
    ])
    return dataset_card(configs, body, tags=["synthetic", "prompt-distillation"], pretty_name="KD Studio prompt distillation")

