"""A long step's progress in a tab: a bar with its stage, done/total, percent, elapsed
time and ETA, from the progress records the CLI draws too (kd_core.runtime.progress).

A background run's record is read from its ``status.json`` (the stage text and the
``stages`` list the core writes), timed by the file's modification time: the rate, and
so the ETA, is the pace between the first record of the stage this server saw and the
latest one.  A tab re-reads the file only when it changed (ui.polling), so the figures
are those of the latest record, never extrapolated.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from kd_core.runtime.progress import ProgressClock, ProgressRecord, clock_text, rate_text

CLOCK = ProgressClock()  # one per server: every session watching a run sees the same record


def progress_html(record: ProgressRecord | None) -> str:
    """The record as an HTML block: the stage, a <progress> bar, done/total with percent,
    rate, elapsed and ETA; every text escaped. '' for no record."""
    if record is None:
        return ""
    stage = html.escape(record.stage)
    fraction = record.fraction
    if fraction is None:  # not counted: a bar that moves without saying how far
        bar = '<progress style="width:100%"></progress>'
        figures = []
    else:
        bar = f'<progress style="width:100%" max="{record.total}" value="{record.done}"></progress>'
        figures = [f"<b>{record.done}/{record.total}</b> ({fraction:.0%})"]
    if record.rate is not None:
        figures.append(html.escape(rate_text(record.rate)))
    if record.elapsed_s is not None and record.elapsed_s >= 1:
        figures.append(f"{clock_text(record.elapsed_s)} elapsed")
    if record.total is not None and record.done < record.total:
        eta = record.eta_s
        figures.append(f"ETA {clock_text(eta)}" if eta is not None else "ETA not known yet")
    line = " · ".join(figures)
    return (f'<div class="kd-progress">'
            f'<div class="kd-progress-stage">{stage}</div>{bar}'
            f'<div class="kd-progress-figures">{line}</div></div>')


def run_record(folder: str | Path, status: dict[str, Any]) -> ProgressRecord | None:
    """The progress record of the run in `folder` with its status (kd_core.runtime.runs.status);
    None when it is not working."""
    path = Path(folder) / "status.json"
    try:
        at = path.stat().st_mtime
    except OSError:
        at = None
    return CLOCK.from_status(status, key=str(path.resolve()), at=at)


def run_progress(folder: str | Path, status: dict[str, Any]) -> str:
    """`progress_html` of a run's record, after a blank line (so it follows Markdown as
    a block of its own); '' when the run is not working."""
    text = progress_html(run_record(folder, status))
    return f"\n\n{text}" if text else ""
