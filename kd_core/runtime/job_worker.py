"""Inside a training job's process: `run_job` takes the device, trains, and records
every step of the way in the job folder (kd_core.runtime.job_folder).

``python -m kd_core.runtime.jobs run DIR`` (the command start_job launches) ends here.
While the job process lives it is the only writer of its status.json; the API side
(kd_core.runtime.jobs) writes only before it starts and after it is gone.

Stop-and-save is a file the job polls at the end of every optimizer step: it finishes
that step, saves a checkpoint and the adapter, and exits ("stopped"); a job still
waiting in the queue leaves it ("cancelled": nothing was trained).  A stop asked while
the models load takes effect after the first step.  A cancel's SIGTERM is recorded as
"cancelled" and the process exits at once (the OS frees memory and the device lock).

Multi-process (data-parallel) jobs: under torchrun or ``accelerate launch -m
kd_core.runtime.jobs run DIR`` every process calls `run_job`; rank 0 owns the folder
(status, device lock, log, adapter) and the others (followers) only train, starting once
rank 0 holds the device.  The status's pid is the launcher's, so status, stop and cancel
treat the N processes as one job; a stop is agreed across processes so all stop at the
same step.

torch and transformers are imported only inside the functions that train.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from kd_core.data.files import now, read_json, tail
from kd_core.errors import KDError
from kd_core.runtime.device_lock import acquire_device_lock, device_name
from kd_core.runtime.job_folder import CONFIG, PROCESS, PROCESS_LOG, STOP, load_job_config, read_log
from kd_core.runtime.lifecycle import STATUS, own_process, update_status
from kd_core.runtime.process import die_with_parent, leads_group


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
            if rows and ("loss" in rows[-1] or "eval_loss" in rows[-1]):
                echo(format_log_row(rows[-1]))

    return Echo()


def _progress_callback(progress: Callable[[int, int, str], None]):
    """Every optimizer step to a progress callback (kd_core.runtime.progress): the CLI's bar."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            progress(state.global_step, state.max_steps, "train")

    return Progress()


