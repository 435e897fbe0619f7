"""Training as a job in its own process, kept in a folder: closing the browser or
restarting the server loses nothing, and the UI and CLI re-attach by reading the folder.

A job folder (default ``<project>/jobs/<job-id>/``) holds

- ``config.yaml``: the resolved `JobConfig` (student and teacher `ModelSpec`, data
  path, `TrainConfig` with every default filled in); ``run_job`` reads only this file;
- ``status.json``: state, pid, times, the error message of a failed job, the summary
  of a finished one;
- ``log.jsonl``: one row per logging step (step, epoch, loss, lr, tokens/s, ETA);
- ``checkpoints/`` (Trainer checkpoints, resumable), ``adapter/`` (the result);
- ``process.log``: the job process's stdout and stderr (tracebacks land here);
- ``stop_request``: present while a stop-and-save is asked for.

States: ``created`` (made, never started), ``queued`` (waiting for its device),
``running``, ``stopping`` (a running job asked to stop: derived from ``stop_request``,
never written), ``stopped`` (stopped and saved: adapter and a checkpoint at that step),
``cancelled``, ``completed``, ``failed``.

Writers never race: before a job process exists only the caller writes status.json;
while it lives only the job process does; after it is gone (cancel, or a crash that
`job_status` notices) the caller writes the final state.

One job per device: the job process holds an exclusive ``flock`` on
``<locks>/<device>.lock`` (``KD_STUDIO_LOCK_DIR``, default ``<cache>/locks``) for its
whole life.  The OS drops the lock however the process ends, even on SIGKILL, so a
crash never leaves a stale lock behind, and the lock is per machine, not per project
(two projects training on one GPU would fight over its memory just the same).  A job
whose device is busy waits in ``queued`` and polls every second; the order among
several waiting jobs is whoever polls first after the lock frees, not strictly
first-come first-served.

Stop-and-save is a file the job polls at the end of every optimizer step: it
finishes that step, saves a checkpoint and the adapter, and exits ("stopped"); a job
still waiting in the queue leaves it ("cancelled": nothing was trained).  A stop asked
while the models load takes effect after the first step.  Cancel is SIGTERM to the
job's process group (the job records "cancelled" and exits at once), then SIGKILL
after a grace period.

Multi-process (data-parallel) jobs: ``start_job(..., processes=N)`` runs the job under
torchrun; every process calls `run_job`, rank 0 owns the folder (status, lock, log,
adapter) and the others only train, starting once rank 0 holds the device.  The status's
pid is the launcher's, so `job_status`, stop and cancel treat the N processes as one job;
a stop is agreed across processes so all stop at the same step.  The same folder also
runs under a launcher the user starts (``accelerate launch -m kd_core.runtime.jobs run DIR``).

This module imports no torch at the top: listing and controlling jobs stays instant;
only `run_job` (in the job process) loads the training stack.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from kd_core.data.config import read_yaml
from kd_core.errors import InputFileError, KDError

STATES = ("created", "queued", "running", "stopping", "stopped", "cancelled", "completed", "failed")
ACTIVE = ("queued", "running", "stopping")  # a live process is expected
FINAL = ("stopped", "cancelled", "completed", "failed")
CONFIG, STATUS, LOG, PROCESS_LOG, STOP, PROCESS = "config.yaml", "status.json", "log.jsonl", "process.log", "stop_request", "process.json"
CANCEL_GRACE_S = 5.0

# Children this process started, so their exit is reaped (no zombies that look alive).
_CHILDREN: dict[int, subprocess.Popen] = {}


# ---------------------------------------------------------------------------
# The job's configuration


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
        teacher = data.get("teacher")
        name = data.get("name") or ""
        if not isinstance(name, str):
            raise KDError(f"name: expected a string, got {type(name).__name__}")
        return cls(
            student=model_spec_from(data["student"], "student", base_dir),
            data=str(path.resolve()),
            train=TrainConfig.from_dict(data.get("train") or {}),
            teacher=None if teacher in (None, "self") else model_spec_from(teacher, "teacher", base_dir),
            name=name,
        )


def model_spec_from(value: Any, where: str, base_dir: Path | None = None) -> Any:
    """A ModelSpec from a config value: a model name, or a mapping of ModelSpec fields
    (each checked, a bad one named as `where.field`); local paths made absolute."""
    from kd_core.models.loading import ModelSpec
    from kd_core.data.config import checked_fields

    if isinstance(value, str):
        return absolute_paths(ModelSpec(value), base_dir)
    fields = checked_fields(ModelSpec, value, where)
    if "name" not in fields:
        raise KDError(f"{where}.name: missing (a hub id, a local directory, a .gguf file or demo:NAME)")
    return absolute_paths(ModelSpec(**fields), base_dir)


def absolute_paths(spec: Any, base_dir: Path | None = None) -> Any:
    """The spec with a local model or adapter path made absolute (found next to the
    config file first, then in the current folder): the job process runs elsewhere."""
    def fix(name: str | None) -> str | None:
        if not name or name.startswith("demo:") or Path(name).expanduser().is_absolute():
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


# ---------------------------------------------------------------------------
# Files


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    # A reader (UI poll, CLI) must never see half a file: write aside, then rename.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _update_status(job_dir: Path, **fields: Any) -> dict[str, Any]:
    status = _read_json(job_dir / STATUS)
    status.update(fields)
    _write_json(job_dir / STATUS, status)
    return status


def jobs_dir(project: str | Path) -> Path:
    return Path(project).expanduser() / "jobs"


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


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def last_checkpoint(job_dir: str | Path) -> Path | None:
    """The newest complete checkpoint (it has trainer_state.json), or None."""
    found = []
    for d in (Path(job_dir) / "checkpoints").glob("checkpoint-*"):
        suffix = d.name.rsplit("-", 1)[-1]
        if suffix.isdigit() and (d / "trainer_state.json").exists():
            found.append((int(suffix), d))
    return max(found)[1] if found else None


# ---------------------------------------------------------------------------
# Processes


def _start_ticks(pid: int) -> int | None:
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


def pid_alive(pid: int | None, start_ticks: int | None = None) -> bool:
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
        return start_ticks is None or int(fields[19]) == start_ticks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _job_pid(job_dir: Path, status: dict[str, Any]) -> tuple[int | None, int | None]:
    if status.get("pid"):
        return status["pid"], status.get("pid_start")
    spawned = _read_json(job_dir / PROCESS)  # started, but the job has not written its status yet
    return spawned.get("pid"), spawned.get("pid_start")


def _signal(job_dir: Path, status: dict[str, Any], sig: int) -> None:
    pid, _ = _job_pid(job_dir, status)
    if not pid:
        return
    own_group = status.get("group", _read_json(job_dir / PROCESS).get("group", False))
    try:
        if own_group:
            os.killpg(pid, sig)  # the job's whole session: any helper process goes too
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------------------
# The API the UI and CLI share


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
    (job_dir / CONFIG).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True))
    _write_json(job_dir / STATUS, {"id": job_id, "state": "created", "created": _now(), "name": config.name})
    return job_dir


def launch_command(job_dir: str | Path, processes: int = 1, resume_from: str | Path | None = None,
                   echo: bool = False) -> list[str]:
    """The command that runs the job: one process, or `processes` data-parallel ones on
    this machine through torchrun (every process runs `run_job`; gradients are averaged)."""
    if processes < 1:
        raise KDError(f"processes must be >= 1 (got {processes})")
    args = ["-m", "kd_core.runtime.jobs", "run", str(job_dir)]
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
    job_dir = Path(job_dir).resolve()
    cmd = launch_command(job_dir, processes, resume_from)
    (job_dir / STOP).unlink(missing_ok=True)
    (job_dir / PROCESS).unlink(missing_ok=True)
    _update_status(job_dir, state="queued", pid=None, pid_start=None, queued=_now(), started=None, ended=None, error=None,
                   summary=None, resumed_from=str(resume_from) if resume_from else None, processes=processes)
    with open(job_dir / PROCESS_LOG, "ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=str(job_dir), env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    _CHILDREN[proc.pid] = proc
    _write_json(job_dir / PROCESS, {"pid": proc.pid, "pid_start": _start_ticks(proc.pid), "group": True, "cmd": cmd})
    return job_status(job_dir)


def job_status(job_dir: str | Path) -> dict[str, Any]:
    """The job's status, with a dead process noticed (and recorded as failed)."""
    job_dir = Path(job_dir)
    status = _read_json(job_dir / STATUS)
    if not status:
        raise KDError(f"{job_dir} is not a job folder (no readable {STATUS})")
    status.setdefault("id", job_dir.name)
    status["dir"] = str(job_dir)
    if status.get("state") in ACTIVE:
        pid, start = _job_pid(job_dir, status)
        if not pid_alive(pid, start):
            time.sleep(0.2)  # the job may have written its final state as it exited
            fresh = _read_json(job_dir / STATUS)
            if fresh.get("state") in ACTIVE:
                tail = _tail(job_dir / PROCESS_LOG)
                error = f"the job process (pid {pid}) is gone without a final state" + (f"; last lines of {PROCESS_LOG}:\n{tail}" if tail else "")
                fresh = _update_status(job_dir, state="failed", ended=_now(), error=error)
            status.update(fresh)
        elif status.get("state") == "running" and (job_dir / STOP).exists():
            status["state"] = "stopping"
    rows = read_log(job_dir)
    if rows:
        status["last_log"] = rows[-1]
    return status


