"""Training as a job in its own process, kept in a folder: closing the browser or
restarting the server loses nothing, and the UI and CLI re-attach by reading the folder.

This module is the job API the UI, the CLI and recipes share: make a job
(`create_job`), start it in the background (`start_job`) or the foreground
(`run_foreground`, `train_to_completion`), read it (`job_status`, `list_jobs`), and
stop, cancel or resume it.  What a job folder holds and its states are in
kd_core.runtime.job_folder; what runs inside the job process in
kd_core.runtime.job_worker (`python -m kd_core.runtime.jobs run DIR` lands there); the
lock that keeps one job per device in kd_core.runtime.device_lock; the rules a
background process lives by (shared with project runs) in kd_core.runtime.lifecycle.
The names from those modules that callers use are importable from here too, so one
import serves code that works with jobs.

Writers never race: before a job process exists only the caller writes status.json;
while it lives only the job process does; after it is gone (cancel, or a crash that
`job_status` notices) the caller writes the final state.

Stop (`stop_job`) asks the job to finish its step, save and exit.  Cancel
(`cancel_job`) is SIGTERM to the job's process group (the job records "cancelled" and
exits at once), then SIGKILL after a grace period.  ``start_job(..., processes=N)``
trains data-parallel under torchrun; the status's pid is the launcher's, so the N
processes are one job to stop or cancel.

This module imports no torch at the top: listing and controlling jobs stays instant;
only `run_job` (in the job process) loads the training stack.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from kd_core.data.files import now, read_json, write_atomic, write_json
from kd_core.errors import KDError
from kd_core.runtime import lifecycle
from kd_core.runtime.job_folder import (
    ACTIVE,
    CONFIG,
    FINAL,
    PROCESS,
    PROCESS_LOG,
    STOP,
    JobConfig,
    absolute_paths,
    find_job,
    jobs_dir,
    last_checkpoint,
    load_job_config,
    model_spec_from,
    read_log,
)
from kd_core.runtime.job_worker import format_log_row, main, run_job
from kd_core.runtime.lifecycle import STATUS, update_status
from kd_core.runtime.process import pid_alive, start_ticks, wait_gone

__all__ = [
    # the job API
    "create_job", "launch_command", "start_job", "job_status", "list_jobs", "stop_job", "cancel_job", "resume_job",
    "run_foreground", "train_to_completion", "job_id_for", "CANCEL_GRACE_S",
    # from job_folder, job_worker, process: what callers of the job API use
    "ACTIVE", "FINAL", "CONFIG", "STATUS", "PROCESS_LOG", "STOP", "PROCESS",
    "JobConfig", "model_spec_from", "absolute_paths", "load_job_config", "jobs_dir", "find_job", "read_log",
    "last_checkpoint", "run_job", "format_log_row", "main", "pid_alive",
]

CANCEL_GRACE_S = 5.0


def _job_pid(job_dir: Path, status: dict[str, Any]) -> tuple[int | None, int | None]:
    if status.get("pid"):
        return status["pid"], status.get("pid_start")
    spawned = read_json(job_dir / PROCESS)  # started, but the job has not written its status yet
    return spawned.get("pid"), spawned.get("pid_start")


def _own_group(job_dir: Path, status: dict[str, Any]) -> bool:
    """Whether the job's process leads its group (one start_job made): then a cancel ends
    the whole group, any helper process too; a CLI in the foreground shares its shell's."""
    return status.get("group", read_json(job_dir / PROCESS).get("group", False))


def create_job(project: str | Path, config: JobConfig, job_id: str | None = None) -> Path:
    """Make the job folder with its resolved config.yaml (state "created").

    The data file is read now, so a bad line fails here, not in a background process."""
    import yaml

    from kd_core.training.data import read_examples

    read_examples(config.data)
    config.train.validate()
    config.data = str(Path(config.data).expanduser().resolve())
    absolute_paths(config.student)
    if config.teacher is not None:
        absolute_paths(config.teacher)
    job_id = job_id or datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
    job_dir = (jobs_dir(project) / job_id).resolve()
    try:
        job_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise KDError(f"a job named '{job_id}' already exists in {job_dir.parent}") from None
    config.train.output_dir = str(job_dir)
    write_atomic(job_dir / CONFIG, yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True))
    write_json(job_dir / STATUS, {"id": job_id, "state": "created", "created": now(), "name": config.name})
    return job_dir


