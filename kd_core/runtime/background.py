"""One protocol for every background run of a project step (expansion, prompt
distillation, evaluation, recipe), as training jobs already have.

The starter resolves everything the run needs (the config dataclass as a mapping, model
specs as ModelSpec mappings, files as paths) and writes it into the run's folder
(``Project.run_dir(kind)``) as ``run.yaml``; then it starts the worker,
``python -m kd_core.cli worker <folder>``, which reads only that file and calls the core
function the matching CLI command calls. Nothing is turned into command-line flags and
parsed back, so no setting is lost on the way, and the file shows what the run ran with.
The run's state is kept by kd_core.runtime.runs (status.json, process.log, run.lock).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

from kd_core.data.config import read_yaml
from kd_core.data.files import write_atomic
from kd_core.errors import KDError
from kd_core.project import Project
from kd_core.runtime import runs

RUN_FILE = "run.yaml"  # not config.yaml: pd/ and recipe/ keep their own config.yaml there


def worker_command(folder: str | Path) -> list[str]:
    """The process that runs the step described by ``<folder>/run.yaml``, with this process's
    --trust-remote-code / --allow-pickle if its own command line gave them (never run.yaml)."""
    from kd_core.models.loading import granted_flags

    return [sys.executable, "-m", "kd_core.cli", "worker", str(Path(folder).resolve()), *granted_flags()]


def start_run(project: str | Path, kind: str, what: str, settings: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Write ``<project>/<kind>/run.yaml`` (`settings` with its kind and project) and run the
    worker on it in a process of its own; returns the run's status (kd_core.runtime.runs)."""
    import yaml

    root = Project.at(project).root.resolve()
    folder = Project(root).run_dir(kind)
    root.mkdir(parents=True, exist_ok=True)
    runs.check_idle(root, folder.name, what)  # before the file a working run started from is replaced
    runs.check_capacity(what)  # a server's runs at once (Limits.runs_at_once), before the run file is written
    text = yaml.safe_dump({"kind": kind, "project": str(root), **settings}, sort_keys=False, allow_unicode=True)
    write_atomic(folder / RUN_FILE, text)
    return runs.start(root, folder.name, worker_command(folder), what, **fields)


def read_run(folder: str | Path) -> dict[str, Any]:
    """The run file of a run folder, checked to be one: a mapping with a known kind and a project."""
    data, path = read_yaml(Path(folder) / RUN_FILE)
    if not isinstance(data, dict) or data.get("kind") not in Project.RUNS or not data.get("project"):
        raise KDError(f"{path}: not a run file (needs kind: one of {', '.join(Project.RUNS)}, and project)")
    return data


def model_spec(value: Any, where: str) -> Any:
    """A ModelSpec from a run file's mapping (or name); None stays None."""
    from kd_core.runtime.jobs import model_spec_from

    return None if value is None else model_spec_from(value, where)


def spec_dict(spec: Any) -> dict[str, Any] | None:
    """A ModelSpec as the mapping a run file holds; None stays None."""
    return None if spec is None else spec.to_dict()


def throttled(report: Callable[[int, int, str], None], every_s: float | None = 5.0) -> Callable[..., None]:
    """A progress callback `(done, total, stage="")` that passes on the first step of each
    stage, the last step, and otherwise at most one step every `every_s` seconds (None: only
    those): status files and logs follow a run without being rewritten for every batch."""
    last: dict[str, Any] = {"stage": None, "t": None}

    def progress(done: int, total: int, stage: str = "") -> None:
        now = time.perf_counter()
        due = every_s is not None and (last["t"] is None or now - last["t"] > every_s)
        if stage != last["stage"] or done == total or due:
            report(done, total, stage)
            last.update(stage=stage, t=now)

    return progress