def list_jobs(project: str | Path) -> list[dict[str, Any]]:
    """Every job of the project, oldest first."""
    root = jobs_dir(project)
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.iterdir()):
        if (d / CONFIG).is_file() and (d / STATUS).is_file():
            out.append(job_status(d))
    return out


def stop_job(job_dir: str | Path, wait_s: float = 0.0) -> dict[str, Any]:
    """Ask the job to finish its step, save and exit; wait up to wait_s for its exit."""
    job_dir = Path(job_dir)
    status = job_status(job_dir)
    if status["state"] == "created":
        return _update_status(job_dir, state="cancelled", ended=_now(), error="cancelled before it started")
    if status["state"] not in ACTIVE:
        raise KDError(f"job {status['id']} is not running (state: {status['state']})")
    (job_dir / STOP).write_text(_now() + "\n")
    return _wait_exit(job_dir, wait_s)


def cancel_job(job_dir: str | Path, grace_s: float = CANCEL_GRACE_S) -> dict[str, Any]:
    """End the job now: SIGTERM, then SIGKILL after grace_s; its state becomes "cancelled"."""
    job_dir = Path(job_dir)
    status = job_status(job_dir)
    if status["state"] in FINAL:
        raise KDError(f"job {status['id']} has already ended (state: {status['state']})")
    pid, start = _job_pid(job_dir, status)
    if pid_alive(pid, start):
        _signal(job_dir, status, signal.SIGTERM)
        if not _gone(pid, start, grace_s):
            _signal(job_dir, status, signal.SIGKILL)
            if not _gone(pid, start, 5.0):
                raise KDError(f"job {status['id']}: process {pid} survived SIGKILL (stuck in the kernel?); its state is unchanged")
    if _read_json(job_dir / STATUS).get("state") != "cancelled":
        # A multi-process job's first process reads SIGTERM as a peer's failure and says so; here it was a cancel.
        _update_status(job_dir, state="cancelled", ended=_now(), error=None)
    return job_status(job_dir)


