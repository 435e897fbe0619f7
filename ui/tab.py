"""The shape every tab module has, and the helpers the tabs share.

A tab module provides ``build(ctx: Context) -> Tab``; the app calls it inside the tab's
``gr.Tab``.  `Context` is what the tab gets from the app: the Blocks (for page-load
events) and the folder the server was started on.  `Tab` is what the app gets back: the
tab's own project box (`project_box`: hidden, the project bar at the top of the page is
the one place a project is picked), which the bar sets when a project is opened, and an
`on_open` hook that chains what the tab re-reads once that box holds the new folder.  So
every tab follows the project bar the same way, and the app wires them in one loop.

Wherever a tab needs something the project holds (an adapter, a seed file, a question
set), it offers the project's items by name with a `picker` (kd_core.project.catalog
lists them), whose "other (type a path)" choice keeps a typed path possible; what is
picked is confined like a typed path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # What another part of the page may chain on one of its own events in this tab, by
    # name: (fn, inputs, outputs); e.g. the Chat tab's "preset" for the Start here panel.
    actions: dict[str, tuple[Callable, list, list]] = field(default_factory=dict)


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


# ---------------------------------------------------------------------------
# The project a tab works on, and the project's items offered by name


def project_box(ctx: Context, elem_id: str) -> gr.Textbox:
    """The tab's project: a hidden box that the app's project bar sets (the bar is the
    one place a project is picked; ui.app), holding the server's project at first.  A
    tab passes it as an input to whatever reads the project, and returns it as
    ``Tab(folder=...)`` so the bar reaches it."""
    return gr.Textbox(value=ctx.folder, visible=False, elem_id=elem_id)


OTHER = "other (type a path)"  # the picker's last choice: the typed path below it is used
NONE = "none"  # an optional picker's first choice: nothing


@dataclass(frozen=True)
class Picker:
    """A dropdown of a project's items by name, with an "other (type a path)" choice that
    shows a textbox; `picked` turns the two values into the path (or reference) chosen,
    which the tab still confines (`input_file`, `model_name`) as it would a typed one."""

    choice: gr.Dropdown
    typed: gr.Textbox

    @property
    def inputs(self) -> list:
        return [self.choice, self.typed]


def show_typed(choice: str | None) -> Any:
    """The picker's path box is shown only while "other" is chosen."""
    return gr.Textbox(visible=choice == OTHER)


def picker(label: str, elem_id: str, info: str = "", typed: str = "", optional: bool = False,
           choices: list | None = None, value: str | None = None, **kw: Any) -> Picker:
    """A picker whose choices a tab fills from the project (`picker_update`); until then,
    it offers `choices` or only "other" (with `typed` in its box when given) and, when
    `optional`, "none"."""
    first = [NONE] if optional else []
    if value is None:
        value = OTHER if typed else (NONE if optional else None)
    choices = choices if choices is not None else [*first, OTHER]
    choice = gr.Dropdown(choices, value=value, label=label, info=info, elem_id=elem_id, **kw)
    box = gr.Textbox(typed, label=f"{label}: a path", visible=bool(typed), elem_id=f"{elem_id}-path")
    choice.change(show_typed, [choice], [box], show_progress="hidden")
    return Picker(choice, box)


def picked(choice: str | None, typed: str | None) -> str:
    """What a picker's two values name: the chosen item, the typed path under "other", or "" for none."""
    if choice == OTHER:
        return str(typed or "").strip()
    if choice in (None, NONE):
        return ""
    return str(choice)


def picker_update(items: list[tuple[str, str]], current: str | None, optional: bool = False,
                  default: str | None = None) -> Any:
    """The picker's choices for a project's `items` (label, value): the current choice is
    kept while it is still offered, else `default` (when offered), else the first item
    (or "none" / "other" when there is none)."""
    first = [(NONE, NONE)] if optional else []
    choices = [*first, *items, (OTHER, OTHER)]
    values = [v for _, v in choices]
    if current in values and current not in (NONE, OTHER):
        value = current
    elif default in values:
        value = default
    elif current == OTHER:
        value = OTHER
    else:
        value = items[0][1] if items and not optional else (NONE if optional else OTHER)
    return gr.Dropdown(choices=choices, value=value)
