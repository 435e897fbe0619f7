"""Processes by pid, as the operating system sees them: is this one (not a reused pid)
still alive, start one detached from us, signal it or its group, wait for its exit.

Everything that outlives a request (a training job, an expansion run) is a process of
its own, and the one who asks about it later may be another server process, so a pid is
all there is to go on: a pid recorded with its start time (`start_ticks`) tells our
process from a later one that got the same number.  Children this process started are
reaped as they exit (`spawn_detached` registers them), or they would linger as zombies
that look alive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Sequence

# Children this process started, so their exit is reaped (no zombies that look alive).
_CHILDREN: dict[int, subprocess.Popen] = {}


def start_ticks(pid: int) -> int | None:
    """Process start time in clock ticks (Linux), to tell a reused pid from ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _reap() -> None:
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            del _CHILDREN[pid]


def pid_alive(pid: int | None, start: int | None = None) -> bool:
    """Is this process (the same one, not a reused pid) still running?"""
    if not pid:
        return False
    _reap()
    stat_path = Path(f"/proc/{pid}/stat")
    if stat_path.parent.parent.exists() and Path("/proc/self/stat").exists():
        try:
            stat = stat_path.read_text()
        except OSError:
            return False
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":  # exited, not yet reaped by its parent
            return False
        return start is None or int(fields[19]) == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def spawn_detached(cmd: Sequence[str], cwd: str | Path, log: str | Path) -> subprocess.Popen:
    """Start `cmd` in a session of its own (it outlives the caller and leads its process
    group, so a stop can end its helpers too), output appended to `log`, unbuffered."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                cwd=str(cwd), env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _CHILDREN[proc.pid] = proc
    return proc


def leads_group(pid: int) -> bool:
    """Whether `pid` leads its process group (a process started here does; a command
    started from a shell shares the shell's group, which is not ours to end)."""
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def send(pid: int | None, sig: int, group: bool) -> None:
    """Signal the process, or its whole group (any helper process goes too); a process
    already gone is no error."""
    if not pid:
        return
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def wait_gone(pid: int | None, start: int | None, timeout: float, poll_s: float = 0.05) -> bool:
    """Wait up to `timeout` seconds for the process to exit; whether it has."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid, start):
            return True
        time.sleep(poll_s)
    return not pid_alive(pid, start)


def die_with_parent() -> None:
    """End this process when its parent (a launcher) dies, however it dies.

    torchrun starts each process in a session of its own, so a SIGKILL to the launcher's
    group (a cancel's last resort) would leave them training, holding memory and the
    device.  Linux only; elsewhere the launcher's own SIGTERM handling has to do."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
