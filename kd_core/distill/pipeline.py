"""Prompt distillation (methods.md section 2): a document's knowledge into a LoRA.

The recipe, stage by stage, every stage writing into the project folder and skipping
what an earlier run already wrote (kill it anywhere, run it again, it goes on):

1. ingest     documents -> ``documents/documents.jsonl`` and ``documents/chunks.jsonl``
              (kd_core.data.documents: paragraphs packed into chunks of `chunk_tokens`).
2. questions  a writer model (the model itself by default) reads each chunk and writes
              `per_call` self-contained questions per call, `calls` calls per chunk;
              they go into the project's prompt pool (``pool.sqlite``, source = the
              chunk id), so the curation of TuneShift-KD applies: reject a question
              and it is not trained on; edit it and it is answered again.
3. answers    the teacher (the model with the chunk in its prompt, laid out as
              ``{chunk}\\n\\n---\\n\\n{question}``) answers every live question twice:
              sampled as the method prescribes, for the KD student, and at a low
              temperature, for the SFT baseline (``pd/answers-kd.jsonl``,
              ``pd/answers-sft.jsonl``: student prompt, teacher prompt, answer).
4. train      ``jobs/pd-kd-<digest>``: LoRA with the `kd` loss, the teacher being the
              student with its adapter disabled, reading the teacher prompt;
              ``jobs/pd-sft-<digest>``: cross-entropy on the low-temperature answers
              (kd_core.training.trainer); the digest is of the data and settings, so changed
              data trains anew and unchanged data finds its finished job.
5. evaluate   held-out questions, greedy: closed-book base model, SFT, PD, RAG (BM25
              top-k chunks in the base model's prompt) and PD + RAG
              (``pd/eval/<system>/``, ``pd/results.json``, ``pd/results.md``).

`run_pd(config, project)` runs them in order; the CLI is ``kd-studio pd``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from kd_core.data.documents import Chunk, Document, chunk_document, read_documents, token_counter
from kd_core.runtime import runs
from kd_core.errors import InputFileError, KDError
from kd_core.evaluation.qa import CONTEXT_TEMPLATE, QAItem
from kd_core.models.generation import GenerationConfig, chat_text, complete, generate
from kd_core.tuneshift.generators import MAX_PROMPT_CHARS, clean_line
from kd_core.data.config import checked_fields
from kd_core.training.config import LoraSettings, TrainConfig

DEMO_RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "demo-prompt-distillation.yaml"
DOCS_FILE = Path("documents") / "documents.jsonl"
CHUNKS_FILE = Path("documents") / "chunks.jsonl"
CHUNKING_FILE = Path("documents") / "chunking.json"
PD_DIR = Path("pd")
STAGES = ("ingest", "questions", "answers", "train", "evaluate")
SYSTEMS = ("closed-book", "sft", "pd", "rag", "pd+rag")
MODES = ("kd", "sft")  # which answers: sampled for the KD student, low temperature for SFT
RUN_ACTIVE = runs.ACTIVE
WHAT = "prompt-distillation run"
LIVE = ("pending", "accepted", "edited")  # questions that are trained on: all but rejected
META_QUESTIONS = "pd.questions"  # chunk id -> writer calls done
META_QUESTION_STATS = "pd.question_stats"

Log = Callable[[str], None]


# ---------------------------------------------------------------------------
# Settings: plain data, one dataclass per stage, read from YAML with every field checked


@dataclass
class QuestionSettings:
    per_call: int = 5  # the authors' code: 5 questions per call, 6 calls per paragraph
    calls: int = 6
    temperature: float = 1.5
    top_k: int = 50
    top_p: float = 1.0
    max_new_tokens: int = 256
    batch_size: int = 16
    require_name: bool = True  # keep only questions naming a name of their chunk: "What year was it built?" teaches nothing
    writer: str | None = None  # another model writes the questions (default: the model itself)


@dataclass
class TeacherSettings:
    temperature: float = 1.5  # the method's sampled answers (for KD)
    top_k: int = 50
    top_p: float = 1.0
    sft_temperature: float = 0.25  # the SFT baseline's answers
    max_new_tokens: int = 500
    batch_size: int = 16


@dataclass
class EvalSettings:
    questions: str = ""  # held-out questions: a JSONL file (question, answer[s]) or demo:test
    rag_k: int = 2  # chunks BM25 puts into the prompt
    max_new_tokens: int = 48
    batch_size: int = 16
    systems: list[str] = field(default_factory=lambda: list(SYSTEMS))


def _pd_train() -> TrainConfig:
    # The authors' defaults (methods.md): LoRA on every projection and the output layer,
    # alpha 2r, dropout 0.05, AdamW weight decay 0.1, 10% warmup then linear decay,
    # forward KL at T=2.  Rank 1024 and lr 1e-5 over 10 epochs assume 7B models on GPUs;
    # rank 16 and a higher rate are what a small model and a CPU afford (their ablation:
    # rank 16 already beats SFT).
    return TrainConfig(loss="kd", epochs=3.0, learning_rate=5e-4, batch_size=8, max_length=640, warmup=0.1,
                       weight_decay=0.1, kd_temperature=2.0, logging_steps=5, save_steps=50,
                       lora=LoraSettings(r=16, alpha=32, dropout=0.05, target_modules="all-linear"))


def _sft_train() -> TrainConfig:
    return replace(_pd_train(), loss="sft", lora=LoraSettings(r=16, alpha=32, dropout=0.05))


@dataclass
class PDConfig:
    model: Any = "demo:smollm2-135m-instruct"  # a name or a ModelSpec mapping
    documents: list[str] = field(default_factory=list)  # files (.txt, .md, .jsonl) or demo:documents
    chunk_tokens: int = 256
    system: str | None = None  # one system message for writer, teacher and student (None: the template's)
    seed: int = 0
    questions: QuestionSettings = field(default_factory=QuestionSettings)
    teacher: TeacherSettings = field(default_factory=TeacherSettings)
    train_pd: TrainConfig = field(default_factory=_pd_train)
    train_sft: TrainConfig = field(default_factory=_sft_train)
    eval: EvalSettings = field(default_factory=EvalSettings)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("train_pd", "train_sft"):
            out[key].pop("output_dir", None)  # a job fills it
        if not isinstance(self.model, str):
            out["model"] = self.model.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "pd", base_dir: Path | None = None) -> "PDConfig":
        """From a YAML mapping; an unknown or mistyped setting is named with its path."""
        values = checked_fields(cls, data or {}, where)
        nested = {"questions": QuestionSettings, "teacher": TeacherSettings, "eval": EvalSettings}
        for key, kind in nested.items():
            if isinstance(values.get(key), dict):
                values[key] = kind(**checked_fields(kind, values[key], f"{where}.{key}"))
        for key in ("train_pd", "train_sft"):
            if isinstance(values.get(key), dict):
                default = (_pd_train() if key == "train_pd" else _sft_train()).to_dict()
                merged = {**default, **values[key], "lora": {**default["lora"], **(values[key].get("lora") or {})}}
                values[key] = TrainConfig.from_dict(merged, f"{where}.{key}")
        config = cls(**values)
        if base_dir is not None:  # relative files are relative to the config file
            config.documents = [d if d.startswith("demo:") or Path(d).is_absolute() else str(base_dir / d) for d in config.documents]
            q = config.eval.questions
            if q and not q.startswith("demo:") and not Path(q).is_absolute():
                config.eval.questions = str(base_dir / q)
        config.validate(where)
        return config

    def validate(self, where: str = "pd") -> None:
        q, t, e = self.questions, self.teacher, self.eval
        checks = [
            ("chunk_tokens", self.chunk_tokens >= 16, self.chunk_tokens, "must be >= 16"),
            ("questions.per_call", q.per_call >= 1, q.per_call, "must be >= 1"),
            ("questions.calls", q.calls >= 1, q.calls, "must be >= 1"),
            ("questions.temperature", q.temperature > 0, q.temperature, "must be > 0"),
            ("questions.max_new_tokens", q.max_new_tokens >= 8, q.max_new_tokens, "must be >= 8"),
            ("questions.batch_size", q.batch_size >= 1, q.batch_size, "must be >= 1"),
            ("teacher.temperature", t.temperature > 0, t.temperature, "must be > 0"),
            ("teacher.sft_temperature", t.sft_temperature > 0, t.sft_temperature, "must be > 0"),
            ("teacher.max_new_tokens", t.max_new_tokens >= 1, t.max_new_tokens, "must be >= 1"),
            ("teacher.batch_size", t.batch_size >= 1, t.batch_size, "must be >= 1"),
            ("eval.rag_k", e.rag_k >= 1, e.rag_k, "must be >= 1"),
            ("eval.batch_size", e.batch_size >= 1, e.batch_size, "must be >= 1"),
        ]
        for name, ok, value, why in checks:
            if not ok:
                raise KDError(f"{where}.{name}: {why} (got {value!r})")
        unknown = [s for s in e.systems if s not in SYSTEMS]
        if unknown:
            raise KDError(f"{where}.eval.systems: '{unknown[0]}' is not a system (choose from {', '.join(SYSTEMS)})")
        if self.train_pd.loss != "kd":
            raise KDError(f"{where}.train_pd.loss: prompt distillation trains with 'kd' (got '{self.train_pd.loss}')")
        if self.train_sft.loss != "sft":
            raise KDError(f"{where}.train_sft.loss: the SFT baseline trains with 'sft' (got '{self.train_sft.loss}')")

    def model_spec(self):
        from kd_core.runtime.jobs import model_spec_from

        return model_spec_from(self.model, "model")


def load_pd_config(path: str | Path) -> PDConfig:
    """A PDConfig from a YAML file (its settings at the top or under `pd:`); every problem
    names the file and the setting."""
    from kd_core.data.config import read_yaml

    data, path = read_yaml(path)
    try:
        return PDConfig.from_dict(data.get("pd", data) if isinstance(data, dict) else data, base_dir=path.parent)
    except KDError as e:
        raise InputFileError(f"{path}: {e}") from None


# ---------------------------------------------------------------------------
# Files in the project folder


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            # The last line of an append-only file may be half-written by a killed run:
            # drop it (it is redone); anywhere else the file was damaged by hand.
            if n == len(lines):
                break
            raise InputFileError(f"{path}, line {n}: not valid JSON (the project file is damaged)") from None
    return rows


def write_atomic(path: Path, text: str) -> None:
    """Write aside, fsync, rename: a reader or a kill never leaves half a file under its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def jsonl_text(rows: Sequence[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _append(path: Path, rows: Sequence[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size:
        data = path.read_bytes()
        if not data.endswith(b"\n"):  # a torn last line from a killed run: cut it before adding after it
            with open(path, "r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)
    with open(path, "a", encoding="utf-8") as f:
        f.write(jsonl_text(rows))
        f.flush()
        os.fsync(f.fileno())


def load_chunks(project: str | Path) -> list[Chunk]:
    rows = read_jsonl(Path(project) / CHUNKS_FILE)
    return [Chunk(**r) for r in rows]


def load_documents(project: str | Path) -> list[Document]:
    return [Document(**r) for r in read_jsonl(Path(project) / DOCS_FILE)]


def resolve_documents(refs: Sequence[str]) -> list[Document]:
    """Documents from files, `demo:documents` standing for the demo world's 11."""
    from kd_core.demo.world import WORLD_DIR

    return read_documents([WORLD_DIR / "documents.jsonl" if ref == "demo:documents" else ref for ref in refs])


# ---------------------------------------------------------------------------
# 1. ingest


def ingest(project: str | Path, docs: Sequence[Document], tokenizer, chunk_tokens: int, context_limit: int | None,
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
    old_settings = json.loads((project / CHUNKING_FILE).read_text()) if (project / CHUNKING_FILE).exists() else None
    if old_settings is not None and old_settings["chunk_tokens"] != chunk_tokens:
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
    write_atomic(project / CHUNKS_FILE, jsonl_text([c.to_dict() for c in chunks]))
    write_atomic(project / DOCS_FILE, jsonl_text([asdict(d) for d in [*old_docs.values(), *new]]))
    write_atomic(project / CHUNKING_FILE, json.dumps(settings, indent=2))
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

_INLINE_NUMBER = re.compile(r"\s+(?=\d{1,2}[.)]\s)")
_CAPITALIZED = re.compile(r"\b[A-Z][a-z'\u2019-]{2,}\b")
_QUESTION_START = frozenset(
    "What Who Whom Whose Which Where When Why How Name Tell Give List Describe Explain In On At By For From "
    "The This That These Those There Is Are Was Were Did Does Do Can Could Would Should If".split()
)


def question_instruction(chunk: str, n: int) -> str:
    return (f"{chunk}\n\n---\n\nWrite {n} different trivia questions about the facts in the text above. "
            "Each question must make sense on its own, without the text: name the person, place or thing it asks about. "
            "Write one question per line.")


def writer_prompt(tokenizer, chunk: str, n: int, system: str | None = None) -> str:
    # The assistant turn opens with "1.": small models then write a numbered list of
    # questions instead of answering, chatting or restating the text.
    return chat_text(tokenizer, question_instruction(chunk, n), system) + "1."


def chunk_names(chunk: str) -> set[str]:
    """Capitalized words of a chunk that are names, not sentence openings."""
    return {w for w in _CAPITALIZED.findall(chunk) if w not in _QUESTION_START}


@dataclass
class ParsedQuestions:
    questions: list[str]
    lines: int = 0  # candidate lines seen
    unparseable: int = 0  # lines that are no question
    unnamed: int = 0  # questions naming nothing of their chunk


def parse_questions(output: str, chunk: str, limit: int, require_name: bool = True) -> ParsedQuestions:
    """The questions in one writer output (which continues after the prefilled "1.")."""
    text = _INLINE_NUMBER.sub("\n", "1." + output)
    names = chunk_names(chunk) if require_name else set()
    out = ParsedQuestions([])
    for raw in text.splitlines():
        line = clean_line(raw)
        if not line:
            continue
        out.lines += 1
        if "?" not in line:
            out.unparseable += 1
            continue
        q = line[: line.index("?") + 1].strip()
        if len(q) > MAX_PROMPT_CHARS or len(q.split()) < 3 or not q[0].isalpha():
            out.unparseable += 1
            continue
        if require_name and not any(re.search(rf"\b{re.escape(n)}\b", q) for n in names):
            out.unnamed += 1
            continue
        if q not in out.questions:
            out.questions.append(q)
        if len(out.questions) >= limit:
            break
    return out


def _seed(*parts: Any) -> int:
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def generate_questions(pool, writer, chunks: Sequence[Chunk], settings: QuestionSettings, system: str | None = None,
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
    return Path(project) / PD_DIR / f"answers-{mode}.jsonl"


def teacher_prompt(chunk: str, question: str) -> str:
    return CONTEXT_TEMPLATE.format(context=chunk, question=question)


def live_questions(pool, chunks: Sequence[Chunk]) -> list[Any]:
    """The pool's questions made from these chunks that are not rejected, oldest first."""
    from kd_core.tuneshift.pool import PoolFilter

    df = pool.query(PoolFilter(states=LIVE, sources=[c.id for c in chunks]))
    return list(df.itertuples(index=False))


def teacher_sampling(settings: TeacherSettings, mode: str, seed: int) -> GenerationConfig:
    temperature = settings.temperature if mode == "kd" else settings.sft_temperature
    return GenerationConfig(max_new_tokens=settings.max_new_tokens, do_sample=True, temperature=temperature,
                            top_k=settings.top_k, top_p=settings.top_p, batch_size=settings.batch_size, seed=seed)


def answer_questions(project: str | Path, pool, teacher, chunks: Sequence[Chunk], settings: TeacherSettings, mode: str,
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
            keep.append({"id": r.id, "prompt": r.text, "teacher_prompt": tp, "response": out, "chunk": r.source})
        _append(path, keep)
        if mode == "kd" and keep:
            pool.set_results_many([Results(k["id"], k["response"], scores={"chunk": k["chunk"], "teacher": "chunk in prompt"},
                                           prompt_text=k["prompt"]) for k in keep])
        answered += len(keep)
        if progress:
            progress(min(start + step, len(todo)), len(todo))
    log(f"answers ({mode}, temperature {sampling.temperature:g}): {answered} new -> {path}"
        + (f" ({empty} empty answers left out)" if empty else ""))
    return {"answered": answered, "empty": empty}


def training_data(project: str | Path, pool, chunks: Sequence[Chunk], mode: str) -> tuple[Path, int]:
    """``pd/train-<mode>.jsonl``: the answers to the live questions in their current
    wording; KD rows keep the teacher prompt (chunk + question), SFT rows do not."""
    answers: dict[tuple[int, str], dict] = {}
    for r in read_jsonl(answers_path(project, mode)):
        answers[(r["id"], r["prompt"])] = r  # the latest answer to a wording wins
    rows = []
    for q in live_questions(pool, chunks):
        a = answers.get((q.id, q.text))
        if a is None:
            continue
        row = {"prompt": a["prompt"], "response": a["response"]}
        if mode == "kd":
            row["teacher_prompt"] = a["teacher_prompt"]
        rows.append(row)
    if not rows:
        raise KDError(f"no answered questions for '{mode}' training in {project}: run the answers stage first")
    path = Path(project) / PD_DIR / f"train-{mode}.jsonl"
    write_atomic(path, jsonl_text(rows))
    return path, len(rows)


# ---------------------------------------------------------------------------
# 4. train


# ---------------------------------------------------------------------------
# 5. evaluate


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


def leaked_questions(pool, items: Sequence[QAItem], chunks: Sequence[Chunk]) -> int:
    """Held-out questions that the generated training questions repeat (exactly or nearly):
    reported beside the accuracies, as a check that held-out means held out."""
    from kd_core.data.dedup import DedupIndex

    index = DedupIndex(pool.dedup_config)
    live = live_questions(pool, chunks)
    index.add_many([r.id for r in live], [r.text for r in live])
    return sum(index.check(it.question) is not None for it in items)  # one by one: not against each other


def evaluate_stage(project: str | Path, model_spec, chunks: Sequence[Chunk], settings: EvalSettings,
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
        out = Path(project) / PD_DIR / "eval" / system.replace("+", "-")
        adapter = adapters.get("pd") if system.startswith("pd") else adapters.get("sft") if system == "sft" else None
        if system in ("sft", "pd", "pd+rag") and not adapter:
            raise KDError(f"evaluate {system}: no trained adapter (run the train stage first)")
        use_rag = system.endswith("rag")
        summary = measured_before(out, model=replace(model_spec, adapter=adapter).label(), n=len(items), questions=settings.questions,
                                  rag_k=settings.rag_k if use_rag else None, max_new_tokens=settings.max_new_tokens)
        if summary:
            results[system] = summary
            log(f"evaluate {system}: {summary['accuracy']:.1%} (measured before)")
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
        log(f"evaluate {system}: {summary['accuracy']:.1%} ({summary['correct']}/{summary['n']}, {summary['wall_s']:.0f} s)")
    return results


# ---------------------------------------------------------------------------
# The whole recipe


def run_pd(config: PDConfig, project: str | Path, stages: Sequence[str] = STAGES, log: Log = print) -> dict[str, Any]:
    """Run the prompt-distillation recipe's stages into `project` (see the module docstring).

    One run per project at a time (an OS lock on ``pd/run.lock``); ``pd/status.json``
    says which stage runs, and how the run ended, for the UI and `pd_status`."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise KDError(f"unknown stage '{unknown[0]}' (stages: {', '.join(STAGES)})")
    config.validate()
    project = Path(project).expanduser()
    config.model_spec()  # a bad model setting fails before anything is written
    docs = resolve_documents(config.documents) if "ingest" in stages and config.documents else None  # bad files fail before loading
    if "evaluate" in stages and config.eval.questions:
        load_question_set(config.eval.questions)
    with runs.recorded(project, PD_DIR, WHAT, stages=list(stages), stage=None):
        return _run_stages(config, project, docs, stages, log)


def _run_stages(config: PDConfig, project: Path, docs: list[Document] | None, stages: Sequence[str], log: Log) -> dict[str, Any]:
    from kd_core.runtime import jobs
    from kd_core.models.loading import load_model
    from kd_core.tuneshift.pool import Pool

    spec = config.model_spec()
    pd_dir = project / PD_DIR
    write_atomic(pd_dir / "config.yaml", __import__("yaml").safe_dump(config.to_dict(), sort_keys=False))
    lm = None

    def stage(name: str) -> None:
        runs.update(pd_dir, stage=name)

    def model():
        nonlocal lm
        if lm is None:
            lm = load_model(spec)
        return lm

    if "ingest" in stages:
        stage("ingest")
        if docs is None:
            if not load_chunks(project):
                raise KDError("documents: none given and none in the project (give --docs FILE ...)")
        else:
            t0 = time.perf_counter()
            add_documents(project, docs, config, log)
            runs.add_time(project / PD_DIR, "ingest", time.perf_counter() - t0)
    chunks = load_chunks(project)
    if not chunks and any(s in stages for s in ("questions", "answers", "train", "evaluate")):
        raise KDError(f"{project} holds no documents yet: run the ingest stage with --docs FILE ...")
    with Pool(project) as pool:
        if "questions" in stages:
            stage("questions")
            with runs.DeviceHold(pd_dir, spec.device, log):
                t0 = time.perf_counter()
                writer = model()
                if config.questions.writer:
                    from kd_core.models.loading import ModelSpec

                    writer = load_model(ModelSpec(config.questions.writer, device=spec.device, dtype=spec.dtype))
                generate_questions(pool, writer, chunks, config.questions, config.system, config.seed, log)
                runs.add_time(project / PD_DIR, "questions", time.perf_counter() - t0)
        if "answers" in stages:
            stage("answers")
            with runs.DeviceHold(pd_dir, spec.device, log):
                for mode in MODES:
                    t0 = time.perf_counter()
                    answer_questions(project, pool, model(), chunks, config.teacher, mode, config.system, config.seed, log)
                    runs.add_time(project / PD_DIR, f"answers-{mode}", time.perf_counter() - t0)
        adapters: dict[str, str] = {}
        job_ids: dict[str, str] = {}
        if "train" in stages:
            stage("train")  # each job takes the device lock itself
            lm = None  # training loads its own copy (a job may run in another process)
        for mode, train in (("kd", config.train_pd), ("sft", config.train_sft)):
            train = replace(train, system=config.system, seed=config.seed)
            if "train" in stages:
                data, _ = training_data(project, pool, chunks, mode)
            else:
                data = Path(project) / PD_DIR / f"train-{mode}.jsonl"
                if not data.exists():
                    continue
            job_id = jobs.job_id_for(f"pd-{mode}", data, spec, train)
            key = "pd" if mode == "kd" else "sft"
            if "train" in stages:
                t0 = time.perf_counter()
                jobs.train_to_completion(project, spec, data, train, job_id, f"prompt distillation: {job_id}", log)
                runs.add_time(project / PD_DIR, f"train-{mode}", time.perf_counter() - t0)
            adapter = jobs.jobs_dir(project) / job_id / "adapter"
            if (adapter / "adapter_config.json").exists():
                adapters[key], job_ids[key] = str(adapter), job_id
        results = {}
        if "evaluate" in stages:
            stage("evaluate")
            lm = None
            with runs.DeviceHold(pd_dir, spec.device, log):
                t0 = time.perf_counter()
                results = evaluate_stage(project, spec, chunks, config.eval, adapters, log)
                runs.add_time(project / PD_DIR, "evaluate", time.perf_counter() - t0)
            items = load_question_set(config.eval.questions)
            report = pd_report(project, pool, chunks, items, results, config, job_ids)
            write_atomic(project / PD_DIR / "results.json", json.dumps(report, indent=2))
            write_atomic(project / PD_DIR / "results.md", results_markdown(report))
            return report
    return {"stages": runs.stage_times(project / PD_DIR), "results": results}


def pd_report(project: Path, pool, chunks: Sequence[Chunk], items: Sequence[QAItem], results: dict[str, dict],
              config: PDConfig, job_ids: dict[str, str]) -> dict[str, Any]:
    from kd_core.runtime import jobs

    counts = {mode: len(read_jsonl(answers_path(project, mode))) for mode in MODES}
    train = {}
    for key, job_id in job_ids.items():
        s = jobs.job_status(jobs.jobs_dir(project) / job_id).get("summary") or {}
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
        "train": train,
        "stage_wall_s": runs.stage_times(project / PD_DIR),
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
             "| system | accuracy | correct | eval wall s |", "| --- | --- | --- | --- |"]
    for system, r in report["results"].items():
        name = _SYSTEM_NAMES[system].format(sft_t=cfg["teacher"]["sft_temperature"], kd_t=cfg["teacher"]["temperature"], k=cfg["eval"]["rag_k"])
        lines.append(f"| {name} | {r['accuracy']:.1%} | {r['correct']}/{r['n']} | {r['wall_s']:.0f} |")
    lines += ["", "| stage | wall s |", "| --- | --- |"] + [f"| {k} | {v:.0f} |" for k, v in report["stage_wall_s"].items()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# A run in its own process (the UI's buttons; `kd-studio pd` in the background)


def pd_command(project: str | Path, stages: Sequence[str]) -> list[str]:
    """The command that runs these stages of the project's saved config (pd/config.yaml)."""
    import sys

    project = Path(project).resolve()
    return [sys.executable, "-m", "kd_core.cli", "pd", "--project", str(project),
            "--config", str(project / PD_DIR / "config.yaml"), "--stages", ",".join(stages)]


def start_pd(project: str | Path, config: PDConfig, stages: Sequence[str]) -> dict[str, Any]:
    """Save `config` into the project and run `stages` in a process of its own (it outlives
    the caller; its output goes to ``pd/process.log``); returns the run's status."""
    import yaml

    config.validate()
    project = Path(project).expanduser().resolve()
    runs.check_idle(project, PD_DIR, WHAT)  # before the config a run works from is overwritten
    (project / PD_DIR).mkdir(parents=True, exist_ok=True)
    write_atomic(project / PD_DIR / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    return runs.start(project, PD_DIR, pd_command(project, stages), WHAT, stages=list(stages), stage=None)


def pd_status(project: str | Path) -> dict[str, Any]:
    """The project's last prompt-distillation run: state (running, completed, failed,
    cancelled, or none), stage, error; a run whose process died is recorded as failed."""
    return runs.status(project, PD_DIR)


def stop_pd(project: str | Path, wait_s: float = 10.0) -> dict[str, Any]:
    """End a running stage (SIGTERM to its process group); what it committed stays, and
    running the stage again goes on from there."""
    return runs.stop(project, PD_DIR, wait_s)