def resume_job(job_dir: str | Path) -> dict[str, Any]:
    """Start a stopped, cancelled or failed job again from its last complete checkpoint
    (from the first step when it has none: a job that failed before its first save)."""
    job_dir = Path(job_dir)
    status = job_status(job_dir)
    if status["state"] not in ("stopped", "cancelled", "failed"):
        raise KDError(f"job {status['id']} cannot be resumed from state '{status['state']}' (only stopped, cancelled or failed jobs)")
    return start_job(job_dir, resume_from=last_checkpoint(job_dir), processes=int(status.get("processes") or 1))


def _gone(pid: int | None, start: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid, start):
            return True
        time.sleep(0.05)
    return not pid_alive(pid, start)


def _wait_exit(job_dir: Path, wait_s: float) -> dict[str, Any]:
    status = job_status(job_dir)
    pid, start = _job_pid(job_dir, status)
    if wait_s > 0:
        _gone(pid, start, wait_s)
    return job_status(job_dir)


# ---------------------------------------------------------------------------
# Inside the job process


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
                        echo: Callable[[str], None] | None = None):
    """Hold the device's lock (an open file with an exclusive flock); wait while another
    job holds it.  Returns the open file, or None when `should_leave` says to give up."""
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
                _update_status(job_dir, state="queued", waiting_for=device, held_by=holder or None)
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


