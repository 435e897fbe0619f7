"""A project's long step run in a process of its own: prompt distillation's stages
(``<project>/pd/``), expansion rounds (``<project>/expand/``).

The folder holds ``status.json`` (state, pid, stage, error), ``process.log`` (the
process's output) and ``run.lock`` (an OS lock the working process holds, so two runs
of one step never share a project, however each was started).  The UI starts a run
with `start`, and any server process, after a reload or a restart, re-attaches with
`status` and ends it with `stop`; the CLI command itself records its state through
`recorded`, so a run started from a shell shows in the UI too.

Training jobs (kd_core.runtime.jobs) have more to them (queues, several processes, resume) and
keep their own folders; the rules both live by (a pid with its start time, a process gone
without a final state recorded failed with its log's tail, SIGTERM then SIGKILL) are
kd_core.runtime.lifecycle's, so a run and a job cannot drift apart on them.
"""

from __future__ import annotations

import fcntl
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from kd_core.data.files import now, read_json, tail, write_json
from kd_core.errors import KDError
from kd_core.runtime import lifecycle
from kd_core.runtime.device_lock import acquire_device_lock, device_name
from kd_core.runtime.lifecycle import STATUS, update_status
from kd_core.runtime.process import leads_group

ACTIVE = ("running", "queued")  # a run's process is expected to be alive (queued: waiting for its device)
LOG, LOCK = "process.log", "run.lock"


def run_dir(project: str | Path, name: str) -> Path:
    return Path(project).expanduser() / name


def update(folder: Path, **fields: Any) -> dict[str, Any]:
    return update_status(folder, **fields)


def _describe(status: dict[str, Any], what: str) -> str:
    stage = f", stage {status.get('stage') or 'starting'}" if "stage" in status else ""
    return f"{what} (pid {status.get('pid', '?')}{stage})"


@contextmanager
def recorded(project: str | Path, name: str, what: str, **fields: Any) -> Iterator[Path]:
    """Hold the run's lock and record its state around the work in the ``with`` block:
    running (with this pid), then completed, failed (with the error) or cancelled."""
    folder = run_dir(project, name)
    folder.mkdir(parents=True, exist_ok=True)
    lock = open(folder / LOCK, "a+")
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        status = read_json(folder / STATUS)
        raise KDError(f"another {_describe(status, what)} is working in {folder.parent}; wait for it or stop it") from None
    pid = os.getpid()
    try:
        update(folder, state="running", **lifecycle.own_process(pid), started=now(), ended=None, error=None, **fields)
        try:
            yield folder
        except BaseException as e:
            state = "cancelled" if isinstance(e, KeyboardInterrupt) else "failed"
            update(folder, state=state, ended=now(), error=str(e) if isinstance(e, KDError) else f"{type(e).__name__}: {e}")
            raise
        update(folder, state="completed", ended=now(), **({"stage": None} if "stage" in fields else {}))
    finally:
        lock.close()


def start(project: str | Path, name: str, cmd: Sequence[str], what: str, **fields: Any) -> dict[str, Any]:
    """Run `cmd` in a process of its own, in the project folder (it outlives the caller;
    its output goes to ``<name>/process.log``); returns the run's status."""
    project = Path(project).expanduser().resolve()
    folder = run_dir(project, name)
    folder.mkdir(parents=True, exist_ok=True)
    check_idle(project, name, what)
    check_capacity(what)
    started = lifecycle.start(cmd, cwd=project, log=folder / LOG)
    write_json(folder / STATUS, {"state": "running", **fields, "pid": started["pid"], "pid_start": started["pid_start"],
                                 "started": now(), "ended": None, "error": None, "cmd": started["cmd"]})
    return status(project, name)


# ---------------------------------------------------------------------------
# Runs at once across the projects of a server

_PROJECTS_ROOT: list[Path] = []  # set by a server (set_projects_root); empty: no cap (a command, a test)


def set_projects_root(root: str | Path | None) -> None:
    """The folder whose projects share `Limits.runs_at_once` (a server sets it once at start);
    None: starts are not capped (the CLI, which runs one thing)."""
    _PROJECTS_ROOT[:] = [Path(root).expanduser().resolve()] if root else []


def live_runs(root: str | Path, depth: int = 2) -> list[str]:
    """The background runs and training jobs working now in the projects under `root`
    (a project folder at most `depth` levels down), each as "<project>/<run or jobs/id>";
    a run whose process died is not counted (and is recorded as failed)."""
    from kd_core.project import Project
    from kd_core.runtime.job_folder import ACTIVE as JOB_ACTIVE, PROCESS
    from kd_core.runtime.process import pid_alive

    root = Path(root).expanduser()
    folders = [root] + [p for n in range(1, depth + 1) for p in root.glob("/".join(["*"] * n)) if p.is_dir()]
    live = []
    for project in folders:
        place = Project(project)  # the project's own layout: its run folders and jobs/
        for kind in Project.RUNS:
            run = place.run_dir(kind)
            if (run / STATUS).is_file() and status(project, run.name).get("state") in ACTIVE:
                live.append(f"{project}/{run.name}")
        jobs = place.jobs_dir
        if jobs.is_dir():
            for job in sorted(jobs.iterdir()):
                current = read_json(job / STATUS)
                if current.get("state") in JOB_ACTIVE:
                    # its own pid once it runs, until then the one start_job spawned (kd_core.runtime.jobs)
                    own = current if current.get("pid") else read_json(job / PROCESS)
                    if pid_alive(own.get("pid"), own.get("pid_start")):
                        live.append(f"{project}/jobs/{job.name}")
    return live


