"""A training job's folder: what it holds, its states, and the configuration it trains.

Both sides of a job read this module: the API that makes and controls jobs
(kd_core.runtime.jobs) and the job's own process (kd_core.runtime.job_worker), so
neither imports the other's half.

A job folder (default ``<project>/jobs/<job-id>/``) holds

- ``config.yaml``: the resolved `JobConfig` (student and teacher `ModelSpec`, data
  path, `TrainConfig` with every default filled in); ``run_job`` reads only this file;
- ``status.json``: state, pid, times, the error message of a failed job, the summary
  of a finished one;
- ``log.jsonl``: one row per logging step (step, epoch, loss, lr, tokens/s, ETA);
- ``checkpoints/`` (Trainer checkpoints, on by default, resumable), ``adapter/`` (the result);
- ``runs/``: TensorBoard event files (``train.report_to``; `tensorboard --logdir <job>/runs`);
- ``process.log``: the job process's stdout and stderr (tracebacks land here);
- ``process.json``: the process start_job started (pid, start time, its command),
  until the job writes its own pid into status.json;
- ``stop_request``: present while a stop-and-save is asked for.

States: ``created`` (made, never started), ``queued`` (waiting for its device),
``running``, ``stopping`` (a running job asked to stop: derived from ``stop_request``,
never written), ``stopped`` (stopped and saved: adapter and a checkpoint at that step),
``cancelled``, ``completed``, ``failed``.

Nothing here imports torch: listing jobs stays instant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kd_core.data.config import read_yaml
from kd_core.data.references import is_reference
from kd_core.errors import InputFileError, KDError
from kd_core.project import Project

STATES = ("created", "queued", "running", "stopping", "stopped", "cancelled", "completed", "failed")
ACTIVE = ("queued", "running", "stopping")  # a live process is expected
FINAL = ("stopped", "cancelled", "completed", "failed")
CONFIG, LOG, PROCESS_LOG, STOP, PROCESS = "config.yaml", "log.jsonl", "process.log", "stop_request", "process.json"


@dataclass
class JobConfig:
    """What a job trains: read from a user's YAML, written resolved into the job folder."""

    student: Any  # ModelSpec
    data: str  # JSONL of {"prompt","response"[,"teacher_prompt"]} or {"messages": [...]}
    train: Any  # TrainConfig
    teacher: Any = None  # ModelSpec; None: for kd/mix, the student with its adapter disabled
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "student": self.student.to_dict(),
            "teacher": self.teacher.to_dict() if self.teacher is not None else None,
            "data": self.data,
            "train": self.train.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, base_dir: Path | None = None) -> "JobConfig":
        """From a YAML mapping; a model may be a name or a ModelSpec mapping; a relative
        data path is relative to `base_dir` (the config file's folder)."""
        from kd_core.training.config import TrainConfig

        if not isinstance(data, dict):
            raise KDError(f"expected a mapping with student, data and train, got {type(data).__name__}")
        known = {"name", "student", "teacher", "data", "train"}
        unknown = [k for k in data if k not in known]
        if unknown:
            raise KDError(f"{unknown[0]}: unknown setting (known: {', '.join(sorted(known))})")
        for key in ("student", "data"):
            if data.get(key) in (None, ""):
                raise KDError(f"{key}: missing (the {'model to train' if key == 'student' else 'training data, a .jsonl file'})")
        if not isinstance(data["data"], str):
            raise KDError(f"data: expected a file path, got {type(data['data']).__name__}")
        path = Path(data["data"]).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        train = TrainConfig.from_dict(data.get("train") or {})
        if train.eval_data:  # like data: relative to the config file, absolute for the job process
            eval_path = Path(train.eval_data).expanduser()
            train.eval_data = str((base_dir / eval_path if not eval_path.is_absolute() and base_dir is not None else eval_path).resolve())
        teacher = data.get("teacher")
        name = data.get("name") or ""
        if not isinstance(name, str):
            raise KDError(f"name: expected a string, got {type(name).__name__}")
        return cls(
            student=model_spec_from(data["student"], "student", base_dir),
            data=str(path.resolve()),
            train=train,
            teacher=None if teacher in (None, "self") else model_spec_from(teacher, "teacher", base_dir),
            name=name,
        )


def model_spec_from(value: Any, where: str, base_dir: Path | None = None) -> Any:
    """A ModelSpec from a config value read from a file: a model name, or a mapping of
    ModelSpec fields (each checked, a bad one named as `where.field`); local paths made
    absolute. trust_remote_code and allow_pickle come from this process's command line,
    never from the file (ModelSpec.from_file_dict)."""
    from kd_core.data.config import checked_fields
    from kd_core.models.loading import ModelSpec

    if isinstance(value, str):
        return absolute_paths(ModelSpec.from_file_dict({"name": value}, where), base_dir)
    fields = checked_fields(ModelSpec, value, where)
    if "name" not in fields:
        raise KDError(f"{where}.name: missing (a hub id, a local directory, a .gguf file or demo:NAME)")
    return absolute_paths(ModelSpec.from_file_dict(fields, where), base_dir)


def absolute_paths(spec: Any, base_dir: Path | None = None) -> Any:
    """The spec with a local model or adapter path made absolute (found next to the
    config file first, then in the current folder): the job process runs elsewhere."""
    def fix(name: str | None) -> str | None:
        if not name or is_reference(name) or Path(name).expanduser().is_absolute():
            return name
        for root in ([base_dir] if base_dir is not None else []) + [Path.cwd()]:
            if (root / name).exists():
                return str((root / name).resolve())
        return name  # a hub id (or a path that does not exist, which loading reports)

    spec.name, spec.adapter = fix(spec.name), fix(spec.adapter)
    return spec


def load_job_config(path: str | Path) -> JobConfig:
    """Read a YAML job config; every problem names the file and the setting."""
    data, path = read_yaml(path)
    try:
        return JobConfig.from_dict(data, base_dir=path.parent)
    except KDError as e:
        raise InputFileError(f"{path}: {e}") from None


def jobs_dir(project: str | Path) -> Path:
    return Project.at(project).jobs_dir


def find_job(ref: str | Path, project: str | Path | None = None) -> Path:
    """A job folder from its path or its id (under the project's jobs/ folder)."""
    candidates = [Path(ref).expanduser()]
    if project is not None:
        candidates.insert(0, jobs_dir(project) / str(ref))
    for c in candidates:
        if (c / CONFIG).is_file():
            return c.resolve()
    where = f" in {jobs_dir(project)}" if project is not None else ""
    raise KDError(f"no job '{ref}'{where} (a job folder holds {CONFIG}; `kd-studio jobs list` shows them)")


def read_log(job_dir: str | Path) -> list[dict[str, Any]]:
    """The job's log rows, in order (a line being written right now is left out)."""
    path = Path(job_dir) / LOG
    rows = []
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return rows
    for line in lines:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def last_checkpoint(job_dir: str | Path) -> Path | None:
    """The newest complete checkpoint (it has trainer_state.json), or None."""
    found = []
    for d in (Path(job_dir) / "checkpoints").glob("checkpoint-*"):
        suffix = d.name.rsplit("-", 1)[-1]
        if suffix.isdigit() and (d / "trainer_state.json").exists():
            found.append((int(suffix), d))
    return max(found)[1] if found else None
