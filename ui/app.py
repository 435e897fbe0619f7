"""Builds and launches the Gradio app."""

from __future__ import annotations

import kd_core  # noqa: F401  (offline defaults first)
import gradio as gr

from kd_core.demo import DEMO_DIR
from kd_core.errors import KDError
from kd_core.models import DEMO_MODELS, demo_spec
from ui import chat, curate, documents, expand, explore, train

DEMO_SCORES = DEMO_DIR / "demo_scores.parquet"


def build_app(project: str | None = None) -> gr.Blocks:
    with gr.Blocks(title="KD Studio") as app:
        gr.Markdown(
            "# KD Studio\n"
            "Move specialized knowledge from a fine-tuned model into another model, without the original data."
        )
        with gr.Tab("Models"):
            rows = [[role, demo_spec(role).label()] for role in ("base", "finetuned", "target")]
            gr.Dataframe(value=rows, headers=["role", "model"], label="Embedded demo models", interactive=False)
            gr.Markdown("\n".join(f"- `demo:{n}`: {d.description}" for n, d in DEMO_MODELS.items()))
        with gr.Tab("Expand"):
            expand.build(app, project)
        with gr.Tab("Explore"):
            explore.build(app, DEMO_SCORES)
        with gr.Tab("Documents"):
            documents.build(app, project)
        with gr.Tab("Curate"):
            curate.build(app, project)
        with gr.Tab("Train"):
            train.build(app, project)
        with gr.Tab("Chat"):
            chat.build(app, project)
    return app


def launch(host: str = "127.0.0.1", port: int = 7860, project: str | None = None) -> None:
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise KDError(f"refusing to listen on {host} without authentication; authentication is not configured yet")
    app = build_app(project)
    app.queue(default_concurrency_limit=1)
    app.launch(server_name=host, server_port=port, show_error=True)