def launch_command(job_dir: str | Path, processes: int = 1, resume_from: str | Path | None = None,
                   echo: bool = False) -> list[str]:
    """The command that runs the job: one process, or `processes` data-parallel ones on
    this machine through torchrun (every process runs `run_job`; gradients are averaged)."""
    if processes < 1:
        raise KDError(f"processes must be >= 1 (got {processes})")
    from kd_core.models.loading import granted_flags

    args = ["-m", "kd_core.runtime.jobs", "run", str(job_dir), *granted_flags()]  # never from config.yaml
    if resume_from:
        args += ["--resume", str(resume_from)]
    if echo:
        args.append("--echo")
    if processes == 1:
        return [sys.executable, *args]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *args]


def start_job(job_dir: str | Path, resume_from: str | Path | None = None, processes: int = 1) -> dict[str, Any]:
    """Start the job in its own process and session (it outlives the caller); returns its status.

    `processes` > 1 trains data-parallel on this machine (see `launch_command`)."""
    from kd_core.runtime.runs import check_capacity

    job_dir = Path(job_dir).resolve()
    check_capacity(f"training job {job_dir.name}")  # a server's runs at once (Limits.runs_at_once)
    cmd = launch_command(job_dir, processes, resume_from)
    (job_dir / STOP).unlink(missing_ok=True)
    (job_dir / PROCESS).unlink(missing_ok=True)
    update_status(job_dir, state="queued", pid=None, pid_start=None, queued=now(), started=None, ended=None, error=None,
                  summary=None, resumed_from=str(resume_from) if resume_from else None, processes=processes)
    started = lifecycle.start(cmd, cwd=job_dir, log=job_dir / PROCESS_LOG)
    # The job writes its own pid into status.json once it runs; until then this file names it.
    write_json(job_dir / PROCESS, {"pid": started["pid"], "pid_start": started["pid_start"], "group": True, "cmd": started["cmd"]})
    return job_status(job_dir)


def job_status(job_dir: str | Path) -> dict[str, Any]:
    """The job's status, with a dead process noticed (and recorded as failed)."""
    job_dir = Path(job_dir)
    status = read_json(job_dir / STATUS)
    if not status:
        raise KDError(f"{job_dir} is not a job folder: its {STATUS} is missing or damaged ({job_dir / STATUS})")
    status.setdefault("id", job_dir.name)
    status["dir"] = str(job_dir)
    if status.get("state") in ACTIVE:
        pid, start = _job_pid(job_dir, status)
        status.update(lifecycle.checked(job_dir, status, pid, start, ACTIVE, who="the job process", log=PROCESS_LOG))
        if status.get("state") == "running" and (job_dir / STOP).exists():
            status["state"] = "stopping"  # derived, never written: the job process owns the file
    rows = read_log(job_dir)
    if rows:
        status["last_log"] = next((r for r in reversed(rows) if "loss" in r), rows[-1])  # not a final eval row
    return status


def list_jobs(project: str | Path) -> list[dict[str, Any]]:
    """Every job of the project, oldest first."""
    root = jobs_dir(project)
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.iterdir()):
        if (d / CONFIG).is_file() and (d / STATUS).is_file():
            try:
                out.append(job_status(d))
            except KDError:
                continue  # a damaged status.json (named in a warning by read_json) hides that job, not the others
    return out


def stop_job(job_dir: str | Path, wait_s: float = 0.0) -> dict[str, Any]:
    """Ask the job to finish its step, save and exit; wait up to wait_s for its exit."""
    job_dir = Path(job_dir)
    status = job_status(job_dir)
    if status["state"] == "created":
        return update_status(job_dir, state="cancelled", ended=now(), error="cancelled before it started")
    if status["state"] not in ACTIVE:
        raise KDError(f"job {status['id']} is not running (state: {status['state']})")
    write_atomic(job_dir / STOP, now() + "\n")
    return _wait_exit(job_dir, wait_s)


def cancel_job(job_dir: str | Path, grace_s: float = CANCEL_GRACE_S) -> dict[str, Any]:
    """End the job now: SIGTERM, then SIGKILL after grace_s; its state becomes "cancelled"."""
    job_dir = Path(job_dir)
    status = job_status(job_dir)
    if status["state"] in FINAL:
        raise KDError(f"job {status['id']} has already ended (state: {status['state']})")
    pid, start = _job_pid(job_dir, status)
    if not lifecycle.end(pid, start, _own_group(job_dir, status), grace_s):
        raise KDError(f"job {status['id']}: process {pid} survived SIGKILL (stuck in the kernel?); its state is unchanged")
    if read_json(job_dir / STATUS).get("state") != "cancelled":
        # A multi-process job's first process reads SIGTERM as a peer's failure and says so; here it was a cancel.
        update_status(job_dir, state="cancelled", ended=now(), error=None)
    return job_status(job_dir)


