"""Documents tab: prompt distillation from the browser.

Upload documents (chunked at once with the model's tokenizer: `add_documents`), then
run stages of the recipe as `kd-studio pd` does, in a process of its own
(`kd_core.distill.pipeline.start_pd`): "Generate questions" runs the questions stage,
"Answer, train, evaluate" the rest.  The questions land in the project's prompt pool,
so the Curate tab (source = chunk id) accepts, rejects and edits them; a rejected
question is not trained on, an edited one is answered again.  Everything shown is
re-read from the project folder (``documents/``, ``pool.sqlite``, ``pd/status.json``,
``pd/results.json``), so a reload or a server restart re-attaches to a running stage.

The module-level functions are the tab without Gradio; `build` connects them to widgets.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import gradio as gr
import pandas as pd

from kd_core.data.documents import read_documents
from kd_core.data.files import read_json
from kd_core.distill import config as pd_config, pipeline as pd_core, stages as pd_stages
from kd_core.errors import KDError
from kd_core.runtime.runs import STATUS, status_markdown
from kd_core.tuneshift.pool import Pool
from ui.access import needs
from ui.errors import guarded
from ui.polling import changes_only, stamp
from ui.progress import run_progress
from ui.tab import Context, Tab, has_project, input_file, model_name, picked, picker, picker_update, project_at, project_box, project_dir, reread

DOC_COLUMNS = ["id", "title", "characters", "chunks", "source"]
CHUNK_COLUMNS = ["chunk", "tokens", "questions", "text"]
RESULT_COLUMNS = ["system", "accuracy", "correct", "n", "eval wall s"]
POLL_S = 2.0
PREVIEW_CHARS = 160
NO_PROJECT = "No project open: pick one in the project bar at the top, or make a new one there."
NO_DOCUMENTS = ("No documents in this project yet: upload .txt or .md files (or pick the demo world's below) and press "
                "**Add documents**, then **Generate questions**.")
# Documents a page can add by name, without a file at hand (kd_core.data.references).
NAMED = [("the demo world's documents (demo:documents)", "demo:documents")]


def named_files(project: str | None, choice: str | None, typed: str | None) -> list[str]:
    """The documents picked by name: a reference (the demo's), or a typed path confined to the project."""
    from kd_core.data.references import is_reference, resolve_file

    name = picked(choice, typed)
    if not name:
        return []
    return [resolve_file(name) if is_reference(name) else str(input_file(name, project))]


def project_config(project: str | None) -> pd_config.PDConfig:
    """The project's saved recipe (pd/config.yaml); a new project starts from the demo
    recipe (recipes/demo-prompt-distillation.yaml), its documents left out."""
    path = pd_config.pd_config_path(project_dir(project)) if has_project(project) else None
    config = pd_config.load_pd_config(path if path is not None and path.exists() else pd_config.DEMO_RECIPE)
    if path is None or not path.exists():
        config.documents = []  # the tab's uploads are the documents
    return config


SETTINGS = ("chunk_tokens", "per_call", "calls", "temperature", "answer_tokens")


def _settings(project: str | None, model: str | None, chunk_tokens: Any, per_call: Any, calls: Any, temperature: Any,
              answer_tokens: Any) -> pd_config.PDConfig:
    """The project's config with the tab's settings; a bad value is named by its label."""
    config = project_config(project)
    if model and model.strip():
        config.model = model_name(model, project)  # confined when served
    values = {}
    for name, value in zip(SETTINGS, (chunk_tokens, per_call, calls, temperature, answer_tokens)):
        try:
            number = float(value)
            values[name] = number if name == "temperature" else int(number)
        except (TypeError, ValueError):
            raise KDError(f"{name.replace('_', ' ')}: {value!r} is not a number") from None
    config.chunk_tokens = values["chunk_tokens"]
    config.questions = replace(config.questions, per_call=values["per_call"], calls=values["calls"], temperature=values["temperature"])
    config.teacher = replace(config.teacher, max_new_tokens=values["answer_tokens"])
    config.validate()
    return config


def shown_settings(config: pd_config.PDConfig) -> list[Any]:
    """The widgets' values for a config (model, then SETTINGS)."""
    name = config.model if isinstance(config.model, str) else config.model.name
    return [name, config.chunk_tokens, config.questions.per_call, config.questions.calls, config.questions.temperature,
            config.teacher.max_new_tokens]


def add_uploaded(project: str | None, files: Sequence[str] | None, model: str | None, chunk_tokens: Any,
                 per_call: Any = 5, calls: Any = 6, temperature: Any = 1.0, answer_tokens: Any = 64) -> str:
    """Read the uploaded files, chunk them into the project; a bad file changes nothing."""
    if not files:
        raise KDError("Documents: no file chosen (upload .txt, .md or .jsonl files)")
    config = _settings(project, model, chunk_tokens, per_call, calls, temperature, answer_tokens)
    docs = read_documents([str(f) for f in files])  # every file checked before anything is written
    root = project_dir(project)
    before = len(pd_stages.load_chunks(root))
    lines: list[str] = []
    chunks = pd_stages.add_documents(root, docs, config, log=lines.append)
    pd_config.save_pd_config(root, config)
    return f"{len(docs)} document(s) read; {len(chunks) - before} new chunk(s). " + " ".join(lines)


def read_view(project: str | None) -> dict[str, Any]:
    """Documents, chunks with their live question counts, the run status and the results table."""
    empty = {"docs": pd.DataFrame(columns=DOC_COLUMNS), "chunks": pd.DataFrame(columns=CHUNK_COLUMNS),
             "status": NO_PROJECT, "results": pd.DataFrame(columns=RESULT_COLUMNS), "running": False}
    if not has_project(project):
        return empty
    root = project_dir(project)
    chunks = pd_stages.load_chunks(root)
    docs = pd_stages.load_documents(root)
    per_doc: dict[str, int] = {}
    for c in chunks:
        per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
    counts: dict[str, int] = {}
    if project_at(project).pool.exists():
        with Pool(root, create=False) as pool:
            for row in pd_stages.live_questions(pool, chunks):
                counts[row.source] = counts.get(row.source, 0) + 1
    doc_rows = [[d.id, d.title, len(d.text), per_doc.get(d.id, 0), Path(d.source.split(",")[0]).name] for d in docs]
    chunk_rows = [[c.id, c.tokens, counts.get(c.id, 0), c.text[:PREVIEW_CHARS] + ("..." if len(c.text) > PREVIEW_CHARS else "")]
                  for c in chunks]
    status = pd_core.pd_status(root)
    return {
        "docs": pd.DataFrame(doc_rows, columns=DOC_COLUMNS),
        "chunks": pd.DataFrame(chunk_rows, columns=CHUNK_COLUMNS),
        "status": status_text(status, sum(counts.values()), len(chunks), project_at(project).run_dir("pd")),
        "results": results_table(root),
        "running": status.get("state") in pd_config.RUN_ACTIVE,
    }


def status_text(status: dict[str, Any], questions: int, chunks: int, folder: Path | None = None) -> str:
    """Counts, the run's state, and while it works its progress bar (from `folder`'s status.json)."""
    if not chunks:
        return NO_DOCUMENTS
    head = f"**{questions} questions** (not rejected) over {chunks} chunks. "
    stages = ", ".join(status.get("stages") or [])
    said = head + status_markdown(f"Run ({stages})", status, "No stage has run yet.")
    return said + (run_progress(folder, status) if folder is not None else "")


def results_table(root: Path) -> pd.DataFrame:
    report = read_json(pd_config.pd_results_path(root))
    if not report:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    rows = [[s, f"{r['accuracy']:.1%}", r["correct"], r["n"], r["wall_s"]] for s, r in report["results"].items()]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def start(project: str | None, stages: Sequence[str], model: str | None, chunk_tokens: Any, per_call: Any, calls: Any,
          temperature: Any, answer_tokens: Any = 64) -> dict[str, Any]:
    """Run `stages` in the background, as `kd-studio pd --stages ...` would."""
    root = project_dir(project)
    if not pd_stages.load_chunks(root):
        raise KDError(f"{root} holds no documents yet: upload some first")
    config = _settings(project, model, chunk_tokens, per_call, calls, temperature, answer_tokens)
    return pd_core.start_pd(root, config, stages)


def command(project: str | None, stages: Sequence[str]) -> str:
    """What a start runs, for people who would rather use a shell."""
    root = project_dir(project) if has_project(project) else Path("PROJECT")
    return pd_core.pd_command(root, stages)  # each argument quoted


# ---------------------------------------------------------------------------
# Widgets


QUESTIONS = ["questions"]
REST = ["answers", "train", "evaluate"]


def watched(project: str | None) -> tuple:
    """What the view is read from: documents, the pool, the run's files, and whether its process lives."""
    place = project_at(project)
    pool = place.pool
    return (stamp([place.documents_dir, *sorted(place.documents_dir.glob("*")), pool, pool.with_name(pool.name + "-wal"),
                   place.run_dir("pd") / STATUS, pd_config.pd_results_path(place)]), pd_core.pd_status(place.root).get("state"))


def build(ctx: Context) -> Tab:
    """The tab's widgets; its timer re-reads the project folder when it changes."""
    app, initial = ctx.app, shown_settings(project_config(None))
    folder = project_box(ctx, "docs-project")
    with gr.Row():
        model = gr.Textbox(label="Model (teacher and student)", value=initial[0], elem_id="docs-model",
                           info="demo:NAME, a hub id or a local folder")
        chunk_tokens = gr.Number(initial[1], label="Chunk tokens", precision=0, elem_id="docs-chunk-tokens")
        per_call = gr.Number(initial[2], label="Questions per call", precision=0, elem_id="docs-per-call")
        calls = gr.Number(initial[3], label="Calls per chunk", precision=0, elem_id="docs-calls")
        temperature = gr.Number(initial[4], label="Writer temperature", elem_id="docs-temperature")
        answer_tokens = gr.Number(initial[5], label="Answer tokens", precision=0, elem_id="docs-answer-tokens")
    with gr.Row():
        files = gr.File(label="Documents (.txt, .md, .jsonl with a 'text' field)", file_count="multiple",
                        file_types=[".txt", ".md", ".jsonl"], type="filepath", elem_id="docs-files")
        with gr.Column():
            named = picker("...or documents by name", "docs-named", optional=True,
                           info="used when no file is uploaded")
        with gr.Column():
            add_btn = gr.Button("Add documents", variant="primary", elem_id="docs-add")
            questions_btn = gr.Button("Generate questions", elem_id="docs-questions")
            rest_btn = gr.Button("Answer, train, evaluate", elem_id="docs-rest")
            stop_btn = gr.Button("Stop", variant="stop", elem_id="docs-stop")
    message = gr.Markdown(elem_id="docs-message")
    status = gr.Markdown(NO_PROJECT, elem_id="docs-status")
    shell = gr.Code(language="shell", label="The same from a shell", interactive=False, lines=2, elem_id="docs-command")
    gr.Markdown("Questions go into the project's prompt pool: accept, reject or edit them in the **Curate** tab "
                "(open the same folder; source = chunk id).")
    docs_table = gr.Dataframe(headers=DOC_COLUMNS, interactive=False, max_height=240, label="Documents", elem_id="docs-table")
    chunks_table = gr.Dataframe(headers=CHUNK_COLUMNS, interactive=False, max_height=300, wrap=True, label="Chunks",
                                elem_id="docs-chunks", column_widths=["110px", "70px", "90px", "70%"])
    results = gr.Dataframe(headers=RESULT_COLUMNS, interactive=False, label="Held-out accuracy (pd/results.json)",
                           elem_id="docs-results")
    timer = gr.Timer(POLL_S)
    last = gr.State(None)  # what the last tick saw (ui.polling)

    settings = [model, chunk_tokens, per_call, calls, temperature, answer_tokens]
    view_outputs = [docs_table, chunks_table, status, results, shell]

    def refreshed(project_: str | None) -> list:
        try:
            v = read_view(project_)
        except KDError as e:
            return [gr.skip(), gr.skip(), str(e), gr.skip(), gr.skip()]
        return [v["docs"], v["chunks"], v["status"], v["results"], command(project_, QUESTIONS)]

    @guarded
    def on_add(project_, files_, choice, typed, *values):
        files_ = files_ or named_files(project_, choice, typed)
        text = add_uploaded(project_, files_, *values)
        return [text, *refreshed(project_)]

    def starter(stages: list[str]):
        @guarded
        def run(project_, *values):
            s = start(project_, stages, *values)
            gr.Info(f"started {', '.join(stages)} (pid {s.get('pid')})")
            return [f"Started: `{command(project_, stages)}`", *refreshed(project_)]
        return run

    @guarded
    def on_stop(project_):
        s = pd_core.stop_pd(project_dir(project_))
        return [f"Run {s.get('state')}: what it finished is kept; start the stage again to go on.", *refreshed(project_)]

    add_btn.click(needs("settings", on_add), [folder, files, *named.inputs, *settings], [message, *view_outputs])
    questions_btn.click(needs("run", starter(QUESTIONS)), [folder, *settings], [message, *view_outputs])
    rest_btn.click(needs("run", starter(REST)), [folder, *settings], [message, *view_outputs])
    stop_btn.click(needs("run", on_stop), [folder], [message, *view_outputs])
    timer.tick(changes_only(refreshed, watched, len(view_outputs)), [last, folder], [*view_outputs, last],
               trigger_mode="once", show_progress="hidden")

    def on_load(project_: str | None, choice: str | None) -> list:
        """The settings the project saved, so a reload shows what its runs use."""
        try:
            values = shown_settings(project_config(project_))
        except KDError:
            values = [gr.skip()] * len(settings)
        return [*values, *refreshed(project_), picker_update(NAMED, choice, optional=True)]

    loaded = [*settings, *view_outputs, named.choice]
    app.load(on_load, [folder, named.choice], loaded)
    return Tab(folder, reread(on_load, [folder, named.choice], loaded))
