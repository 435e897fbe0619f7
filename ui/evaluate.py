"""Evaluate tab: QA accuracy of chosen models on a question set, recorded in the project.

"Evaluate" runs `kd-studio eval --project` for one model (with an optional adapter) in a
process of its own (kd_core.evaluation.qa.start_eval); one evaluation runs at a time per
project, so evaluate models one after another.  The table and the bar chart hold every
evaluation in ``<project>/eval/`` and prompt distillation's ``pd/eval/``, re-read on a
timer; "Results as CSV" writes them to ``eval/results.csv`` for download.  A project run from a
recipe (`kd-studio run`, kd_core.tuneshift.recipe) shows its run's state and its report here: the
Markdown inline, the self-contained HTML (figures and all) to open or download.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from kd_core.data.files import write_atomic
from kd_core.data.references import is_reference
from kd_core.demo.models import demo_spec
from kd_core.errors import KDError
from kd_core.evaluation.qa import EVAL_RUN, RESULT_COLUMNS, project_results, start_eval
from kd_core.figures import accuracy_bars
from kd_core.project import catalog
from kd_core.runtime import runs
from kd_core.tuneshift.recipe_config import RECIPE_DIR
from ui.access import needs
from ui.errors import guarded
from ui.polling import changes_only, stamp
from ui.progress import run_progress
from ui.tab import Context, Tab, has_project, input_file, model_name, picked, picker, picker_update, project_at, project_box, project_dir, reread

POLL_S = 2.0
DEFAULT_QUESTIONS = "demo:test"
NO_PROJECT = "No project open: pick one in the project bar at the top (the demo project holds evaluations)."
NO_EVALUATION = ("No evaluation in this project yet: pick a job's adapter above and press **Evaluate** "
                 "(train one in **Train** first), or open the demo project.")


NO_REPORT = "No recipe report in this project yet (`kd-studio run RECIPE.yaml --project FOLDER` writes one)."


def read_view(project: str | None) -> dict[str, Any]:
    if not has_project(project):
        return {"status": NO_PROJECT, "table": pd.DataFrame(columns=RESULT_COLUMNS), "chart": accuracy_bars(None),
                "recipe": "", "report": NO_REPORT, "report_file": None}
    place = project_at(project)
    root = place.root
    table = project_results(root)
    table["model"] = [readable_model(m) for m in table["model"]]
    status = runs.status(root, EVAL_RUN)
    said = runs.status_markdown("Evaluation", status, NO_EVALUATION if table.empty else
                                "No evaluation is running; the project's evaluations are below.")
    said += run_progress(place.run_dir("evaluate"), status)
    recipe_status = runs.status(root, RECIPE_DIR)
    recipe = runs.status_markdown("Recipe run", recipe_status, "") + run_progress(place.run_dir("recipe"), recipe_status)
    md, html = place.report_dir / "report.md", place.report_dir / "report.html"
    return {"status": said, "table": table, "chart": accuracy_bars(table), "recipe": recipe,
            "report": md.read_text() if md.exists() else NO_REPORT, "report_file": str(html) if html.exists() else None}


def readable_model(label: object) -> object:
    """A recorded model label as the table shows it: a job's adapter by its job id
    (``demo:gemma3-270m + job <id>``), not the folder it was trained in."""
    if not isinstance(label, str):
        return label
    name, _, adapter = label.partition(" + ")
    parts = Path(adapter).parts if adapter else ()
    if len(parts) >= 3 and parts[-1] == catalog.ADAPTER_DIR and parts[-3] == "jobs":
        return f"{name} + job {parts[-2]}"
    return label


def pickers(project: str | None) -> dict[str, list[tuple[str, str]]]:
    """What the tab's pickers offer: the project's job adapters (by job, base model, date,
    held-out accuracy) and its question sets (the demo's, then the project's files)."""
    root = project_dir(project) if has_project(project) else None
    adapters = [(job.label(), str(job.adapter)) for job in catalog.jobs(root) if job.adapter is not None] if root else []
    return {"adapters": adapters, "questions": [(item.label, item.path) for item in catalog.question_sets(root)]}


def base_of(project: str | None, adapter: str | None) -> str | None:
    """The base model a picked job adapter was trained on (None: not one of the project's jobs)."""
    if not has_project(project) or not adapter:
        return None
    for job in catalog.jobs(project_dir(project)):
        if job.adapter is not None and str(job.adapter) == adapter:
            return job.student
    return None


def watched(project: str | None) -> tuple:
    place = project_at(project)
    root = place.root
    summaries = sorted(place.eval_dir.glob("*/summary.json")) + sorted(place.pd_eval_dir.glob("*/summary.json"))
    files = [place.run_dir("evaluate") / runs.STATUS, place.run_dir("recipe") / runs.STATUS, place.report_dir / "report.md",
             *summaries]
    return stamp(files), runs.status(root, EVAL_RUN).get("state"), runs.status(root, RECIPE_DIR).get("state")


def download(project: str | None) -> str:
    """The results table as CSV in the project (eval/results.csv); its path."""
    place = project_at(project)
    table = project_results(place.root)
    if table.empty:
        raise KDError(f"{place.root} holds no evaluation yet")
    path = place.eval_dir / "results.csv"
    write_atomic(path, table.to_csv(index=False))
    return str(path)


def build(ctx: Context) -> Tab:
    """The tab's widgets; its timer re-reads the project's evaluations when they change."""
    app = ctx.app
    folder = project_box(ctx, "eval-project")
    with gr.Row():
        with gr.Column(scale=2):
            adapter = picker("Adapter: a job of this project", "eval-adapter", optional=True,
                             info="picking a job's adapter sets the model to the base it was trained on")
        model = gr.Textbox(demo_spec("base").name, label="Model", info="demo:NAME, a hub id or a local folder",
                           elem_id="eval-model")
        with gr.Column(scale=2):
            questions = picker("Questions", "eval-questions", info="demo:test: held-out; demo:control: what must not break; "
                               "other: a JSONL file (question, answer or answers)")
        tokens = gr.Number(48, label="Answer tokens", precision=0, elem_id="eval-tokens")
        name = gr.Textbox(label="Name (optional)", info="default: the model's label", elem_id="eval-name")
    with gr.Row():
        run_btn = gr.Button("Evaluate", variant="primary", elem_id="eval-run")
        stop_btn = gr.Button("Stop", variant="stop", elem_id="eval-stop")
        csv_btn = gr.Button("Results as CSV", elem_id="eval-csv")
    message = gr.Markdown(elem_id="eval-message")
    status = gr.Markdown(elem_id="eval-status")
    table = gr.Dataframe(headers=RESULT_COLUMNS, interactive=False, label="Evaluations in this project",
                         elem_id="eval-table")
    chart = gr.Plot(label="Accuracy", elem_id="eval-chart")
    csv_file = gr.File(label="Download", interactive=False, elem_id="eval-csv-file")
    with gr.Accordion("Recipe report", open=True):
        recipe = gr.Markdown(elem_id="eval-recipe-status")
        report_file = gr.File(label="Report (self-contained HTML: figures included, opens offline)", interactive=False,
                              elem_id="eval-report-file")
        report = gr.Markdown(NO_REPORT, elem_id="eval-report")
    timer = gr.Timer(POLL_S)
    last = gr.State(None)
    outputs = [status, table, chart, recipe, report, report_file]

    def refreshed(project_: str | None) -> list:
        try:
            v = read_view(project_)
        except KDError as e:
            return [str(e), *[gr.skip()] * 5]
        return [v["status"], v["table"], v["chart"], v["recipe"], v["report"], v["report_file"]]

    def on_project(project_: str | None, adapter_: str | None, questions_: str | None) -> list:
        """The pickers offer the project's adapters and question sets, then the view is re-read."""
        try:
            items = pickers(project_)
        except KDError as e:  # a project this account may not open: said in the page
            return [gr.skip(), gr.skip(), str(e), *[gr.skip()] * 5]
        return [picker_update(items["adapters"], adapter_, optional=True),
                picker_update(items["questions"], questions_, default=DEFAULT_QUESTIONS), *refreshed(project_)]

    def on_adapter(project_: str | None, adapter_: str | None) -> Any:
        base = base_of(project_, adapter_)
        return base if base else gr.skip()

    @guarded
    def on_run(project_, model_, adapter_choice, adapter_typed, questions_choice, questions_typed, tokens_, name_):
        adapter_, questions_ = picked(adapter_choice, adapter_typed), picked(questions_choice, questions_typed)
        try:
            n = int(tokens_)
        except (TypeError, ValueError):
            raise KDError(f"Answer tokens: {tokens_!r} is not a whole number") from None
        q = (questions_ or "").strip()
        q = q if not q or is_reference(q) else str(input_file(q, project_))  # a file inside the project
        s = start_eval(project_dir(project_), model_name(model_, project_), model_name(adapter_, project_), q, n,
                       (name_ or "").strip() or None)
        return [f"Started (pid {s.get('pid')}).", *refreshed(project_)]

    @guarded
    def on_stop(project_):
        s = runs.stop(project_dir(project_), EVAL_RUN)
        return [f"Evaluation {s.get('state')}.", *refreshed(project_)]

    run_btn.click(needs("run", on_run), [folder, model, *adapter.inputs, *questions.inputs, tokens, name], [message, *outputs])
    stop_btn.click(needs("run", on_stop), [folder], [message, *outputs])
    csv_btn.click(guarded(download), [folder], csv_file)
    adapter.choice.input(on_adapter, [folder, adapter.choice], model, show_progress="hidden")
    timer.tick(changes_only(refreshed, watched, len(outputs)), [last, folder], [*outputs, last], trigger_mode="once",
               show_progress="hidden")
    project_outputs = [adapter.choice, questions.choice, *outputs]
    app.load(on_project, [folder, adapter.choice, questions.choice], project_outputs)
    return Tab(folder, reread(on_project, [folder, adapter.choice, questions.choice], project_outputs))
