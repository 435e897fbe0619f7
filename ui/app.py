"""Builds and launches the Gradio app."""

from __future__ import annotations

import kd_core  # noqa: F401  (offline defaults first)
import gradio as gr
from pathlib import Path
from typing import Callable

from kd_core.access import LOCAL_HOSTS
from kd_core.access.accounts import read_accounts
from kd_core.access.gate import Gate
from kd_core.access.roles import LOCAL
from kd_core.errors import KDError
from kd_core.limits import set_current as set_limits
from kd_core.runtime import runs
from kd_core.models import chat as chat_models
from kd_core.project.summary import describe, open_project
from ui import access, chat, curate, documents, evaluate, expand, explore, models, train
from ui.server import ServerSettings, guard_app
from ui.errors import guarded
from ui.explore import DEMO_SCORES  # noqa: F401  (where the app's demo table has been looked up)
from ui.tab import Context


def gradio_upload_dir() -> str:
    from gradio.utils import get_upload_folder

    return get_upload_folder()

# Each tab module's build(ctx) -> Tab (ui.tab), in the order of the tabs.
TABS = [("Models", models), ("Expand", expand), ("Explore", explore), ("Documents", documents), ("Curate", curate),
        ("Train", train), ("Chat", chat), ("Evaluate", evaluate)]


START_HERE = (
    "The project bar above picks the project every tab works on (the demo project holds a finished "
    "transfer: its pool, trained students and their evaluations). Three things to do with it:")
# Each use of the Start here panel: (the tab it happens in, the button's words).
START_USES_TABS = {
    "explore": ("Explore", "1. Which prompts carry knowledge? (Explore: the gap scatter)"),
    "curate": ("Curate", "2. Curate the prompts (Curate: accept, reject, edit)"),
    "compare": ("Chat", "3. Compare teacher, target before and transferred student (Chat)"),
}
START_USES = {use: text for use, (_, text) in START_USES_TABS.items()}


def select_tab(tab_id: str) -> Callable[[], gr.Tabs]:
    """An event function that shows the tab `tab_id` (a view: it changes nothing)."""

    def select() -> gr.Tabs:
        return gr.Tabs(selected=tab_id)

    return select


def opened_name(project: str | None, g: Gate | None) -> str | None:
    """The project as the bar's list names it: relative to the server's projects root."""
    if not project or g is None:
        return project or None
    try:
        return str(Path(project).resolve().relative_to(g.root))
    except ValueError:
        return str(project)


def build_app(project: str | None = None) -> gr.Blocks:
    """The app; every event checks its declared action against the caller's role, and once
    the server set its gate (ui.access.serve) every path a page sends is confined to its root."""
    # Uploads and files handed to browsers are deleted after a day (checked hourly).
    with gr.Blocks(title="KD Studio", delete_cache=(3600, 86400)) as app:
        gr.Markdown(
            "# KD Studio\n"
            "Move specialized knowledge from a fine-tuned model into another model, without the original data."
        )
        with gr.Row():
            # The projects this account may open, by name (kd_core.access.gate), read per session:
            # the one place a project is picked; every tab follows it.
            picker = gr.Dropdown([], value=None, label="Project: every tab opens it", scale=3, elem_id="project-pick",
                                 info="the projects under the server's root you may open")
            bar = gr.Textbox("", label="New project", scale=3, elem_id="project-folder",
                             placeholder="a name under the projects root, e.g. my-transfer (an existing one opens)")
            open_btn = gr.Button("Create / open", scale=1, elem_id="project-open")
        said = gr.Markdown(elem_id="project-message")
        with gr.Accordion("Start here", open=True, elem_id="start-here"):
            gr.Markdown(START_HERE)
            with gr.Row():
                go = {use: gr.Button(text, elem_id=f"start-{use}", size="sm") for use, text in START_USES.items()}
        ctx = Context(app, str(project) if project else None)
        tabs = []
        with gr.Tabs() as tab_row:
            for title, module in TABS:
                with gr.Tab(title, id=title.lower(), elem_id=f"tab-{title.lower()}"):
                    tabs.append(module.build(ctx))
        by_title = dict(zip((t for t, _ in TABS), tabs))
        folders = [tab.folder for tab in tabs if tab.folder is not None]

        @guarded
        def on_open(path: str):
            g = access.gate()
            if g is not None:  # opening an existing project is "open"; making a new one is "create"
                try:
                    path = str(g.project(access.caller(), path, "open"))
                except KDError:
                    path = str(g.project(access.caller(), path, "create"))
            summary = open_project(path)
            shown = summary["path"] if g is None else str(Path(summary["path"]).relative_to(g.root))
            return [describe(summary).replace(summary["path"], shown), listed(shown), *[shown] * len(folders)]

        def listed(current: str | None = None) -> gr.Dropdown:
            """The projects the account may open (a new one joins the list); the one open
            (the server's, on a page load) selected."""
            g = access.gate()
            names = g.projects(access.caller()) if g is not None else []
            shown = current or opened_name(ctx.project, g)
            if shown and shown not in names:  # a project inside a folder (team-a/run-2), opened: listed too
                try:
                    if g is not None:
                        g.project(access.caller(), shown, "open")  # only one this account may open
                    names = sorted([*names, shown])
                except KDError:
                    shown = None
            return gr.Dropdown(choices=names, value=shown)

        # The bar sets every tab's project box, then each tab re-reads what it shows; a
        # new name typed in the bar opens (or creates) the same way, and joins the list.
        opened = open_btn.click(on_open, [bar], [said, picker, *folders])
        picked = picker.input(on_open, [picker], [said, picker, *folders])
        for event in (opened, picked):
            for tab in tabs:
                tab.on_open(event)
        app.load(listed, None, picker)
        # Start here: each use one click from where it happens; comparing also fills Chat's three slots.
        for use, (title, _) in START_USES_TABS.items():
            clicked = go[use].click(select_tab(title.lower()), None, tab_row)
            action = by_title[title].actions.get("preset") if use == "compare" else None
            if action is not None:
                clicked.then(*action)
    app.kd_events = access.install(app)
    return app


def launch(settings: ServerSettings) -> None:
    """Serve the app (ui.server: the projects root, accounts and roles, sign-in back-off,
    Host check, TLS).  Only this machine may connect unless an accounts file is given."""
    accounts = read_accounts(settings.auth_file) if settings.auth_file else None
    if settings.host not in LOCAL_HOSTS and not accounts:
        raise KDError(f"refusing to listen on {settings.host} without authentication: give --auth-file FILE "
                      "(write it with `kd-studio users add NAME --auth-file FILE`)")
    gate = Gate.create(settings.projects_root, tuple(settings.models_dirs), upload_dir=gradio_upload_dir())
    # The server's limits for every core function it calls, and models loaded for a page
    # only after the pre-flight says they fit (kd_core.models.preflight.load_checked).
    set_limits(settings.limits)
    runs.set_projects_root(gate.root)  # runs at once are counted across every project under it
    chat_models.MODELS.check_memory = True
    project = str(gate.project(LOCAL, settings.project, "create")) if settings.project else None
    if project:
        open_project(project)
    access.serve(gate, accounts)
    app = build_app(project)
    # One event of a kind at a time across every browser session: two sessions never load
    # two copies of a model or start two runs of a step at once (runs and jobs also lock).
    app.queue(default_concurrency_limit=1, max_size=settings.limits.queue_size)
    guard_app(app, settings, gate, accounts)
