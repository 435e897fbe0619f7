"""A project folder, and the one owner of its layout.

Every step of KD Studio writes into one folder, and every path inside it comes from
`Project`: code elsewhere asks ``project.pool`` or ``project.job("abc")``, never joins
``"pool.sqlite"`` to a folder itself, so the layout is read and changed here alone (and
the shared server's confinement of browser paths, which needs to know what lies inside a
project, has one place to look).

    <project>/
      pool.sqlite          the prompt pool (TuneShift-KD): prompts, answers, scores, decisions
      seeds/               seed files staged by the UI
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
from typing import Any

from kd_core.errors import KDError

POOL_FILE = "pool.sqlite"
CHUNKS_FILE = "chunks.jsonl"


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
        return self.root / "documents"

    @property
    def chunks(self) -> Path:
        return self.documents_dir / CHUNKS_FILE

    @property
    def pd_dir(self) -> Path:
        return self.root / "pd"

    @property
    def pd_eval_dir(self) -> Path:
        return self.pd_dir / "eval"

    # -- training, evaluation, recipes
    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    def job(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

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


def open_project(path: str | Path, create: bool = True) -> dict[str, Any]:
    """The folder (created when new and `create`), and counts of what it holds."""
    project = Project.at(path)
    root = project.root.resolve()
    project = Project(root)
    if root.exists() and not root.is_dir():
        raise KDError(f"Project folder: {root} is a file, not a folder")
    created = not root.exists()
    if created:
        if not create:
            raise KDError(f"Project folder: {root} does not exist")
        try:
            root.mkdir(parents=True)
        except OSError as e:
            raise KDError(f"Project folder: cannot create {root}: {e.strerror or e}") from None
    holds: dict[str, Any] = {"prompts": 0, "jobs": 0, "evaluations": 0, "documents": 0, "report": None}
    if project.pool.exists():
        from kd_core.tuneshift.pool import Pool

        with Pool(root, create=False) as pool:
            holds["prompts"] = pool.count()
    holds["jobs"] = sum(1 for p in project.jobs_dir.glob("*/config.yaml"))
    holds["evaluations"] = (sum(1 for p in project.eval_dir.glob("*/summary.json"))
                            + sum(1 for p in project.pd_eval_dir.glob("*/summary.json")))
    holds["documents"] = sum(1 for _ in project.chunks.open()) if project.chunks.exists() else 0
    if (project.report_dir / "report.html").exists():
        holds["report"] = str(project.report_dir / "report.html")
    return {"path": str(root), "created": created, **holds}


def describe(summary: dict[str, Any]) -> str:
    """One line for people: what the folder holds."""
    if summary["created"]:
        return f"Created the project {summary['path']} (empty): start with seeds in Expand or documents in Documents."
    parts = [f"{summary['prompts']} prompts in the pool", f"{summary['jobs']} training jobs",
             f"{summary['evaluations']} evaluations", f"{summary['documents']} document chunks"]
    if summary["report"]:
        parts.append("a recipe report")
    return f"Opened {summary['path']}: " + ", ".join(parts) + "."
