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
from ui import access

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


def project_dir(project: str | None, action: str = "open") -> Path:
    """The project folder as an absolute path: confined by the server's gate (a folder
    under its projects root that the signed-in account may open; kd_core.access.gate);
    without a gate (the tabs' functions called from Python), relative to the working folder."""
    if not has_project(project):
        raise KDError("Project folder: empty (pick or type a project under the projects root)")
    confined = access.project(project, action)
    return confined if confined is not None else Path(str(project).strip()).expanduser().resolve()


def project_at(project: str | None) -> Project:
    """The project folder's layout (kd_core.project.Project), the folder resolved as `project_dir` does."""
    return Project.at(project_dir(project))


def input_file(text: str | None, project: str | None = None) -> Path:
    """A file a page names to be read (documents, questions, training data, a pool):
    inside a project the account may open (relative: inside `project`) when served."""
    g = access.gate()
    base = project_dir(project) if has_project(project) else None
    if g is None:
        p = Path(str(text or "").strip()).expanduser()
        return (base / p if base and not p.is_absolute() else p).resolve()
    return g.file(access.caller(), text, base)


def model_name(text: str | None, project: str | None = None) -> str:
    """A model a page names (demo:NAME, hub id, folder, .gguf, adapter): confined to the
    server's models folders and the account's projects when served."""
    g = access.gate()
    if g is None or not str(text or "").strip():
        return str(text or "").strip()  # empty: the caller's default (the demo's model for the role)
    return g.model(access.caller(), text, project_dir(project) if has_project(project) else None)