def check_capacity(what: str, root: str | Path | None = None, limits: Any = None) -> None:
    """Refuse (KDError) to start `what` while `limits.runs_at_once` runs and jobs already work
    under `root` (default: the server's, `set_projects_root`; none set: no cap)."""
    from kd_core.limits import current

    root = Path(root) if root is not None else (_PROJECTS_ROOT[0] if _PROJECTS_ROOT else None)
    if root is None:
        return
    limits = limits or current()
    live = live_runs(root)
    if len(live) >= limits.runs_at_once:
        shown = ", ".join(live[:4]) + (" ..." if len(live) > 4 else "")
        raise KDError(f"cannot start the {what}: {len(live)} runs are already working on this server (at most "
                      f"{limits.runs_at_once} at once, limit runs_at_once: {shown}); wait for one to end or stop one")


def check_idle(project: str | Path, name: str, what: str) -> None:
    """Refuse (KDError naming the run) while a run of this step works in the project."""
    current = status(project, name)
    if current.get("state") in ACTIVE:
        raise KDError(f"the {_describe(current, what)} is already working in {Path(project).expanduser()}; wait for it or stop it")


def status(project: str | Path, name: str) -> dict[str, Any]:
    """The last run's status: state (running, completed, failed, cancelled, or none),
    its error; a run whose process died without saying so is recorded as failed."""
    folder = run_dir(project, name)
    current = read_json(folder / STATUS)
    if not current:
        return {"state": "none"}
    return lifecycle.checked(folder, current, current.get("pid"), current.get("pid_start"), ACTIVE,
                             who="the run's process", log=LOG, log_label=f"{name}/{LOG}")


def stop(project: str | Path, name: str, wait_s: float = 10.0) -> dict[str, Any]:
    """End a running run (SIGTERM to its process group, SIGKILL after wait_s); what it
    committed stays, and running it again goes on from there."""
    folder = run_dir(project, name)
    current = status(project, name)
    if current.get("state") not in ACTIVE:
        return current
    pid = current["pid"]
    # A run started here leads its own process group (its children go too); one started
    # from a shell may not, and its shell's group is not ours to end.
    lifecycle.end(pid, current.get("pid_start"), leads_group(pid), grace_s=wait_s)
    current = read_json(folder / STATUS)
    if current.get("state") in ACTIVE:
        current = update(folder, state="cancelled", ended=now(), error="stopped")
    return current


def log_tail(project: str | Path, name: str, lines: int = 12) -> str:
    return tail(run_dir(project, name) / LOG, lines)


class DeviceHold:
    """The device lock that training jobs take (kd_core.runtime.jobs), held while a run's model
    generates or evaluates, so such a run and a training job never share a device."""

    def __init__(self, folder: Path, device: str, log=print):
        self.folder, self.device, self.log, self.lock = folder, device, log, None

    def __enter__(self) -> "DeviceHold":
        self.lock = acquire_device_lock(device_name(self.device), self.folder, should_leave=lambda: False, echo=self.log)
        update(self.folder, state="running", waiting_for=None, held_by=None)
        return self

    def __exit__(self, *exc) -> bool:
        self.lock.close()
        return False


TIMES = "stages.json"  # seconds spent in each stage, summed over resumed runs


def stage_times(folder: Path) -> dict[str, float]:
    return read_json(Path(folder) / TIMES)


def add_time(folder: Path, stage: str, seconds: float) -> None:
    times = stage_times(folder)
    times[stage] = round(times.get(stage, 0.0) + seconds, 1)  # a resumed stage adds its time
    Path(folder).mkdir(parents=True, exist_ok=True)
    write_json(Path(folder) / TIMES, times)


def status_markdown(label: str, status: dict[str, Any], idle: str) -> str:
    """A run's status (as `status` returns it) for people, in Markdown: state, stage and pid
    while it works, its error in full when it failed; `idle` when nothing has run."""
    state = status.get("state", "none")
    if state == "none":
        return idle
    line = f"{label}: **{state}**"
    if state in ACTIVE:
        line += f" · {status.get('stage') or 'starting'} (pid {status.get('pid')})"
    if status.get("error"):
        error = str(status["error"])
        fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", error)), default=0))  # the error cannot close it
        line += f"\n\n{fence}\n{error}\n{fence}"
    return line
