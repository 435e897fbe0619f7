"""What one server (or one command) lets a person's input cost: the limits in one place.

Every limit is a field of `Limits` with a default that suits a shared server, and a
help text that a server flag can show (``--limit-upload-mb`` ...: `Limits.add_arguments`
and `Limits.from_args` turn the fields into flags and back).  Core functions take a
``limits: Limits | None`` argument; None means `current()`, the process's limits, which
a server sets once at start with `set_current`.

Each check raises a `KDError` (an `InputFileError` for a file) with one line naming the
file or the request, what it holds and the limit it passes.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field, fields

from kd_core.errors import InputFileError, KDError


def _limit(default: int, help: str) -> int:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Limits:
    """The limits of one process (a server, a worker, a command)."""

    upload_mb: int = _limit(200, "largest file a person may upload, in MB")
    parquet_rows: int = _limit(200_000, "most rows a Parquet prompt file may hold (read from its footer before decoding)")
    parquet_uncompressed_mb: int = _limit(256, "most a Parquet prompt file may hold once decompressed, in MB (from its footer)")
    prompts: int = _limit(50_000, "most prompts one prompt file may hold")
    documents: int = _limit(2_000, "most documents one upload (all its files) may hold")
    max_new_tokens: int = _limit(1024, "most tokens one chat answer may generate (also capped by the model's context)")
    runs_at_once: int = _limit(2, "most background runs and training jobs working at once across the projects")
    queue_size: int = _limit(64, "most requests the server keeps waiting in its queue")

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise KDError(f"limit {f.name}: must be a whole number >= 1 (got {value!r})")

    @staticmethod
    def help(name: str) -> str:
        return next(f.metadata["help"] for f in fields(Limits) if f.name == name)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """One ``--limit-NAME`` flag per field (``--limit-upload-mb 200``), its default the field's."""
        for f in fields(cls):
            parser.add_argument(f"--limit-{f.name.replace('_', '-')}", dest=f"limit_{f.name}", type=int, default=f.default,
                                metavar="N", help=f"{f.metadata['help']} (default {f.default:,})")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Limits":
        """The limits the flags of `add_arguments` gave (a flag not defined keeps its default)."""
        return cls(**{f.name: getattr(args, f"limit_{f.name}", f.default) for f in fields(cls)})

    def replace(self, **changes: int) -> "Limits":
        return dataclasses.replace(self, **changes)


_CURRENT = Limits()


def current() -> Limits:
    """The process's limits (the defaults unless `set_current` changed them)."""
    return _CURRENT


def set_current(limits: Limits) -> None:
    """Set the process's limits (a server does this once, from its flags)."""
    global _CURRENT
    _CURRENT = limits


def check_count(name: str, count: int, limit: int, what: str, setting: str) -> None:
    """Refuse `count` `what` (prompts, rows, documents) over `limit`, naming `name` and the limit."""
    if count > limit:
        raise InputFileError(f"{name}: {count:,} {what} is more than the {limit:,} allowed "
                             f"(limit {setting}); split it or keep the part that matters")
