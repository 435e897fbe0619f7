"""One piece of work per device: the lock a training job (and a run's model that
generates or evaluates, kd_core.runtime.runs.DeviceHold) holds on its device.

The lock is an exclusive ``flock`` on ``<locks>/<device>.lock`` (``KD_STUDIO_LOCK_DIR``,
default ``<cache>/locks``), held for the holder's whole life.  The OS drops it however
the process ends, even on SIGKILL, so a crash never leaves a stale lock behind, and the
lock is per machine, not per project (two projects training on one GPU would fight over
its memory just the same).  A holder whose device is busy waits in ``queued`` and polls
every second; the order among several waiting is whoever polls first after the lock
frees, not strictly first-come first-served.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, TextIO

from kd_core.runtime.lifecycle import update_status


def _lock_dir() -> Path:
    from kd_core.models.loading import cache_dir

    return Path(os.environ.get("KD_STUDIO_LOCK_DIR") or cache_dir() / "locks")


def device_name(spec_device: str) -> str:
    """The lock's name for a ModelSpec device: cpu, cuda:0, ..."""
    import torch

    from kd_core.models import devices

    dev = devices.resolve_device(spec_device)
    if dev.type == "cuda":
        return f"cuda:{dev.index if dev.index is not None else torch.cuda.current_device()}"
    return dev.type


def acquire_device_lock(device: str, job_dir: Path, should_leave: Callable[[], bool], poll_s: float = 1.0,
                        echo: Callable[[str], None] | None = None) -> TextIO | None:
    """Hold the device's lock (an open file with an exclusive flock); wait while another
    holds it, saying so in `job_dir`'s status.json (queued, waiting_for, held_by).
    Returns the open file (close it to let go), or None when `should_leave` says to give up."""
    import fcntl

    root = _lock_dir()
    root.mkdir(parents=True, exist_ok=True)
    path = root / (device.replace(":", "-") + ".lock")
    f = open(path, "a+")
    noted = False
    while True:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if should_leave():
                f.close()
                return None
            if not noted:
                f.seek(0)
                holder = f.read().strip()
                update_status(job_dir, state="queued", waiting_for=device, held_by=holder or None)
                if echo:
                    echo(f"queued: {device} is busy ({holder or 'another job'}); waiting")
                noted = True
            time.sleep(poll_s)
            continue
        f.seek(0)
        f.truncate()
        f.write(str(job_dir))  # who holds it, for the queued jobs' status
        f.flush()
        return f
