"""What every command module of the CLI shares: the command registry, the model flags
and the ModelSpecs they give, flag types."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from kd_core.runtime.progress import ProgressBar

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable:
    """Register a function as the command `name` ("expand", "jobs show", ...)."""
    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register


def model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", default=None, help="base model: hub id, local dir, .gguf file or demo:NAME (default: the demo)")
    p.add_argument("--finetuned", default=None, help="fine-tuned model (merged), or the base when --adapter is given")
    p.add_argument("--adapter", default=None, help="PEFT adapter directory for the fine-tuned model")
    p.add_argument("--target", default=None, help="target model to transfer into")
    p.add_argument("--dtype", default="auto", help="auto | float32 | bfloat16 | float16")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--4bit", dest="load_in_4bit", action="store_true", help="load in 4-bit nf4 (bitsandbytes)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow model repositories to run their own code")
    p.add_argument("--allow-pickle", action="store_true", help="allow pickle weights (.bin/.pt), which can run code when loaded")


def role_specs(args: argparse.Namespace, roles: tuple[str, ...] = ("base", "finetuned", "target"), adapter_to: str = "finetuned") -> dict:
    """ModelSpecs for the roles from CLI flags, the demo filling whatever is not given.
    `--adapter` goes on the `adapter_to` role: the fine-tuned model, or, for `eval`, the
    model evaluated (a trained student is `--role target --adapter JOB/adapter`)."""
    from dataclasses import replace

    from kd_core.demo.models import demo_spec
    from kd_core.models.loading import ModelSpec

    given_any = any(getattr(args, r, None) for r in ("base", "finetuned", "target")) or args.adapter
    specs = {}
    for role in roles:
        name = getattr(args, role, None)
        adapter = args.adapter if role == adapter_to else None
        if role == "finetuned" and name is None and adapter:
            name = args.base or demo_spec("base").name
        if name is None:
            if given_any and role != "target" and not adapter:
                continue
            spec = demo_spec(role) if adapter is None else replace(demo_spec(role), adapter=adapter)
        else:
            spec = ModelSpec(name, adapter=adapter)
        spec.dtype, spec.device = args.dtype, args.device
        spec.load_in_4bit, spec.trust_remote_code = args.load_in_4bit, args.trust_remote_code
        spec.allow_pickle = getattr(args, "allow_pickle", False)
        specs[role] = spec
    return specs


def code_flags(p: argparse.ArgumentParser) -> None:
    """--trust-remote-code and --allow-pickle for a command whose models come from a file
    (a job config, a recipe, a pd config): the file cannot turn them on, the command line can."""
    p.add_argument("--trust-remote-code", action="store_true",
                   help="let the models run their repositories' code (a config file cannot turn this on)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="let the models load pickle weights (.bin/.pt), which can run code (a config file cannot turn this on)")


def grant_model_flags(args: argparse.Namespace) -> None:
    """This process's --trust-remote-code and --allow-pickle, the only place they come from:
    specs read from files (run.yaml, pool meta, recipes, job configs) get these values, and
    the workers and jobs this process starts get the same flags (kd_core.models.loading.grant)."""
    from kd_core.models.loading import grant

    grant(trust_remote_code=bool(getattr(args, "trust_remote_code", False)),
          allow_pickle=bool(getattr(args, "allow_pickle", False)))


def id_list(text: str) -> str:
    if not all(part.strip().isdigit() for part in text.split(",") if part.strip()):
        raise argparse.ArgumentTypeError(f"expected prompt ids like 3,17,42, got {text!r}")
    return text


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {value})")
    return value


def echo(message: str) -> None:
    """A line of a command's output, flushed: a background run's log follows it live.
    A progress bar on the terminal is erased first (the next record draws it again)."""
    from kd_core.runtime.progress import clear_active

    clear_active()
    print(message, flush=True)


def progress_bar() -> ProgressBar:
    """The progress reporter of a command's long step, on stderr: a bar with done/total,
    rate and ETA on a terminal, plain lines (each stage, every 10%) in a log."""
    from kd_core.runtime.progress import ProgressBar

    return ProgressBar(sys.stderr)


def split_list(text: str | None) -> list[str] | None:
    """A comma-separated flag as a list (None when not given)."""
    return [s.strip() for s in text.split(",") if s.strip()] if text else None
