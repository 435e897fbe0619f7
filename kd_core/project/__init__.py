"""A project folder, and the one owner of its layout.

Every step of KD Studio writes into one folder, and every path inside it comes from
`Project`: code elsewhere asks ``project.pool`` or ``project.job("abc")``, never joins
``"pool.sqlite"`` to a folder itself, so the layout is read and changed here alone (and
the shared server's confinement of browser paths, which needs to know what lies inside a
project, has one place to look).

    <project>/
      pool.sqlite          the prompt pool (TuneShift-KD): prompts, answers, scores, decisions
      seeds/               seed files staged by the UI
      train.yaml           the Train tab's form as saved at launch
      expand/              the expansion run (kd_core.runtime.background: run.yaml, status.json, process.log)
      documents/           prompt distillation's documents and chunks.jsonl
      pd/                  prompt distillation's run, questions, answers, jobs' data, pd/eval/
      jobs/<id>/           training jobs (config.yaml, status.json, log, adapter/)
      eval/<name>/         evaluations (items.jsonl, summary.json, results)
      evaluate/            the evaluation run in the background
      recipe/              a recipe run (kd-studio run): its config and stage times
      data/<arm>/          a recipe arm's exported training data
      report/              the recipe's report (report.md, report.html, results.json)
      export/              the curated dataset exported from the pool (the Train tab's default data)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kd_core.errors import KDError

POOL_FILE = "pool.sqlite"
CHUNKS_FILE = "chunks.jsonl"
DOCUMENTS_DIR = "documents"


@dataclass(frozen=True)
class Project:
    """A project folder's paths. `root` is absolute; nothing here touches the disk."""

    root: Path

    @classmethod
    def at(cls, path: str | Path) -> "Project":
        """The project at `path` (``~`` expanded, made absolute; symlinks kept as given)."""
        if isinstance(path, Project):
            return path
        text = str(path or "").strip()
        if not text:
            raise KDError("Project folder: empty (type a folder path; a new one is created)")
        return cls(Path(text).expanduser().absolute())

    # -- TuneShift-KD
    @property
    def pool(self) -> Path:
        return self.root / POOL_FILE

    @property
    def seeds_dir(self) -> Path:
        return self.root / "seeds"

    @property
    def exports_dir(self) -> Path:
        return self.root / "export"  # where the Curate tab has always exported

    # -- prompt distillation
    @property
    def documents_dir(self) -> Path:
        return self.root / DOCUMENTS_DIR

    @property
    def chunks(self) -> Path:
        return self.documents_dir / CHUNKS_FILE

    @property
    def documents_file(self) -> Path:
        """The documents read so far, one JSON object a line."""
        return self.documents_dir / "documents.jsonl"

    @property
    def chunking_file(self) -> Path:
        """The chunking settings the chunks were made with (a change re-chunks)."""
        return self.documents_dir / "chunking.json"

    @property
    def pd_dir(self) -> Path:
        return self.root / "pd"

    def pd_answers(self, mode: str) -> Path:
        """The teacher's answers for `mode` (kd: sampled, sft: low temperature)."""
        return self.pd_dir / f"answers-{mode}.jsonl"

    def pd_train_data(self, mode: str) -> Path:
        return self.pd_dir / f"train-{mode}.jsonl"

    @property
    def pd_eval_dir(self) -> Path:
        return self.pd_dir / "eval"

    def pd_evaluation(self, system: str) -> Path:
        """One evaluated system's folder (``pd+rag`` is kept as ``pd-rag``)."""
        return self.pd_eval_dir / system.replace("+", "-")

    # -- training, evaluation, recipes
    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    def job(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    @property
    def train_form(self) -> Path:
        """The Train tab's form as saved at launch (kd-studio train reads it too)."""
        return self.root / "train.yaml"

    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    def evaluation(self, name: str) -> Path:
        return self.eval_dir / name

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def arm_data(self, arm: str) -> Path:
        return self.data_dir / arm

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    # -- runs in the background (kd_core.runtime.runs): one folder per kind of step
    RUNS = {"expand": "expand", "pd": "pd", "evaluate": "evaluate", "recipe": "recipe"}

    def run_dir(self, kind: str) -> Path:
        """The folder of the project's background run of this kind (expand, pd, evaluate, recipe)."""
        try:
            return self.root / self.RUNS[kind]
        except KeyError:
            raise KDError(f"unknown kind of run {kind!r} (known: {', '.join(self.RUNS)})") from None

    def contains(self, path: str | Path) -> bool:
        """Whether `path`, symlinks resolved, lies inside this project folder."""
        try:
            Path(path).expanduser().resolve().relative_to(self.root.resolve())
        except ValueError:
            return False
        return True

    def __str__(self) -> str:
        return str(self.root)

    def __fspath__(self) -> str:
        return str(self.root)
