"""A tab that shows a project folder re-reads it on a gr.Timer, only when it changed.

Every tab's timer runs from page load, hidden tab or not: switching timers on and off
from the tabs' select events lost the switch when a tab was clicked while the page's
load events were still queued (the timer then never ticked, and a running job's page
froze).  So ticks must be cheap: `changes_only` compares a fingerprint of the files a
tab shows (their mtimes and sizes) and the tab's inputs with the last tick's, and
skips every output when nothing moved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

import gradio as gr

from kd_core.errors import KDError


def stamp(paths: Iterable[Path]) -> tuple:
    """(mtime, size) of each path; None for one that does not exist."""
    out: list[Any] = []
    for p in paths:
        try:
            st = Path(p).stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def changes_only(read: Callable[..., list], fingerprint: Callable[..., Any], n_outputs: int) -> Callable:
    """A tick handler over (last fingerprint, *inputs) -> (*outputs, fingerprint): `read`
    runs only when the inputs or `fingerprint(*inputs)` differ from the last tick's."""

    def tick(last: Any, *inputs: Any) -> list:
        try:
            now = (list(inputs), fingerprint(*inputs))
        except (KDError, OSError):
            now = None  # let `read` say what is wrong
        if now is not None and now == last:
            return [*(gr.skip() for _ in range(n_outputs)), last]
        return [*read(*inputs), now]

    return tick
