"""The shape every tab module has, and the helpers the tabs share.

A tab module provides ``build(ctx: Context) -> Tab``; the app calls it inside the tab's
``gr.Tab``.  `Context` is what the tab gets from the app: the Blocks (for page-load
events) and the folder the server was started on.  `Tab` is what the app gets back: the
tab's own project box, which the app's project bar sets when a folder is opened, and an
`on_open` hook that chains what the tab re-reads once that box holds the new folder.  So
every tab follows the project bar the same way, and the app wires them in one loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from kd_core.errors import KDError
from kd_core.project import Project

OnOpen = Callable[[Any], None]  # given the project bar's event (a Gradio dependency), chains on it


@dataclass(frozen=True)
class Context:
    """What a tab gets from the app."""

    app: gr.Blocks
    project: str | None = None  # the folder the server was started on (--project), if any

    @property
    def folder(self) -> str:
        """The first value of a tab's project box."""
        return str(self.project) if self.project else ""


def _nothing(event: Any) -> None:
    return None


@dataclass(frozen=True)
class Tab:
    """What a tab gives the app."""

    folder: gr.Textbox | None = None  # the tab's project box, which the project bar sets; None: no project
    on_open: OnOpen = _nothing


def reread(fn: Callable, inputs: list, outputs: list) -> OnOpen:
    """An `on_open` hook that runs `fn(*inputs) -> outputs` once the project bar has set
    the tab's box (only when opening succeeded), so the tab shows the folder at once
    rather than at its next timer tick."""

    def hook(event: Any) -> None:
        event.success(fn, inputs, outputs, show_progress="hidden")

    return hook


def has_project(project: str | None) -> bool:
    return bool(project and str(project).strip())


def project_dir(project: str | None) -> Path:
    """The project folder as an absolute path (relative to the server's folder, like --project)."""
    if not has_project(project):
        raise KDError("Project folder: empty (type the folder that holds the project; jobs go into its jobs/)")
    return Path(str(project).strip()).expanduser().resolve()


def project_at(project: str | None) -> Project:
    """The project folder's layout (kd_core.project.Project), the folder resolved as `project_dir` does."""
    return Project.at(project_dir(project))