def resume_job(job_dir: str | Path) -> dict[str, Any]:
    """Start a stopped, cancelled or failed job again from its last complete checkpoint
    (from the first step when it has none: a job that failed before its first save)."""
    job_dir = Path(job_dir)
    status = job_status(job_dir)
    if status["state"] not in ("stopped", "cancelled", "failed"):
        raise KDError(f"job {status['id']} cannot be resumed from state '{status['state']}' (only stopped, cancelled or failed jobs)")
    return start_job(job_dir, resume_from=last_checkpoint(job_dir), processes=int(status.get("processes") or 1))


def _wait_exit(job_dir: Path, wait_s: float) -> dict[str, Any]:
    status = job_status(job_dir)
    pid, start = _job_pid(job_dir, status)
    if wait_s > 0:
        wait_gone(pid, start, wait_s)
    return job_status(job_dir)


def job_id_for(prefix: str, data: str | Path, spec: Any, train: Any) -> str:
    """``<prefix>-<digest>``: the digest of the training data, the model and the settings,
    so new data or another setting trains a new job, and a run with nothing changed finds
    its finished job again."""
    import hashlib

    from kd_core.training.config import TrainConfig

    # Settings added later count only when set, and where a job reports to or how often it
    # checkpoints trains the same weights: a project's finished jobs keep their ids.
    later = {"eval_fraction", "eval_data", "eval_steps", "early_stopping_patience"}
    later_lora = {"full_blocks"}
    default = TrainConfig().to_dict()
    settings = {k: v for k, v in train.to_dict().items()
                if k not in ("output_dir", "report_to") and not (k in later and v == default[k])}
    if settings.get("save_steps") == -1:
        settings["save_steps"] = 0  # the automatic interval: as before it, a run with no checkpoint asked for
    settings["lora"] = {k: v for k, v in settings["lora"].items() if not (k in later_lora and v == default["lora"][k])}
    h = hashlib.sha256(Path(data).read_bytes())
    h.update(json.dumps([spec.to_dict(), settings], sort_keys=True).encode())
    return f"{prefix}-{h.hexdigest()[:8]}"


def train_to_completion(project: str | Path, spec: Any, data: str | Path, train: Any, job_id: str, name: str,
                        log: Callable[[str], None] = print, teacher: Any = None) -> dict[str, Any]:
    """Train (or finish) the job `job_id` of `project` in the foreground, for a recipe's
    stage; a completed job is kept, a stopped or failed one resumes from its checkpoint.
    `teacher` (a ModelSpec) is what the kd and mix losses learn from; None: the student with
    its adapter disabled (prompt distillation)."""
    from dataclasses import replace

    job_dir = jobs_dir(project) / job_id
    if job_dir.exists():
        status = job_status(job_dir)
        if status["state"] == "completed":
            log(f"train {job_id}: already completed ({job_dir})")
            return status
        if status["state"] in ACTIVE:
            raise KDError(f"job {job_id} is {status['state']} in another process; wait for it or stop it "
                          f"({shlex.join(['kd-studio', 'jobs', 'stop', str(job_id), '--project', str(project)])})")
        checkpoint = last_checkpoint(job_dir)
        log(f"train {job_id}: {status['state']} before; " + (f"resuming from {checkpoint.name}" if checkpoint else "starting again"))
        status = run_job(job_dir, resume_from=checkpoint, echo=log)
    else:
        config = JobConfig(student=spec, data=str(data), train=replace(train), teacher=teacher, name=name)
        job_dir = create_job(project, config, job_id=job_id)
        log(f"train {job_id}: {train.loss}, {job_dir}")
        status = run_job(job_dir, echo=log)
    if status["state"] != "completed":
        raise KDError(f"job {job_id} ended {status['state']}: {status.get('error') or 'see ' + str(job_dir / PROCESS_LOG)}")
    return status

def run_foreground(job_dir: str | Path, processes: int) -> dict[str, Any]:
    """Run the job in `processes` processes, in the foreground (progress lines on stdout);
    returns its final status.  Ctrl-C ends every process and records "cancelled"."""
    job_dir = Path(job_dir).resolve()
    cmd = launch_command(job_dir, processes, echo=True)
    proc = subprocess.Popen(cmd, cwd=str(job_dir), env={**os.environ, "PYTHONUNBUFFERED": "1"})
    write_json(job_dir / PROCESS, {"pid": proc.pid, "pid_start": start_ticks(proc.pid), "group": False, "cmd": cmd})
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.wait()  # the launcher got the Ctrl-C too and is ending its processes
        update_status(job_dir, state="cancelled", ended=now(), error="interrupted")
        raise
    return job_status(job_dir)


if __name__ == "__main__":
    sys.exit(main())