def _stop_callback(job_dir: Path):
    from transformers import TrainerCallback

    class StopOnRequest(TrainerCallback):
        """Finish the step, checkpoint it, stop: Trainer then returns and the adapter is saved."""

        def __init__(self):
            self.requested = False

        def on_step_end(self, args, state, control, **kw):
            if _stop_agreed((job_dir / STOP).exists(), args.device):
                self.requested = True
                control.should_training_stop = True
                control.should_save = True  # resume continues from exactly this step
                control.should_log = True

    return StopOnRequest()


def _stop_agreed(asked: bool, device: Any) -> bool:
    """Whether any process saw the stop request.  Processes poll the file at slightly
    different moments; one that stopped a step before the others would leave them
    waiting forever on its gradients, so all stop at the same step."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return asked
    flag = torch.tensor([1 if asked else 0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def _echo_callback(job_dir: Path, echo: Callable[[str], None]):
    from transformers import TrainerCallback

    class Echo(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):
            rows = read_log(job_dir)
            if rows and "loss" in rows[-1]:
                echo(format_log_row(rows[-1]))

    return Echo()


def format_log_row(row: dict[str, Any]) -> str:
    """One progress line for people."""
    parts = [f"step {row.get('step')}/{row.get('max_steps')}", f"epoch {row.get('epoch', 0):.2f}"]
    for key, fmt in (("loss", "loss {:.4f}"), ("loss_sft", "sft {:.4f}"), ("loss_kd", "kd {:.4f}"),
                     ("learning_rate", "lr {:.2e}"), ("tokens_per_s", "{:.0f} tok/s")):
        if key in row:
            parts.append(fmt.format(row[key]))
    if "eta_s" in row:
        s = int(row["eta_s"])
        parts.append(f"ETA {s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}")
    return "  ".join(parts)


def _rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes, as torchrun and accelerate launch set them."""
    return int(os.environ.get("RANK", "0") or 0), max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))


