"""Progress of a long step, for people: one record (stage, done of total, elapsed, ETA),
drawn as a bar on a terminal, written as plain lines into a log, and shown in the UI.

The record comes from what the steps already report, not a second protocol: the
progress callbacks `(done, total, stage)` that scoring, generation and expansion call,
a background run's ``status.json`` (its ``stage`` text, "round 1: score base: 48/120",
and its ``stages`` list), and a training job's steps.  The rate is measured from the
records themselves (done since the stage's first record, over the time since), so the
ETA of a stage says how long the rest takes at the pace seen so far.

Only the standard library here: `kd-studio --help` imports this without torch.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

# "label: 12/40" or "label 12/40" at the end of a status's stage text (kd_core's writers
# all end their counted stages so: expansion, evaluation, a recipe's expand stage).
_COUNTED = re.compile(r"^(?P<label>.*?)[:\s]\s*(?P<done>\d+)\s*/\s*(?P<total>\d+)\s*$")


@dataclass
class ProgressRecord:
    """Where a stage stands: `done` of `total` (None: not counted), the stage's first
    record at `started` with `first_done` done, this one at `updated` (epoch seconds).
    `given_eta_s` is an ETA the step computed itself (a training job's); otherwise the
    ETA comes from the rate seen since the stage's first record. `timed` is False for a
    count of unequal parts (the stages of a run), whose pace says nothing about the rest."""

    stage: str
    done: int
    total: int | None = None
    started: float | None = None
    updated: float | None = None
    first_done: int = 0
    given_eta_s: float | None = None
    timed: bool = True

    @property
    def elapsed_s(self) -> float | None:
        if self.started is None or self.updated is None:
            return None
        return max(0.0, self.updated - self.started)

    @property
    def rate(self) -> float | None:
        """Units done per second since the stage's first record; None before any was timed."""
        elapsed, moved = self.elapsed_s, self.done - self.first_done
        if not self.timed or elapsed is None or elapsed <= 0 or moved <= 0:
            return None
        return moved / elapsed

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace seen so far (0 when done); None when it cannot be told."""
        if self.total is None:
            return None
        if self.done >= self.total:
            return 0.0
        if self.given_eta_s is not None:
            return max(0.0, float(self.given_eta_s))
        rate = self.rate
        return None if rate is None else (self.total - self.done) / rate

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, max(0.0, self.done / self.total))

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "done": self.done, "total": self.total, "elapsed_s": self.elapsed_s,
                "rate": self.rate, "eta_s": self.eta_s}

    def line(self) -> str:
        """One plain line: 'score base: 48/120 (40%) 3.1/s, 0:00:15 elapsed, ETA 0:00:23'."""
        parts = [f"{self.stage}: {self.done}/{self.total}" if self.total is not None else self.stage]
        if self.fraction is not None:
            parts[0] += f" ({self.fraction:.0%})"
        timing = []
        if self.rate is not None:
            timing.append(rate_text(self.rate))
        if self.elapsed_s is not None and self.elapsed_s >= 1:
            timing.append(f"{clock_text(self.elapsed_s)} elapsed")
        if self.eta_s is not None and self.total is not None and self.done < self.total:
            timing.append(f"ETA {clock_text(self.eta_s)}")
        return " ".join(parts + ([", ".join(timing)] if timing else []))


def clock_text(seconds: float) -> str:
    """h:mm:ss, as format_log_row writes a training job's ETA."""
    s = int(round(seconds))
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


def rate_text(rate: float) -> str:
    return f"{rate:.1f}/s" if rate >= 0.95 else f"{1 / rate:.1f} s each"


def parse_stage(text: str | None) -> tuple[str, int, int] | None:
    """(label, done, total) from a status's stage text ending in "done/total"; None otherwise."""
    m = _COUNTED.match(text or "")
    if not m:
        return None
    return m["label"].strip().rstrip(":").strip(), int(m["done"]), int(m["total"])


class ProgressClock:
    """Records from progress reports, timed: remembers each key's stage, when it was first
    seen and how much was done then, so a record's rate and ETA cover the whole stage.
    A key is one thing in progress (a run folder, a command); thread-safe (the UI's
    handlers run in threads)."""

    def __init__(self) -> None:
        self._first: dict[str, tuple[str, int | None, int, float]] = {}
        self._lock = threading.Lock()

    def record(self, stage: str, done: int, total: int | None = None, at: float | None = None, key: str = "",
               given_eta_s: float | None = None, timed: bool = True) -> ProgressRecord:
        at = time.time() if at is None else at
        with self._lock:
            first = self._first.get(key)
            # A new stage, a new total or a count that went back (a restarted run) starts the clock again.
            if first is None or first[0] != stage or first[1] != total or done < first[2]:
                first = (stage, total, done, at)
                self._first[key] = first
        return ProgressRecord(stage, done, total, started=first[3], updated=at, first_done=first[2],
                              given_eta_s=given_eta_s, timed=timed)

    def from_status(self, status: dict[str, Any], key: str = "", at: float | None = None) -> ProgressRecord | None:
        """The record of a background run's status (kd_core.runtime.runs): its stage text's
        "done/total" when it has one, else the stage's place in the run's `stages`, else the
        stage alone; None when the run is not working."""
        if status.get("state") not in ("running", "queued"):
            with self._lock:
                self._first.pop(key, None)
            return None
        text = str(status.get("stage") or ("waiting for the device" if status.get("state") == "queued" else "starting"))
        counted = parse_stage(text)
        if counted:
            return self.record(counted[0], counted[1], counted[2], at=at, key=key)
        stages = [str(s) for s in status.get("stages") or []]
        head = text.split(" · ")[0].split(":")[0].strip()  # "expand · ...": the recipe's stage
        if head in stages and len(stages) > 1:
            n = stages.index(head)
            return self.record(f"stage {n + 1} of {len(stages)}: {text}", n, len(stages), at=at, key=key, timed=False)
        return self.record(text, 0, None, at=at, key=key)


# ---------------------------------------------------------------------------
# The CLI's reporter

_ACTIVE: list["ProgressBar"] = []  # the bar drawn on the terminal now, if any (clear_active)


def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


class ProgressBar:
    """A progress callback `(done, total, stage="")` for a command: on a terminal one line
    redrawn in place (stage, bar, done/total, percent, rate, ETA); otherwise plain lines,
    one when a stage starts, one at every `every_pct` percent and one when it ends, so a
    log stays readable."""

    def __init__(self, stream: IO[str] | None = None, tty: bool | None = None, every_pct: int = 10, width: int = 24,
                 redraw_s: float = 0.1, indent: str = "    ") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = is_terminal(self.stream) if tty is None else tty
        self.every_pct, self.width, self.redraw_s, self.indent = every_pct, width, redraw_s, indent
        self.clock = ProgressClock()
        self._stage: str | None = None
        self._step: int = -1  # the last every_pct step written (plain lines)
        self._drawn = ""  # the bar line now on the terminal
        self._drawn_at = 0.0
        self._last: ProgressRecord | None = None
        self._lock = threading.RLock()

    def __call__(self, done: int, total: int | None, stage: str = "") -> None:
        self.show(self.clock.record(stage, done, total))

    def show(self, record: ProgressRecord) -> None:
        with self._lock:
            new_stage = record.stage != self._stage
            if self.tty:
                self._draw(record, new_stage)
            else:
                self._plain(record, new_stage)
            self._stage, self._last = record.stage, record

    def _plain(self, record: ProgressRecord, new_stage: bool) -> None:
        fraction = record.fraction
        step = int(fraction * 100) // self.every_pct if fraction is not None else 0
        if record.total is not None and record.done >= record.total:
            step = sys.maxsize  # its end, whatever every_pct is
        if new_stage or step > self._step:  # a stage's start, each every_pct step, its end
            self.stream.write(f"{self.indent}{record.line()}\n")
            self.stream.flush()
            self._step = step

    def bar_text(self, record: ProgressRecord) -> str:
        fraction = record.fraction
        if fraction is None:
            elapsed = record.elapsed_s
            return f"{record.stage}" + (f" ... {clock_text(elapsed)}" if elapsed and elapsed >= 1 else " ...")
        filled = int(round(fraction * self.width))
        head = f"{record.stage} |{'#' * filled}{'-' * (self.width - filled)}| {record.done}/{record.total} {fraction:4.0%}"
        tail = []
        if record.rate is not None:
            tail.append(rate_text(record.rate))
        eta = record.eta_s
        if record.done < (record.total or 0):
            tail.append(f"ETA {clock_text(eta)}" if eta is not None else "ETA ?")
        elif record.elapsed_s is not None:
            tail.append(f"in {clock_text(record.elapsed_s)}")
        return head + ("  " + "  ".join(tail) if tail else "")

    def _draw(self, record: ProgressRecord, new_stage: bool) -> None:
        now = time.monotonic()
        finished = record.total is not None and record.done >= record.total
        if not (new_stage or finished or now - self._drawn_at >= self.redraw_s):
            return
        if new_stage and self._drawn:
            self.stream.write("\n")  # the finished stage's line stays above the new one
        text = self.indent + self.bar_text(record)
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self._drawn, self._drawn_at = text, now
        if self not in _ACTIVE:
            _ACTIVE.append(self)

    def clear(self) -> None:
        """Erase the bar line (a terminal only), so another line can be printed; the next
        record draws it again."""
        with self._lock:
            if self.tty and self._drawn:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._drawn = ""
                self._stage = None  # drawn anew, without a blank line first

    def close(self) -> None:
        """End the bar's line (the last state stays on the terminal)."""
        with self._lock:
            if self.tty and self._drawn:
                self.stream.write("\n")
                self.stream.flush()
            self._drawn, self._stage = "", None
            if self in _ACTIVE:
                _ACTIVE.remove(self)

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def clear_active() -> None:
    """Erase the progress bar drawn on the terminal, if any, before a line is printed."""
    for bar in list(_ACTIVE):
        bar.clear()


@contextmanager
def following(folder: str | Path, bar: ProgressBar, every_s: float = 0.5) -> Iterator[ProgressBar]:
    """Show a background run's progress records (its ``status.json``) on `bar` while the
    ``with`` block runs the step in this process: `kd-studio pd`, `run`, `eval --project`,
    whose core functions record their progress only there."""
    from kd_core.data.files import read_json

    path = Path(folder) / "status.json"
    stop = threading.Event()

    def watch() -> None:
        seen = None
        while not stop.wait(every_s):
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if mtime == seen:
                continue
            seen = mtime
            record = bar.clock.from_status(read_json(path), key=str(path), at=mtime)
            if record is not None:
                bar.show(record)

    thread = threading.Thread(target=watch, name="progress", daemon=True)
    thread.start()
    try:
        yield bar
    finally:
        stop.set()
        thread.join(timeout=2 * every_s + 1)
        bar.close()
