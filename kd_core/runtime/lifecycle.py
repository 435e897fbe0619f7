"""The life of a background process kept in a folder, the same for a training job
(kd_core.runtime.jobs) and a project run (kd_core.runtime.runs): start it detached,
record it in the folder's ``status.json`` (pid and its start time), notice when it is
gone without writing a final state, end it.

The caller keeps its own states, file names and words; this module keeps the rules
they share, so a job and a run can never disagree on them:

- a process is ours only if its pid *and* start time match (`process.pid_alive`);
- a process found gone while its status still says it works is re-read once after a
  moment (it may have written its final state as it exited), then recorded ``failed``
  with the last lines of its log: a crash always says why in the UI;
- ending one is SIGTERM (to its process group when it leads one), then SIGKILL after a
  grace period.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any, Sequence

from kd_core.data.files import now, read_json, tail, update_json
from kd_core.runtime.process import pid_alive, send, spawn_detached, start_ticks, wait_gone

STATUS = "status.json"
KILL_WAIT_S = 5.0  # after SIGKILL: only a process stuck in the kernel takes longer


def read_status(folder: str | Path) -> dict[str, Any]:
    """The folder's status ({} when there is none or it is unreadable)."""
    return read_json(Path(folder) / STATUS)


def update_status(folder: str | Path, **fields: Any) -> dict[str, Any]:
    """Set `fields` in the folder's status.json (written atomically); the new status."""
    return update_json(Path(folder) / STATUS, **fields)


def own_process(pid: int) -> dict[str, Any]:
    """The status fields that name a process: its pid and start time."""
    return {"pid": pid, "pid_start": start_ticks(pid)}


def start(cmd: Sequence[str], cwd: str | Path, log: str | Path) -> dict[str, Any]:
    """Start `cmd` detached (its own session; output appended to `log`); the fields to
    record for it: pid, pid_start, cmd."""
    proc = spawn_detached(cmd, cwd, log)
    return {**own_process(proc.pid), "cmd": list(cmd)}


def checked(folder: str | Path, status: dict[str, Any], pid: int | None, pid_start: int | None, active: Sequence[str],
            who: str, log: str, log_label: str | None = None) -> dict[str, Any]:
    """`status` as given while its process lives (or it is not in an `active` state);
    otherwise the status file re-read, recorded ``failed`` if it still says active:
    "<who> (pid N) is gone without a final state; last lines of <log_label>: ..."."""
    if status.get("state") not in active or pid_alive(pid, pid_start):
        return status
    time.sleep(0.2)  # it may have written its final state as it exited
    folder = Path(folder)
    fresh = read_status(folder)
    if fresh.get("state") in active:
        last = tail(folder / log)
        fresh = update_status(folder, state="failed", ended=now(),
                              error=f"{who} (pid {pid}) is gone without a final state"
                                    + (f"; last lines of {log_label or log}:\n{last}" if last else ""))
    return fresh


def end(pid: int | None, pid_start: int | None, group: bool, grace_s: float, kill_wait_s: float = KILL_WAIT_S) -> bool:
    """SIGTERM (to the group when `group`), SIGKILL if it outlives `grace_s`; whether the
    process is gone."""
    if not pid_alive(pid, pid_start):
        return True
    send(pid, signal.SIGTERM, group)
    if wait_gone(pid, pid_start, grace_s):
        return True
    send(pid, signal.SIGKILL, group)
    return wait_gone(pid, pid_start, kill_wait_s)
