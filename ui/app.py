"""Builds and launches the Gradio app."""

from __future__ import annotations

import kd_core  # noqa: F401  (offline defaults first)
import gradio as gr

from kd_core.access import LOCAL_HOSTS, read_accounts
from kd_core.errors import KDError
from kd_core.project.summary import describe, open_project
from ui import chat, curate, documents, evaluate, expand, explore, models, train
from ui.errors import guarded
from ui.explore import DEMO_SCORES  # noqa: F401  (where the app's demo table has been looked up)
from ui.tab import Context

# Each tab module's build(ctx) -> Tab (ui.tab), in the order of the tabs.
TABS = [("Models", models), ("Expand", expand), ("Explore", explore), ("Documents", documents), ("Curate", curate),
        ("Train", train), ("Chat", chat), ("Evaluate", evaluate)]


def build_app(project: str | None = None) -> gr.Blocks:
    with gr.Blocks(title="KD Studio") as app:
        gr.Markdown(
            "# KD Studio\n"
            "Move specialized knowledge from a fine-tuned model into another model, without the original data."
        )
        with gr.Row():
            bar = gr.Textbox(str(project) if project else "", label="Project folder: every tab opens it (a new folder is created)",
                             scale=5, elem_id="project-folder")
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
            summary = open_project(path)
            return [describe(summary), *[summary["path"]] * len(folders)]

        # The bar sets every tab's project box, then each tab re-reads what it shows.
        opened = open_btn.click(on_open, [bar], [said, *folders])
        for tab in tabs:
            tab.on_open(opened)
    return app


def launch(host: str = "127.0.0.1", port: int = 7860, project: str | None = None, auth_file: str | None = None,
           max_upload_mb: int = 200) -> None:
    """Serve the app.  Only this machine may connect unless an accounts file is given
    (kd_core.access): listening on another address without one is refused."""
    accounts = read_accounts(auth_file) if auth_file else None
    if host not in LOCAL_HOSTS and not accounts:
        raise KDError(f"refusing to listen on {host} without authentication: give --auth-file FILE (user:password lines, chmod 600)")
    app = build_app(project)
    # One event of a kind at a time across every browser session: two sessions never load
    # two copies of a model or start two runs of a step at once (runs and jobs also lock).
    app.queue(default_concurrency_limit=1)
    app.launch(server_name=host, server_port=port, show_error=True, auth=accounts,
               auth_message="KD Studio: sign in with an account of the server's --auth-file" if accounts else None,
               max_file_size=f"{max_upload_mb}mb")