def format_log_row(row: dict[str, Any]) -> str:
    """One progress line for people."""
    parts = [f"step {row.get('step')}/{row.get('max_steps')}", f"epoch {row.get('epoch', 0):.2f}"]
    for key, fmt in (("loss", "loss {:.4f}"), ("loss_sft", "sft {:.4f}"), ("loss_kd", "kd {:.4f}"),
                     ("eval_loss", "eval_loss {:.4f}"), ("learning_rate", "lr {:.2e}"), ("tokens_per_s", "{:.0f} tok/s")):
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
            callbacks: Sequence[Any] = (), progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Run the job in this process (the job process, or the CLI in the foreground);
    returns its final status. `progress(step, max_steps, "train")` hears every step.

    Under a multi-process launcher every process calls this: the first (rank 0) owns the
    job folder (status, device lock, log, adapter); the others only train."""
    job_dir = Path(job_dir).resolve()
    rank, world = _rank_and_world()
    if world > 1:
        die_with_parent()
    if rank != 0:
        return _run_follower(job_dir, resume_from, rank, callbacks)
    pid = os.getpid()
    launcher = read_json(job_dir / PROCESS).get("pid") if world > 1 else None
    if launcher and os.getppid() == launcher:
        # start_job's launcher (torchrun) is the job's process: job_status watches it, a
        # cancel signals it, and it ends every training process.
        record_pid, group = launcher, leads_group(launcher)
    else:
        # Only a session leader (a process start_job made) owns its process group; a CLI in
        # the foreground shares its shell's group, which a cancel must not take down.
        record_pid, group = pid, os.getsid(0) == pid

    def on_sigterm(signum, frame):
        if world > 1:
            # The launcher ends every process when one fails; a user's cancel lands here too
            # and cancel_job then records "cancelled" over this.
            update_status(job_dir, state="failed", ended=now(),
                          error=f"ended by SIGTERM: another of the {world} training processes failed, or the launcher was "
                                f"stopped; last lines of {PROCESS_LOG}:\n{tail(job_dir / PROCESS_LOG)}")
        else:
            # Cancel: record it and leave now; the OS frees memory and the device lock.
            update_status(job_dir, state="cancelled", ended=now(), error=None)
        os._exit(143)

    import threading

    in_main = threading.current_thread() is threading.main_thread()  # signal handlers live only there
    previous = signal.signal(signal.SIGTERM, on_sigterm) if in_main else None
    lock = None
    update_status(job_dir, state="queued", **own_process(record_pid), group=group, host=os.uname().nodename, processes=world)
    try:
        config = load_job_config(job_dir / CONFIG)
        device = device_name(config.student.device)
        lock = acquire_device_lock(device, job_dir, should_leave=lambda: (job_dir / STOP).exists(), echo=echo)
        if lock is None:
            return update_status(job_dir, state="cancelled", ended=now(), error="stopped while waiting in the queue")
        update_status(job_dir, state="running", device=device, started=now(), waiting_for=None, held_by=None)
        if echo:
            where = f"{world} processes on {device}" if world > 1 else device
            echo(f"job {job_dir.name}: training on {where} ({config.train.loss}, student {config.student.label()})")
        from kd_core.training.data import read_examples
        from kd_core.training.trainer import train_lora

        examples = read_examples(config.data)
        stop = _stop_callback(job_dir)
        summary = train_lora(config.student, examples, config.train, teacher=config.teacher,
                             callbacks=[stop, *([_echo_callback(job_dir, echo)] if echo else []),
                                        *([_progress_callback(progress)] if progress else []), *callbacks],
                             resume_from_checkpoint=str(resume_from) if resume_from else None, print_logs=echo is None)
        state = "stopped" if stop.requested else "completed"
        (job_dir / STOP).unlink(missing_ok=True)
        return update_status(job_dir, state=state, ended=now(), summary=summary, error=None)
    except KDError as e:
        return update_status(job_dir, state="failed", ended=now(), error=str(e))
    except KeyboardInterrupt:
        update_status(job_dir, state="cancelled", ended=now(), error="interrupted")
        raise
    except Exception as e:
        import traceback

        traceback.print_exc()  # into process.log: the whole story for a bug
        return update_status(job_dir, state="failed", ended=now(), error=_disk_hint(e, job_dir) + f"{type(e).__name__}: {e}")
    finally:
        if lock is not None:
            lock.close()
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _disk_hint(e: BaseException, job_dir: Path) -> str:
    """A failed write said plainly: savers (safetensors, torch.save) word a full disk their own way."""
    text = f"{e} {getattr(e, 'errno', '')}"
    if any(k in text for k in ("No space left", "File too large", "os error 28", "os error 27", "Disk quota")) or \
            getattr(e, "errno", None) in (27, 28, 122):
        return (f"the disk is full (or a file-size limit was hit) while writing into {job_dir}: free space, then resume "
                "the job (it goes on from its last complete checkpoint). ")
    return ""


def _run_follower(job_dir: Path, resume_from: str | Path | None, rank: int, callbacks: Sequence[Any] = (),
                  poll_s: float = 0.5) -> dict[str, Any]:
    """A process other than rank 0: train alongside it, writing nothing into the job folder.

    It waits until rank 0 holds the device and says "running", so a queued job loads no
    model and does not sit in the process group's rendezvous (which times out).  If rank 0
    leaves instead (stopped in the queue, failed), the launcher ends this process."""
    while read_json(job_dir / STATUS).get("state") != "running":
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
    run.add_argument("--trust-remote-code", action="store_true", help="let the job's models run their repositories' code")
    run.add_argument("--allow-pickle", action="store_true", help="let the job's models load pickle weights (.bin/.pt)")
    args = parser.parse_args(argv)
    from kd_core.models.loading import grant

    grant(trust_remote_code=args.trust_remote_code, allow_pickle=args.allow_pickle)  # config.yaml cannot turn them on
    status = run_job(args.job_dir, resume_from=args.resume, echo=(lambda line: print(line, flush=True)) if args.echo else None)
    print(json.dumps({k: status.get(k) for k in ("id", "state", "error")}))
    return 0 if status.get("state") in ("completed", "stopped") else 1