def run_job(job_dir: str | Path, resume_from: str | Path | None = None, echo: Callable[[str], None] | None = None,
            callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Run the job in this process (the job process, or the CLI in the foreground);
    returns its final status.

    Under a multi-process launcher every process calls this: the first (rank 0) owns the
    job folder (status, device lock, log, adapter); the others only train."""
    job_dir = Path(job_dir).resolve()
    rank, world = _rank_and_world()
    if world > 1:
        _die_with_parent()
    if rank != 0:
        return _run_follower(job_dir, resume_from, rank, callbacks)
    pid = os.getpid()
    launcher = _read_json(job_dir / PROCESS).get("pid") if world > 1 else None
    if launcher and os.getppid() == launcher:
        # start_job's launcher (torchrun) is the job's process: job_status watches it, a
        # cancel signals it, and it ends every training process.
        record_pid, group = launcher, _leads_group(launcher)
    else:
        # Only a session leader (a process start_job made) owns its process group; a CLI in
        # the foreground shares its shell's group, which a cancel must not take down.
        record_pid, group = pid, os.getsid(0) == pid

    def on_sigterm(signum, frame):
        if world > 1:
            # The launcher ends every process when one fails; a user's cancel lands here too
            # and cancel_job then records "cancelled" over this.
            _update_status(job_dir, state="failed", ended=_now(),
                           error=f"ended by SIGTERM: another of the {world} training processes failed, or the launcher was "
                                 f"stopped; last lines of {PROCESS_LOG}:\n{_tail(job_dir / PROCESS_LOG)}")
        else:
            # Cancel: record it and leave now; the OS frees memory and the device lock.
            _update_status(job_dir, state="cancelled", ended=_now(), error=None)
        os._exit(143)

    import threading

    in_main = threading.current_thread() is threading.main_thread()  # signal handlers live only there
    previous = signal.signal(signal.SIGTERM, on_sigterm) if in_main else None
    lock = None
    _update_status(job_dir, state="queued", pid=record_pid, pid_start=_start_ticks(record_pid), group=group,
                   host=os.uname().nodename, processes=world)
    try:
        config = load_job_config(job_dir / CONFIG)
        device = device_name(config.student.device)
        lock = acquire_device_lock(device, job_dir, should_leave=lambda: (job_dir / STOP).exists(), echo=echo)
        if lock is None:
            return _update_status(job_dir, state="cancelled", ended=_now(), error="stopped while waiting in the queue")
        _update_status(job_dir, state="running", device=device, started=_now(), waiting_for=None, held_by=None)
        if echo:
            where = f"{world} processes on {device}" if world > 1 else device
            echo(f"job {job_dir.name}: training on {where} ({config.train.loss}, student {config.student.label()})")
        from kd_core.training.data import read_examples
        from kd_core.training.trainer import train_lora

        examples = read_examples(config.data)
        stop = _stop_callback(job_dir)
        summary = train_lora(config.student, examples, config.train, teacher=config.teacher,
                             callbacks=[stop, *([_echo_callback(job_dir, echo)] if echo else []), *callbacks],
                             resume_from_checkpoint=str(resume_from) if resume_from else None, print_logs=echo is None)
        state = "stopped" if stop.requested else "completed"
        (job_dir / STOP).unlink(missing_ok=True)
        return _update_status(job_dir, state=state, ended=_now(), summary=summary, error=None)
    except KDError as e:
        return _update_status(job_dir, state="failed", ended=_now(), error=str(e))
    except KeyboardInterrupt:
        _update_status(job_dir, state="cancelled", ended=_now(), error="interrupted")
        raise
    except Exception as e:
        import traceback

        traceback.print_exc()  # into process.log: the whole story for a bug
        return _update_status(job_dir, state="failed", ended=_now(), error=_disk_hint(e, job_dir) + f"{type(e).__name__}: {e}")
    finally:
        if lock is not None:
            lock.close()
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def job_id_for(prefix: str, data: str | Path, spec: Any, train: Any) -> str:
    """``<prefix>-<digest>``: the digest of the training data, the model and the settings,
    so new data or another setting trains a new job, and a run with nothing changed finds
    its finished job again."""
    import hashlib

    settings = {k: v for k, v in train.to_dict().items() if k != "output_dir"}
    h = hashlib.sha256(Path(data).read_bytes())
    h.update(json.dumps([spec.to_dict(), settings], sort_keys=True).encode())
    return f"{prefix}-{h.hexdigest()[:8]}"


def train_to_completion(project: str | Path, spec: Any, data: str | Path, train: Any, job_id: str, name: str,
                        log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train (or finish) the job `job_id` of `project` in the foreground, for a recipe's
    stage; a completed job is kept, a stopped or failed one resumes from its checkpoint."""
    from dataclasses import replace

    job_dir = jobs_dir(project) / job_id
    if job_dir.exists():
        status = job_status(job_dir)
        if status["state"] == "completed":
            log(f"train {job_id}: already completed ({job_dir})")
            return status
        if status["state"] in ACTIVE:
            raise KDError(f"job {job_id} is {status['state']} in another process; wait for it or stop it "
                          f"(kd-studio jobs stop {job_id} --project {project})")
        checkpoint = last_checkpoint(job_dir)
        log(f"train {job_id}: {status['state']} before; " + (f"resuming from {checkpoint.name}" if checkpoint else "starting again"))
        status = run_job(job_dir, resume_from=checkpoint, echo=log)
    else:
        config = JobConfig(student=spec, data=str(data), train=replace(train), teacher=None, name=name)
        job_dir = create_job(project, config, job_id=job_id)
        log(f"train {job_id}: {train.loss}, {job_dir}")
        status = run_job(job_dir, echo=log)
    if status["state"] != "completed":
        raise KDError(f"job {job_id} ended {status['state']}: {status.get('error') or 'see ' + str(job_dir / PROCESS_LOG)}")
    return status


def _disk_hint(e: BaseException, job_dir: Path) -> str:
    """A failed write said plainly: savers (safetensors, torch.save) word a full disk their own way."""
    text = f"{e} {getattr(e, 'errno', '')}"
    if any(k in text for k in ("No space left", "File too large", "os error 28", "os error 27", "Disk quota")) or \
            getattr(e, "errno", None) in (27, 28, 122):
        return (f"the disk is full (or a file-size limit was hit) while writing into {job_dir}: free space, then resume "
                "the job (it goes on from its last complete checkpoint). ")
    return ""


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def run_foreground(job_dir: str | Path, processes: int) -> dict[str, Any]:
    """Run the job in `processes` processes, in the foreground (progress lines on stdout);
    returns its final status.  Ctrl-C ends every process and records "cancelled"."""
    job_dir = Path(job_dir).resolve()
    cmd = launch_command(job_dir, processes, echo=True)
    proc = subprocess.Popen(cmd, cwd=str(job_dir), env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _write_json(job_dir / PROCESS, {"pid": proc.pid, "pid_start": _start_ticks(proc.pid), "group": False, "cmd": cmd})
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.wait()  # the launcher got the Ctrl-C too and is ending its processes
        _update_status(job_dir, state="cancelled", ended=_now(), error="interrupted")
        raise
    return job_status(job_dir)


def _die_with_parent() -> None:
    """End this training process when its launcher dies, however it dies.

    torchrun starts each process in a session of its own, so a SIGKILL to the launcher's
    group (a cancel's last resort) would leave them training, holding memory and the
    device.  Linux only; elsewhere the launcher's own SIGTERM handling has to do."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_follower(job_dir: Path, resume_from: str | Path | None, rank: int, callbacks: Sequence[Any] = (),
                  poll_s: float = 0.5) -> dict[str, Any]:
    """A process other than rank 0: train alongside it, writing nothing into the job folder.

    It waits until rank 0 holds the device and says "running", so a queued job loads no
    model and does not sit in the process group's rendezvous (which times out).  If rank 0
    leaves instead (stopped in the queue, failed), the launcher ends this process."""
    while _read_json(job_dir / STATUS).get("state") != "running":
        time.sleep(poll_s)
    config = load_job_config(job_dir / CONFIG)
    from kd_core.training.data import read_examples
    from kd_core.training.trainer import train_lora

    stop = _stop_callback(job_dir)
    try:
        summary = train_lora(config.student, read_examples(config.data), config.train, teacher=config.teacher,
                             callbacks=[stop, *callbacks], resume_from_checkpoint=str(resume_from) if resume_from else None,
                             print_logs=False)
    except Exception as e:
        import traceback

        traceback.print_exc()  # process.log: rank 0 reports the failure, this is its cause
        return {"id": job_dir.name, "state": "failed", "error": f"rank {rank}: {type(e).__name__}: {e}"}
    return {"id": job_dir.name, "state": "stopped" if stop.requested else "completed", "error": None, "summary": summary}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kd_core.runtime.jobs", description="Run a KD Studio job folder (started by start_job).")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("job_dir")
    run.add_argument("--resume", default=None, help="checkpoint folder to continue from")
    run.add_argument("--echo", action="store_true", help="print a progress line per logging step")
    args = parser.parse_args(argv)
    status = run_job(args.job_dir, resume_from=args.resume, echo=(lambda line: print(line, flush=True)) if args.echo else None)
    print(json.dumps({k: status.get(k) for k in ("id", "state", "error")}))
    return 0 if status.get("state") in ("completed", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
