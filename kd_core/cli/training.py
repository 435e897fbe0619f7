"""Training from a shell: `kd-studio train`, `kd-studio jobs list|show|stop|cancel|resume`,
`kd-studio export` (a trained LoRA merged into its base)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from kd_core.cli.common import code_flags, command, echo, positive_int, progress_bar
from kd_core.errors import KDError


@command("train")
def cmd_train(args: argparse.Namespace) -> int:
    """Train a student LoRA from a YAML config: in the foreground, or as a background job."""
    from kd_core.data.files import read_json
    from kd_core.runtime import jobs

    config = jobs.load_job_config(args.config)  # every config and data error before any model loads
    job_dir = jobs.create_job(args.project, config, job_id=args.job_id)
    if args.background:
        status = jobs.start_job(job_dir, processes=args.processes)
        print(f"job {status['id']} started in the background (pid {read_json(job_dir / jobs.PROCESS).get('pid')}): {job_dir}")
        print("    " + shlex.join(["kd-studio", "jobs", "show", str(status["id"]), "--project", str(args.project)]))
        return 0
    print(f"job {job_dir.name}: {job_dir}")
    if args.processes == 1:
        # On a terminal a bar (step/max_steps, ETA) under the log lines; in a log the log
        # lines (format_log_row, with the trainer's ETA) are the plain progress lines.
        with progress_bar() as bar:
            status = jobs.run_job(job_dir, echo=echo, progress=bar if bar.tty else None)
    else:
        status = jobs.run_foreground(job_dir, args.processes)
    return _print_outcome(status)


def _print_outcome(status: dict) -> int:
    summary = status.get("summary") or {}
    if status["state"] in ("completed", "stopped"):
        print(f"{status['state']}: {summary.get('steps')} steps in {summary.get('wall_s')} s, "
              f"final loss {summary.get('final_loss')}, adapter -> {summary.get('adapter')}")
        return 0
    print(f"kd-studio: error: job {status['id']} {status['state']}: {status.get('error')}", file=sys.stderr)
    return 1


def _job_line(s: dict) -> str:
    row = s.get("last_log") or {}
    progress = f"step {row.get('step')}/{row.get('max_steps')}" if row else "-"
    loss = f"loss {row['loss']:.4g}" if "loss" in row else ""
    return f"{s['id']:<24} {s['state']:<10} {progress:<16} {loss:<13} {s.get('name') or ''}".rstrip()


@command("jobs list")
def cmd_jobs_list(args: argparse.Namespace) -> int:
    from kd_core.runtime import jobs

    found = jobs.list_jobs(args.project)
    if args.json:
        print(json.dumps(found, indent=2))
    elif not found:
        print(f"no jobs in {jobs.jobs_dir(args.project)}")
    for s in [] if args.json else found:
        print(_job_line(s))
    return 0


@command("jobs show")
def cmd_jobs_show(args: argparse.Namespace) -> int:
    from kd_core.runtime import jobs

    job_dir = jobs.find_job(args.job, args.project)
    s = jobs.job_status(job_dir)
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    print(_job_line(s))
    for key in ("dir", "device", "pid", "created", "started", "ended", "resumed_from", "waiting_for", "held_by"):
        if s.get(key) is not None:
            print(f"    {key:<13} {s[key]}")
    for key, value in (s.get("summary") or {}).items():
        print(f"    {key:<13} {value}")
    if s.get("error"):
        print(f"    error         {s['error']}")
    for row in jobs.read_log(job_dir)[-args.log:] if args.log else []:
        print("    " + jobs.format_log_row(row))
    return 0


@command("jobs stop")
def cmd_jobs_stop(args: argparse.Namespace) -> int:
    """Stop-and-save: the job finishes its step, saves a checkpoint and the adapter, exits."""
    from kd_core.runtime import jobs

    s = jobs.stop_job(jobs.find_job(args.job, args.project), wait_s=args.wait)
    print(f"job {s['id']}: {s['state']}")
    return 0


@command("jobs cancel")
def cmd_jobs_cancel(args: argparse.Namespace) -> int:
    from kd_core.runtime import jobs

    s = jobs.cancel_job(jobs.find_job(args.job, args.project))
    print(f"job {s['id']}: {s['state']}")
    return 0


@command("jobs resume")
def cmd_jobs_resume(args: argparse.Namespace) -> int:
    """Continue a stopped, cancelled or failed job from its last checkpoint, in the background."""
    from kd_core.runtime import jobs

    s = jobs.resume_job(jobs.find_job(args.job, args.project))
    print(f"job {s['id']}: {s['state']} (from {s.get('resumed_from')})")
    return 0


@command("export")
def cmd_export(args: argparse.Namespace) -> int:
    """Merge a job's (or any) LoRA into a 16/32-bit copy of its base; check it; save it."""
    from kd_core.models.loading import ModelSpec
    from kd_core.training.merge import merge_adapter

    pairs, system = None, None
    if args.job:
        from kd_core.runtime import jobs
        from kd_core.training.data import read_examples

        job_dir = jobs.find_job(args.job, args.project)
        config = jobs.load_job_config(job_dir / jobs.CONFIG)
        base, adapter = config.student, args.adapter or str(job_dir / "adapter")
        if not (Path(adapter) / "adapter_config.json").exists():
            raise KDError(f"job {job_dir.name} has no adapter yet (state: {jobs.job_status(job_dir)['state']})")
        pairs, system = read_examples(config.data)[: args.check_pairs], config.train.system  # what it was trained on
    elif args.base and args.adapter:
        base, adapter = ModelSpec(args.base), args.adapter
    else:
        raise KDError("export needs --job, or --base and --adapter")
    report = merge_adapter(base, adapter, args.merged, dtype=args.dtype, pairs=pairs, system=system,
                           tolerance=args.tolerance, overwrite=args.overwrite)
    print(f"merged model ({report.dtype}, {report.size_mb} MB) -> {report.out_dir}")
    print(f"check: {report.pairs} pairs, max |mean log-likelihood difference| {report.max_abs_diff:.2e} nats/token "
          f"(tolerance {report.tolerance:g})")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    project_help = "project folder; jobs live in PROJECT/jobs/ (default: the current folder)"
    train = sub.add_parser("train", help="train a student LoRA (sft, kd or mix) from a YAML config")
    train.add_argument("config", help="YAML: student, data (.jsonl), optional teacher, train settings")
    train.add_argument("--background", action="store_true", help="run as a background job and return at once")
    train.add_argument("--project", default=".", help=project_help)
    train.add_argument("--job-id", default=None, help="name of the job folder (default: date-time and a random suffix)")
    train.add_argument("--processes", type=positive_int, default=1,
                       help="data-parallel processes on this machine (torchrun; one GPU each, or CPU with gloo); "
                            "train.batch_size stays the batch of one step, split across them")
    code_flags(train)
    export = sub.add_parser("export", help="merge a trained LoRA into a 16/32-bit copy of its base, check it, save it")
    export.add_argument("--job", default=None, help="job id or folder: its student is the base, its adapter the LoRA")
    export.add_argument("--project", default=".", help=project_help)
    export.add_argument("--base", default=None, help="base model (without --job)")
    export.add_argument("--adapter", default=None, help="PEFT adapter folder (default with --job: the job's adapter)")
    export.add_argument("--merged", required=True, help="output folder for the merged model")
    export.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    export.add_argument("--tolerance", type=float, default=None, help="max mean log-likelihood difference, nats/token (default per dtype)")
    export.add_argument("--check-pairs", type=positive_int, default=8, help="training pairs the check scores (with --job)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    code_flags(export)
    group = sub.add_parser("jobs", help="background training jobs").add_subparsers(dest="jobs_command", required=True)
    for name, text in (("list", "every job with its state"), ("show", "a job's status, summary and log"),
                       ("stop", "stop-and-save: finish the step, save, exit"), ("cancel", "end the job now"),
                       ("resume", "continue from the last checkpoint, in the background")):
        p = group.add_parser(name, help=text)
        p.add_argument("--project", default=".", help=project_help)
        if name != "list":
            p.add_argument("job", help="job id (under PROJECT/jobs/) or job folder")
        if name == "resume":
            code_flags(p)
        if name in ("list", "show"):
            p.add_argument("--json", action="store_true", help="print the status as JSON")
        if name == "show":
            p.add_argument("--log", type=int, default=5, help="show the last N log rows (0: none)")
        if name == "stop":
            p.add_argument("--wait", type=float, default=0.0, help="wait up to this many seconds for the job to exit")
