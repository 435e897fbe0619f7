"""A project's long step run in a process of its own: prompt distillation's stages
(``<project>/pd/``), expansion rounds (``<project>/expand/``).

The folder holds ``status.json`` (state, pid, stage, error), ``process.log`` (the
process's output) and ``run.lock`` (an OS lock the working process holds, so two runs
of one step never share a project, however each was started).  The UI starts a run
with `start`, and any server process, after a reload or a restart, re-attaches with
`status` and ends it with `stop`; the CLI command itself records its state through
`recorded`, so a run started from a shell shows in the UI too.

Training jobs (kd_core.runtime.jobs) have more to them (queues, several processes, resume) and
keep their own folders.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from kd_core.runtime import jobs
from kd_core.errors import KDError

ACTIVE = ("running", "queued")  # a run's process is expected to be alive (queued: waiting for its device)
STATUS, LOG, LOCK = "status.json", "process.log", "run.lock"


def run_dir(project: str | Path, name: str) -> Path:
    return Path(project).expanduser() / name


def update(folder: Path, **fields: Any) -> dict[str, Any]:
    return jobs._update_status(folder, **fields)


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
        status = jobs._read_json(folder / STATUS)
        raise KDError(f"another {_describe(status, what)} is working in {folder.parent}; wait for it or stop it") from None
    pid = os.getpid()
    try:
        update(folder, state="running", pid=pid, pid_start=jobs._start_ticks(pid), started=jobs._now(), ended=None,
               error=None, **fields)
        try:
            yield folder
        except BaseException as e:
            state = "cancelled" if isinstance(e, KeyboardInterrupt) else "failed"
            update(folder, state=state, ended=jobs._now(), error=str(e) if isinstance(e, KDError) else f"{type(e).__name__}: {e}")
            raise
        update(folder, state="completed", ended=jobs._now(), **({"stage": None} if "stage" in fields else {}))
    finally:
        lock.close()


def start(project: str | Path, name: str, cmd: Sequence[str], what: str, **fields: Any) -> dict[str, Any]:
    """Run `cmd` in a process of its own, in the project folder (it outlives the caller;
    its output goes to ``<name>/process.log``); returns the run's status."""
    project = Path(project).expanduser().resolve()
    folder = run_dir(project, name)
    folder.mkdir(parents=True, exist_ok=True)
    check_idle(project, name, what)
    with open(folder / LOG, "ab") as out:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                cwd=str(project), env={**os.environ, "PYTHONUNBUFFERED": "1"})
    jobs._CHILDREN[proc.pid] = proc  # reaped when it exits: no zombie that looks alive
    jobs._write_json(folder / STATUS, {"state": "running", **fields, "pid": proc.pid, "pid_start": jobs._start_ticks(proc.pid),
                                       "started": jobs._now(), "ended": None, "error": None, "cmd": list(cmd)})
    return status(project, name)


def check_idle(project: str | Path, name: str, what: str) -> None:
    """Refuse (KDError naming the run) while a run of this step works in the project."""
    current = status(project, name)
    if current.get("state") in ACTIVE:
        raise KDError(f"the {_describe(current, what)} is already working in {Path(project).expanduser()}; wait for it or stop it")


def status(project: str | Path, name: str) -> dict[str, Any]:
    """The last run's status: state (running, completed, failed, cancelled, or none),
    its error; a run whose process died without saying so is recorded as failed."""
    folder = run_dir(project, name)
    current = jobs._read_json(folder / STATUS)
    if not current:
        return {"state": "none"}
    if current.get("state") in ACTIVE and not jobs.pid_alive(current.get("pid"), current.get("pid_start")):
        time.sleep(0.2)  # it may have written its final state as it exited
        current = jobs._read_json(folder / STATUS)
        if current.get("state") in ACTIVE:
            tail = jobs._tail(folder / LOG)
            current = update(folder, state="failed", ended=jobs._now(),
                             error=f"the run's process (pid {current.get('pid')}) is gone without a final state"
                                   + (f"; last lines of {name}/{LOG}:\n{tail}" if tail else ""))
    return current


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
    kill = os.killpg if jobs._leads_group(pid) else os.kill
    try:
        kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and jobs.pid_alive(pid, current.get("pid_start")):
        time.sleep(0.2)
    if jobs.pid_alive(pid, current.get("pid_start")):
        try:
            kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    current = jobs._read_json(folder / STATUS)
    if current.get("state") in ACTIVE:
        current = update(folder, state="cancelled", ended=jobs._now(), error="stopped")
    return current


def log_tail(project: str | Path, name: str, lines: int = 12) -> str:
    path = run_dir(project, name) / LOG
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class DeviceHold:
    """The device lock that training jobs take (kd_core.runtime.jobs), held while a run's model
    generates or evaluates, so such a run and a training job never share a device."""

    def __init__(self, folder: Path, device: str, log=print):
        self.folder, self.device, self.log, self.lock = folder, device, log, None

    def __enter__(self) -> "DeviceHold":
        self.lock = jobs.acquire_device_lock(jobs.device_name(self.device), self.folder, should_leave=lambda: False, echo=self.log)
        update(self.folder, state="running", waiting_for=None, held_by=None)
        return self

    def __exit__(self, *exc) -> bool:
        self.lock.close()
        return False


TIMES = "stages.json"  # seconds spent in each stage, summed over resumed runs


def stage_times(folder: Path) -> dict[str, float]:
    path = Path(folder) / TIMES
    return json.loads(path.read_text()) if path.exists() else {}


def add_time(folder: Path, stage: str, seconds: float) -> None:
    times = stage_times(folder)
    times[stage] = round(times.get(stage, 0.0) + seconds, 1)  # a resumed stage adds its time
    Path(folder).mkdir(parents=True, exist_ok=True)
    jobs._write_json(Path(folder) / TIMES, times)


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
        line += f"\n\n```\n{status['error']}\n```"
    return line
