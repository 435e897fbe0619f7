"""Builds and launches the Gradio app."""

from __future__ import annotations

import kd_core  # noqa: F401  (offline defaults first)
import gradio as gr
from pathlib import Path

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
            # The projects this account may open, by name (kd_core.access.gate), read per session.
            picker = gr.Dropdown([], value=None, label="Projects", scale=2, elem_id="project-pick",
                                 info="the projects under the server's root you may open")
            bar = gr.Textbox(str(project) if project else "", label="Project folder: every tab opens it (a new folder is created)",
                             scale=4, elem_id="project-folder")
            open_btn = gr.Button("Open / create", scale=1, elem_id="project-open")
        said = gr.Markdown(elem_id="project-message")
        ctx = Context(app, str(project) if project else None)
        tabs = []
        for title, module in TABS:
            with gr.Tab(title):
                tabs.append(module.build(ctx))
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
            return [describe(summary).replace(summary["path"], shown), *[shown] * len(folders)]

        def listed() -> gr.Dropdown:
            g = access.gate()
            return gr.Dropdown(choices=g.projects(access.caller()) if g is not None else [], value=None)

        # The bar sets every tab's project box, then each tab re-reads what it shows; a
        # project picked from the list goes into the bar and opens the same way.
        opened = open_btn.click(on_open, [bar], [said, *folders])
        picked = picker.input(lambda name: name or gr.skip(), picker, bar).success(on_open, [bar], [said, *folders])
        for event in (opened, picked):
            for tab in tabs:
                tab.on_open(event)
        app.load(listed, None, picker)
        opened.success(listed, None, picker)  # a new project joins the list
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
