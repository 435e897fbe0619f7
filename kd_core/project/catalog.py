"""What a project holds, as items a page can offer by name: training jobs (with their
adapter and held-out accuracy), evaluations, datasets, seed files, question sets and
documents, and the best evaluated job.

Everything is read from the project's folders (kd_core.project.Project gives every
path); nothing is written and nothing heavy is imported, so a tab can call these on
every page load.  A damaged file hides its item, never the others: a list is what
can be read now.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kd_core.data.config import read_yaml
from kd_core.data.files import read_json
from kd_core.data.references import is_reference
from kd_core.errors import KDError
from kd_core.project import Project

ADAPTER_DIR = "adapter"  # what a job's trainer saves into its folder (kd_core.training.trainer)
DATASET_FILE = "dataset.jsonl"  # what an export, and a recipe arm's data, is read from
# Question sets a plugin ships, offered when installed (kd_core.data.references); a
# "control" set measures what training must not break, not the knowledge moved.
QUESTION_REFERENCES = ("demo:test", "demo:control")
CONTROL = "control"
SEED_SUFFIXES = (".txt", ".csv", ".tsv", ".jsonl", ".json", ".parquet")
_JOB_SUFFIX = re.compile(r"-[0-9a-f]{8}$")  # job ids are <arm>-<8 hex> (kd_core.runtime.jobs.job_id_for)


@dataclass(frozen=True)
class Evaluation:
    """One recorded evaluation: ``eval/<name>/summary.json`` (or prompt distillation's ``pd/eval/``)."""

    name: str  # the folder's name ("pd:" in front for prompt distillation's)
    model: str  # the base model's name
    adapter: str | None  # the adapter evaluated on it, as recorded
    questions: str  # the question set (demo:test or a file)
    accuracy: float | None
    correct: int | None
    n: int | None
    folder: Path

    @property
    def control(self) -> bool:
        """Whether it measured the control set (what training must not break)."""
        return CONTROL in self.questions or self.name.endswith(CONTROL)

    def label(self) -> str:
        acc = "" if self.accuracy is None else f" · {self.accuracy:.1%}"
        return f"{self.name} · {short(self.model)}{' + adapter' if self.adapter else ''} · {self.questions}{acc} (n={self.n})"


@dataclass(frozen=True)
class Job:
    """One training job of the project, with what a page needs to offer its adapter."""

    id: str
    name: str
    arm: str  # the job id without its random suffix: the recipe arm or what was trained
    student: str  # the base model the adapter was trained on
    date: str  # YYYY-MM-DD of its creation
    state: str
    adapter: Path | None  # the adapter folder, when it exists
    accuracy: float | None  # held-out accuracy of the adapter, when an evaluation of it exists
    evaluation: str | None  # which evaluation that is

    def label(self) -> str:
        acc = f"{self.accuracy:.1%}" if self.accuracy is not None else ("not evaluated" if self.adapter else self.state)
        return f"{self.arm} · {short(self.student)} · {self.date} · {acc}"


@dataclass(frozen=True)
class Item:
    """A file of the project (or a plugin's reference) offered by name."""

    label: str
    path: str  # an absolute path, or a reference such as demo:test


def short(model: str) -> str:
    """A model's name for a label: demo:gemma3-270m -> gemma3-270m, a folder -> its last part."""
    text = str(model or "").strip()
    if is_reference(text):
        return text.split(":", 1)[1]
    return Path(text).name or text


def _split_label(label: str) -> tuple[str, str | None]:
    """(model, adapter) from a ModelSpec label ("name + adapter", kd_core.models.loading)."""
    name, _, adapter = str(label or "").partition(" + ")
    return name.strip(), adapter.strip() or None


def evaluations(project: str | Path) -> list[Evaluation]:
    """Every evaluation recorded in the project, oldest first (as the Evaluate tab lists them)."""
    place = Project.at(project)
    out = []
    for prefix, folder in (("", place.eval_dir), ("pd:", place.pd_eval_dir)):
        found = [(p.stat().st_mtime, p) for p in folder.glob("*/summary.json")] if folder.is_dir() else []
        for _, path in sorted(found):
            s = read_json(path)
            if not s:
                continue  # a damaged summary is no result (read_json says so)
            model, adapter = _split_label(s.get("model", ""))
            out.append(Evaluation(prefix + path.parent.name, model, adapter, str(s.get("questions") or ""),
                                  _number(s.get("accuracy"), float), _number(s.get("correct"), int),
                                  _number(s.get("n"), int), path.parent))
    return out


def _number(value: Any, kind: type) -> Any:
    try:
        return kind(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _same_adapter(recorded: str | None, job_id: str, adapter: Path) -> bool:
    """Whether an evaluation's recorded adapter is this job's: the same folder, or a
    ``<job id>/adapter`` path recorded where the job first ran (a copied project)."""
    if not recorded:
        return False
    path = Path(recorded).expanduser()
    try:
        if path.resolve() == adapter.resolve():
            return True
    except OSError:
        pass
    return path.parts[-2:] == (job_id, ADAPTER_DIR)


def held_out(evals: list[Evaluation], job_id: str, adapter: Path) -> Evaluation | None:
    """The evaluation of this adapter on held-out (not control) questions; the latest when several."""
    mine = [e for e in evals if not e.control and e.accuracy is not None and _same_adapter(e.adapter, job_id, adapter)]
    return mine[-1] if mine else None


def jobs(project: str | Path) -> list[Job]:
    """The project's training jobs, oldest first (a folder without a readable
    status.json or config.yaml is left out)."""
    place = Project.at(project)
    if not place.jobs_dir.is_dir():
        return []
    evals = evaluations(place)
    out = []
    for folder in sorted(place.jobs_dir.iterdir()):
        status = read_json(folder / "status.json")
        if not status or not (folder / "config.yaml").is_file():
            continue
        job_id = folder.name
        try:
            config, _ = read_yaml(folder / "config.yaml")
        except KDError:
            config = None
        student = (config or {}).get("student") if isinstance(config, dict) else None
        student = student.get("name") if isinstance(student, dict) else student
        adapter = place.job(job_id) / ADAPTER_DIR
        adapter = adapter if adapter.is_dir() else None
        ev = held_out(evals, job_id, adapter) if adapter is not None else None
        out.append(Job(job_id, str(status.get("name") or ""), _JOB_SUFFIX.sub("", job_id), str(student or "?"),
                       str(status.get("created") or "")[:10], str(status.get("state") or "?"), adapter,
                       ev.accuracy if ev else None, ev.name if ev else None))
    return out


def best_job(project: str | Path) -> Job | None:
    """The completed job with an adapter whose held-out evaluation scored highest; None
    when no job has been evaluated."""
    done = [j for j in jobs(project) if j.state == "completed" and j.adapter is not None and j.accuracy is not None]
    return max(done, key=lambda j: j.accuracy) if done else None


def teacher(project: str | Path) -> tuple[str, str | None] | None:
    """(model, adapter) of the fine-tuned model the project's expansion ran with, from the
    pool's meta; None when the pool records none, or its adapter is not on this machine."""
    place = Project.at(project)
    if not place.pool.is_file():
        return None
    from kd_core.tuneshift.expansion import META_SPECS
    from kd_core.tuneshift.pool import Pool

    try:
        with Pool(place.root, create=False) as pool:
            specs = pool.get_meta(META_SPECS) or {}
    except KDError:
        return None
    spec = specs.get("finetuned") if isinstance(specs, dict) else None
    if not isinstance(spec, dict) or not spec.get("name"):
        return None
    adapter = spec.get("adapter")
    if adapter and not is_reference(adapter) and not Path(adapter).is_dir():
        return None  # recorded on another machine
    return str(spec["name"]), adapter or None


def _rows(path: Path) -> int | None:
    try:
        with path.open("rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return None


def _file_item(path: Path, what: str) -> Item:
    n = _rows(path) if path.suffix == ".jsonl" else None
    return Item(f"{what} · {path.name}" + (f" · {n} rows" if n is not None else ""), str(path))


def datasets(project: str | Path) -> list[Item]:
    """Training data the project holds: Curate's export, each recipe arm's data, prompt
    distillation's training files."""
    place = Project.at(project)
    out = []
    if (place.exports_dir / DATASET_FILE).is_file():
        out.append(_file_item(place.exports_dir / DATASET_FILE, "curated export"))
    if place.data_dir.is_dir():
        for arm in sorted(p for p in place.data_dir.iterdir() if (p / DATASET_FILE).is_file()):
            out.append(_file_item(arm / DATASET_FILE, f"arm {arm.name}"))
    for mode in ("kd", "sft"):
        if place.pd_train_data(mode).is_file():
            out.append(_file_item(place.pd_train_data(mode), f"prompt distillation ({mode})"))
    return out


def seed_files(project: str | Path) -> list[Item]:
    """The seed files kept in the project's seeds/ folder, newest first."""
    place = Project.at(project)
    if not place.seeds_dir.is_dir():
        return []
    found = [p for p in place.seeds_dir.iterdir() if p.is_file() and p.suffix in SEED_SUFFIXES]
    return [_file_item(p, "seeds") for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]


def _is_questions(path: Path) -> bool:
    """Whether a JSONL file's first row is a question with an answer (read_questions' format)."""
    try:
        with path.open(encoding="utf-8") as f:
            first = next((line for line in f if line.strip()), "")
        row = json.loads(first)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(row, dict) and bool(row.get("question")) and bool(row.get("answer") or row.get("answers"))


def question_sets(project: str | Path | None) -> list[Item]:
    """Question sets to evaluate on: the installed plugins' (demo:test, demo:control), then
    the project's own JSONL files of questions with answers (its top folder and questions/)."""
    out = [Item(f"{ref} ({CONTROL} set: what must not break)" if CONTROL in ref else f"{ref} (held-out questions)", ref)
           for ref in QUESTION_REFERENCES if is_reference(ref)]
    if project is None or not str(project).strip():
        return out
    place = Project.at(project)
    for folder in (place.root, place.root / "questions"):
        if folder.is_dir():
            out += [_file_item(p, "questions") for p in sorted(folder.glob("*.jsonl")) if _is_questions(p)]
    return out


def documents(project: str | Path) -> list[Item]:
    """The documents prompt distillation read into the project (documents/documents.jsonl), by title."""
    place = Project.at(project)
    out = []
    if place.documents_file.is_file():
        for n, line in enumerate(place.documents_file.read_text(encoding="utf-8").splitlines(), 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and row.get("text"):
                out.append(Item(str(row.get("title") or row.get("id") or f"document {n}"), f"{place.documents_file}#{n}"))
    return out


def document_text(project: str | Path, ref: str) -> str:
    """The text of a document `documents` listed (``<documents.jsonl>#<line>``)."""
    place = Project.at(project)
    path, _, line = str(ref).rpartition("#")
    if Path(path) != place.documents_file or not line.isdigit():
        raise KDError(f"Document: {ref!r} is not one of the project's documents")
    lines = place.documents_file.read_text(encoding="utf-8").splitlines()
    n = int(line)
    if not 1 <= n <= len(lines):
        raise KDError(f"Document: {place.documents_file} has no line {n}")
    return str(json.loads(lines[n - 1]).get("text") or "")
