"""Train tab: a LoRA training form, its YAML and CLI command, background jobs and their progress.

Launch does what `kd-studio train <project>/train.yaml --project <project> --background`
does: the form becomes the YAML that `kd_core.runtime.jobs.load_job_config` reads, saved in the
project, then `create_job` + `start_job` run it in a process of its own.  Everything the
tab shows about jobs is re-read from the job folders (`list_jobs`, `job_status`,
`read_log`) on every timer tick, so closing the browser, reloading the page or restarting
the server loses nothing and re-attaches to running jobs.  A session keeps only which job
it selected (gr.State); whether a job runs is what its folder says, never a flag here.

The project is the one the project bar at the top opened (a hidden box, ui.tab.project_box);
the training data is picked from the project's datasets (kd_core.project.catalog.datasets),
or typed under "other" and confined like every path.  The training settings are every
field of TrainConfig, generated from it with their help text (ui.train_form), so the form
cannot drift from the YAML; the YAML holds the ones changed from their defaults.

The module-level functions are the tab without Gradio, so tests drive them against real
job folders; `build` only connects them to widgets.
"""

from __future__ import annotations

import html
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
import yaml

from kd_core.data.files import write_atomic
from kd_core.demo.models import demo_spec
from kd_core.errors import InputFileError, KDError
from kd_core.figures import empty_figure, loss_curve
from kd_core.project import Project, catalog
from kd_core.runtime import jobs
from ui import access, train_form
from ui.access import needs
from ui.errors import guarded
from ui.tab import (
    OTHER,
    Context,
    Tab,
    has_project,
    input_file,
    model_name,
    picked,
    picker,
    picker_update,
    project_at,
    project_box,
    project_dir,
    reread,
)

DEFAULT_STUDENT = demo_spec("target").name  # the demo's transfer target
DATA_FILE = "dataset.jsonl"  # what Curate's export writes into the project's export folder
JOB_COLUMNS = ["id", "name", "state", "step", "loss", "tok/s", "ETA", "created"]
POLL_S = 2.0
NO_PROJECT = "No project open: pick one in the project bar at the top (the demo project holds trained jobs)."
NO_DATA = ("No training data yet: curate and export in **Curate**, or run a recipe (`kd-studio run`); "
           "its data then shows up under Training data.")
NO_JOB = "No job yet: pick the training data, set what you want above, and press **Launch training job**."

# The YAML path of each form field, so a core error about `train.lora.r` names the widget.
# The training settings' widgets are labelled with their key (ui.train_form), so theirs map directly.
LABELS = {
    "student": "Student model",
    "student.name": "Student model",
    "student.load_in_4bit": "4-bit",
    "teacher": "Teacher model",
    "data": "Training data",
    "name": "Run name",
    **{f"train.{key}": key for key in train_form.keys()},
}


@dataclass
class TrainForm:
    """The form's values as the widgets give them (numbers may be None, float or text)."""

    project: str | None
    student: str | None = DEFAULT_STUDENT
    teacher: str | None = ""
    data: str | None = ""  # the picked file; empty: <project>/export/dataset.jsonl
    load_in_4bit: bool = False
    name: str | None = ""
    # The training settings' widget values by key (ui.train_form.keys()); a key left out is at its default.
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, project: str | None, student: str | None, teacher: str | None, data_choice: str | None,
           data_typed: str | None, load_in_4bit: bool, name: str | None, *settings: Any) -> "TrainForm":
        """The form from a handler's values, in `build`'s order: the data picker's two values,
        then every training setting in `train_form.keys()` order."""
        if len(settings) != len(train_form.keys()):
            raise KDError(f"the training form sent {len(settings)} settings for {len(train_form.keys())}")
        return cls(project, student, teacher, picked(data_choice, data_typed), bool(load_in_4bit), name,
                   dict(zip(train_form.keys(), settings)))


# ---------------------------------------------------------------------------
# Form -> YAML -> JobConfig


def default_data(project: str | None) -> str:
    return str(project_at(project).exports_dir / DATA_FILE) if has_project(project) else ""


def _model_name(text: str, project: str | None = None) -> str:
    # A local folder typed relative to the server's folder must still be found by the job
    # process, which runs in the job folder; hub ids and demo: names stay as typed.  Served,
    # the gate resolves it (confined to the models folders and the account's projects).
    if access.gate() is not None:
        return model_name(text, project)
    path = Path(text).expanduser()
    return str(path.resolve()) if not text.startswith("demo:") and path.exists() else text


def config_mapping(form: TrainForm) -> dict[str, Any]:
    """The YAML mapping `load_job_config` reads, for the form's values: the training
    settings changed from their defaults (the rest are the config's defaults anyway)."""
    student = (form.student or "").strip()
    student_value: Any = _model_name(student, form.project) if student else ""
    if form.load_in_4bit and student:
        student_value = {"name": student_value, "load_in_4bit": True}
    teacher = (form.teacher or "").strip()
    data = (form.data or "").strip()
    data = str(input_file(data, form.project)) if data else default_data(form.project)
    unknown = sorted(set(form.settings) - set(train_form.keys()))
    if unknown:
        raise KDError(f"train.{unknown[0]}: unknown setting")
    try:
        train = train_form.values_to_mapping(form.settings, changed_only=True)
    except KDError as e:  # a widget value that is not a number, etc.: named like the core's errors
        raise KDError(_named(str(e))) from None
    mapping: dict[str, Any] = {}
    if (form.name or "").strip():
        mapping["name"] = form.name.strip()
    mapping["student"] = student_value
    if teacher:
        mapping["teacher"] = _model_name(teacher, form.project)
    mapping["data"] = data
    mapping["train"] = train
    return mapping


def config_yaml(mapping: dict[str, Any]) -> str:
    return yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True)


def config_path(project: str | None) -> Path:
    return project_at(project).train_form


def cli_command(project: str | None) -> str:
    """The shell command that does what Launch does (after Launch saved the YAML)."""
    try:
        path, folder = str(config_path(project)), str(project_dir(project))
    except KDError:
        path, folder = str(Project(Path("PROJECT")).train_form), "PROJECT"
    return f"kd-studio train {shlex.quote(path)} --project {shlex.quote(folder)} --background"


def _named(message: str) -> str:
    """A core error with its leading YAML path (`train.lora.r: ...`) led by the widget's label."""
    key, sep, rest = message.partition(": ")
    if sep and key in LABELS:
        return f"{LABELS[key]} ({key}): {rest}"
    return message


def check_form(form: TrainForm) -> jobs.JobConfig:
    """The JobConfig for the form, validated by the core (JobConfig / TrainConfig); any
    problem is a KDError led by the field's label."""
    mapping = config_mapping(form)
    base = project_dir(form.project)
    try:
        return jobs.JobConfig.from_dict(mapping, base_dir=base)
    except KDError as e:
        raise KDError(_named(str(e))) from None


def preview(form: TrainForm) -> tuple[str, str, str]:
    """(YAML, CLI command, check line) for the live view: problems are shown, not raised,
    so typing never pops up errors."""
    try:
        mapping = config_mapping(form)
        text = config_yaml(mapping)
    except KDError as e:
        return f"# {e}\n", cli_command(form.project), f"⚠️ {e}"
    try:
        check_form(form)
        check = f"Settings valid. Launch saves this YAML as `{config_path(form.project)}` and starts it as a background job."
    except KDError as e:
        check = f"⚠️ {e}"
    return text, cli_command(form.project), check


def launch(form: TrainForm) -> dict[str, Any]:
    """Save the YAML into the project and start it as a background job; returns its status.

    The same steps as the CLI: load_job_config (from the saved file), create_job (reads the
    data, so a bad line fails here), start_job (a process that outlives this server)."""
    check_form(form)  # bad values never overwrite the project's saved config
    project = project_dir(form.project)
    path = config_path(form.project)
    write_atomic(path, config_yaml(config_mapping(form)))
    config = jobs.load_job_config(path)
    try:
        job_dir = jobs.create_job(project, config)
    except InputFileError as e:  # create_job reads only the data file
        raise KDError(f"{LABELS['data']}: {e}") from None
    return jobs.start_job(job_dir)


# ---------------------------------------------------------------------------
# Jobs, re-read from their folders


def _hms(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return ""
    s = int(seconds)
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


def _list(project: str | None) -> list[dict[str, Any]]:
    try:
        folder = project_dir(project)
    except KDError:
        return []
    return jobs.list_jobs(folder)


def job_rows(project: str | None) -> pd.DataFrame:
    """The project's jobs, newest first: state, step/max, loss, tokens/s, ETA."""
    rows = []
    for s in reversed(_list(project)):
        last = s.get("last_log") or {}
        loss = last.get("loss")
        active = s["state"] in jobs.ACTIVE
        rows.append({
            "id": s["id"],
            "name": s.get("name") or "",
            "state": s["state"],
            "step": f"{last.get('step')}/{last.get('max_steps')}" if last else "",
            "loss": round(float(loss), 4) if isinstance(loss, (int, float)) else None,
            "tok/s": last.get("tokens_per_s") if active else None,
            "ETA": _hms(last.get("eta_s")) if s["state"] in ("running", "stopping") else "",
            "created": (s.get("created") or "").replace("T", " ")[:19],
        })
    return pd.DataFrame(rows, columns=JOB_COLUMNS)


def pick_job(project: str | None, selected: str | None) -> str | None:
    """The job to show: the selected one while it exists, else the newest live one, else
    the newest: a reload or a new session re-attaches to what is running."""
    found = _list(project)
    ids = [s["id"] for s in found]
    if selected in ids:
        return selected
    live = [s["id"] for s in found if s["state"] in jobs.ACTIVE]
    return (live or ids or [None])[-1]


def dataset_items(project: str | None) -> list[tuple[str, str]]:
    """What the training-data picker offers: the project's datasets (Curate's export, each
    recipe arm's data, prompt distillation's files) by name, with their rows."""
    if not has_project(project):
        return []
    return [(item.label, item.path) for item in catalog.datasets(project_dir(project))]


def next_step(project: str | None) -> str:
    """The one line the tab shows while the project has no job: what to do next."""
    if not has_project(project):
        return NO_PROJECT
    try:
        return NO_JOB if dataset_items(project) else NO_DATA
    except KDError as e:  # a project this account may not open: said in the page
        return str(e)


def _job_dir(project: str | None, job_id: str | None) -> Path:
    if not job_id:
        raise KDError("no job selected: launch one, or select a row in the jobs list")
    # A job of this project only: the id comes from the page (a table row), so a path in
    # its place must not reach another folder's job.
    root = project_dir(project)
    found = jobs.find_job(Path(str(job_id)).name, root)
    if not found.is_relative_to(Project.at(root).jobs_dir.resolve()):
        raise KDError(f"no job '{Path(str(job_id)).name}' in this project")
    return found


def _progress_html(status: dict[str, Any], last: dict[str, Any]) -> str:
    step, total = last.get("step") or 0, last.get("max_steps") or 0
    share = min(1.0, step / total) if total else (1.0 if status["state"] == "completed" else 0.0)
    line = jobs.format_log_row(last) if last else "no step logged yet"
    return (
        f'<div id="train-progress-bar" style="background:#e5e7eb;border-radius:4px;height:10px;overflow:hidden">'
        f'<div style="background:#2563eb;height:10px;width:{100 * share:.1f}%"></div></div>'
        f'<div style="font-family:monospace;font-size:0.9em;margin-top:4px">{html.escape(line)}</div>'
    )


def job_view(project: str | None, job_id: str | None) -> dict[str, Any]:
    """What the tab shows about one job: a summary, a progress bar, the loss curve."""
    if not job_id:
        return {"info": next_step(project), "progress": "", "plot": empty_figure("No job selected."), "state": None,
                "key": None}
    job_dir = _job_dir(project, job_id)
    status = jobs.job_status(job_dir)
    rows = jobs.read_log(job_dir)
    last = next((r for r in reversed(rows) if "loss" in r), rows[-1] if rows else {})
    parts = [f"**{status['id']}**" + (f" ({status['name']})" if status.get("name") else ""), f"state **{status['state']}**"]
    if status.get("device"):
        parts.append(f"device {status['device']}")
    lines = [" · ".join(parts)]
    if status["state"] == "queued" and status.get("waiting_for"):
        lines.append(f"Waiting for {status['waiting_for']}: another job holds it ({status.get('held_by') or 'unknown'}).")
    if status["state"] == "stopping":
        lines.append("Stop asked: the job finishes its step, saves a checkpoint and the adapter, then exits.")
    summary = status.get("summary") or {}
    adapter = job_dir / "adapter"
    if (adapter / "adapter_config.json").exists():
        lines.append(f"Adapter: `{adapter}`")
    if summary:
        lines.append(f"{summary.get('steps')} steps in {summary.get('wall_s')} s, final loss {summary.get('final_loss')}")
    if status.get("error"):
        lines.append(f"Error:\n```\n{status['error']}\n```")
    lines.append(f"Folder: `{job_dir}` · `kd-studio jobs show {status['id']} --project {shlex.quote(str(job_dir.parent.parent))}`")
    return {
        "info": "\n\n".join(lines),
        "progress": _progress_html(status, last),
        "plot": loss_curve(rows, title=f"Training loss: {status['id']}"),
        "state": status["state"],
        # The figure is redrawn only when this changes, so zooming survives the polling.
        "key": (status["id"], len(rows), status["state"]),
    }


def saved_config(project: str | None, job_id: str | None) -> jobs.JobConfig:
    """The settings to fill the form with: the shown job's (its folder's config.yaml), else
    what Launch last saved in the project (train.yaml)."""
    path = _job_dir(project, job_id) / jobs.CONFIG if job_id else config_path(project)
    if not path.is_file():
        raise KDError(f"no training settings saved in this project yet ({path.name}): launch a job first")
    return jobs.load_job_config(path)


def form_values(project: str | None, cfg: jobs.JobConfig) -> list:
    """The widgets' values for `cfg`, in `build`'s order after the project box: student,
    teacher, the data picker's choice and typed path, 4-bit, name, every training setting."""
    offered = [path for _, path in dataset_items(project)]
    data_choice, data_typed = (cfg.data, "") if cfg.data in offered else (OTHER, cfg.data)
    teacher = cfg.teacher.name if cfg.teacher is not None else ""
    return [cfg.student.name, teacher, data_choice, data_typed, bool(cfg.student.load_in_4bit), cfg.name,
            *train_form.config_to_values(cfg.train).values()]


def stop(project: str | None, job_id: str | None) -> str:
    status = jobs.stop_job(_job_dir(project, job_id))
    if status["state"] == "cancelled":
        return f"job {status['id']} cancelled before it started"
    return f"job {status['id']}: stop asked; it saves at the end of its current step"


def cancel(project: str | None, job_id: str | None) -> str:
    status = jobs.cancel_job(_job_dir(project, job_id))
    return f"job {status['id']}: {status['state']}"


def resume(project: str | None, job_id: str | None) -> str:
    status = jobs.resume_job(_job_dir(project, job_id))
    return f"job {status['id']}: {status['state']} (from {Path(status.get('resumed_from') or '').name})"


# ---------------------------------------------------------------------------
# Widgets


def build(ctx: Context) -> Tab:
    """The tab's widgets; its timer re-reads the jobs' folders (ui.polling says why it
    runs from page load)."""
    app = ctx.app
    selected_state = gr.State(None)  # the job this session picked; None: the newest live one
    drawn_state = gr.State(None)  # what the plot shows now, so an unchanged curve is not redrawn

    folder = project_box(ctx, "train-project")  # jobs go into the project's jobs/
    with gr.Row():
        with gr.Column(scale=3):
            with gr.Row():
                student = gr.Textbox(label="Student model (trained with LoRA)", value=DEFAULT_STUDENT, elem_id="train-student",
                                     info="demo:NAME, a hub id or a local folder")
                teacher = gr.Textbox(label="Teacher model (optional)", value="", elem_id="train-teacher",
                                     info="kd/mix only; empty: the student with its adapter off")
            data = picker(LABELS["data"], "train-data",
                          info="the project's datasets: Curate's export, a recipe arm's data, prompt distillation's; "
                               "other: a JSONL file (prompt/response, prompt/completion or chat messages)")
            with gr.Row():
                load_in_4bit = gr.Checkbox(False, label="4-bit student (QLoRA)", elem_id="train-4bit")
                name = gr.Textbox(label="Run name (optional)", elem_id="train-name")
            # Every TrainConfig setting, generated from the config with its help text (ui.train_form).
            settings = train_form.build_settings()
            check = gr.Markdown(elem_id="train-check")
            with gr.Row():
                launch_btn = gr.Button("Launch training job", variant="primary", elem_id="train-launch", scale=3)
                fill_btn = gr.Button("Fill from the shown job", elem_id="train-fill", scale=1)
        with gr.Column(scale=2):
            yaml_code = gr.Code(language="yaml", label="Job config (YAML)", interactive=False, lines=14,
                                buttons=["copy", "download"], elem_id="train-yaml")
            command = gr.Code(language="shell", label="The same from a shell", interactive=False, lines=2,
                              buttons=["copy"], elem_id="train-command")

    jobs_table = gr.Dataframe(headers=JOB_COLUMNS, interactive=False, max_height=260, label="Jobs in this project (newest first; select one)",
                              elem_id="train-jobs")
    info = gr.Markdown(elem_id="train-job-info")
    progress = gr.HTML(elem_id="train-progress")
    with gr.Row():
        stop_btn = gr.Button("Stop (save adapter)", elem_id="train-stop")
        cancel_btn = gr.Button("Cancel (discard)", variant="stop", elem_id="train-cancel")
        resume_btn = gr.Button("Resume from checkpoint", elem_id="train-resume")
    plot = gr.Plot(label="Loss", elem_id="train-loss-plot")
    timer = gr.Timer(POLL_S)

    form_inputs = [folder, student, teacher, *data.inputs, load_in_4bit, name, *settings.values()]

    def on_form(*values):
        try:
            return preview(TrainForm.of(*values))
        except KDError as e:
            return [gr.skip(), gr.skip(), f"⚠️ {e}"]

    def refreshed(project_: str | None, selected: str | None, drawn: Any) -> list:
        """Every job-related widget from the folders; the plot only when it changed."""
        try:
            table = job_rows(project_)
            shown = pick_job(project_, selected)
            view = job_view(project_, shown)
        except KDError as e:
            return [pd.DataFrame(columns=JOB_COLUMNS), str(e), "", gr.skip(), drawn,
                    *(gr.Button(interactive=False) for _ in range(3))]
        state = view["state"]
        plot_value = gr.skip() if view["key"] is not None and view["key"] == drawn else view["plot"]
        return [table, view["info"], view["progress"], plot_value, view["key"],
                gr.Button(interactive=state in (*jobs.ACTIVE, "created")),
                gr.Button(interactive=state in (*jobs.ACTIVE, "created")),
                gr.Button(interactive=state in ("stopped", "cancelled", "failed"))]

    job_outputs = [jobs_table, info, progress, plot, drawn_state, stop_btn, cancel_btn, resume_btn]

    def on_project(project_: str | None, data_choice: str | None, data_typed: str | None, selected: str | None,
                   drawn: Any) -> list:
        """The data picker offers the project's datasets, then the jobs are re-read."""
        try:
            items = dataset_items(project_)
        except KDError:  # a project this account may not open: `refreshed` says so in the page
            return [gr.skip(), *refreshed(project_, selected, drawn)]
        # "other" with nothing typed (all an empty project offers) gives way to the project's first dataset.
        first = items[0][1] if items and not (data_typed or "").strip() else None
        return [picker_update(items, data_choice, default=first), *refreshed(project_, selected, drawn)]

    @guarded
    def on_launch(*values):
        status = launch(TrainForm.of(*values))
        gr.Info(f"job {status['id']} started ({status['state']})")
        return [status["id"], *refreshed(values[0], status["id"], None)]

    def on_select(project_: str | None, drawn: Any, evt: gr.SelectData):
        row = evt.row_value
        job_id = str(row[0]) if row else None  # the id column: right even if the browser sorted the table
        return [job_id, *refreshed(project_, job_id, drawn)]

    @guarded
    def on_fill(project_: str | None, selected: str | None, data_choice: str | None) -> list:
        """The form from the shown job's settings (else the project's saved train.yaml)."""
        cfg = saved_config(project_, pick_job(project_, selected))
        items = dataset_items(project_)
        values = form_values(project_, cfg)
        # The picker offers the project's datasets first, so the filled choice is one of its choices.
        return [*values[:2], picker_update(items, values[2], default=values[2]), *values[3:]]

    def acted(fn):
        @guarded
        def run(project_: str | None, selected: str | None, drawn: Any):
            shown = pick_job(project_, selected)
            gr.Info(fn(project_, shown))
            return refreshed(project_, shown, drawn)
        return run

    preview_outputs = [yaml_code, command, check]
    # The folder and the data picker change under code too (the project bar, a project's
    # datasets): `change`. The rest change only by hand: `input`, so that "Fill" (which sets
    # ~30 widgets) previews once instead of queueing one preview per widget it sets.
    for widget in (folder, *data.inputs):
        widget.change(on_form, form_inputs, preview_outputs, trigger_mode="always_last", show_progress="hidden")
    for widget in (student, teacher, load_in_4bit, name, *settings.values()):
        widget.input(on_form, form_inputs, preview_outputs, trigger_mode="always_last", show_progress="hidden")
    launch_btn.click(needs("train", on_launch), form_inputs, [selected_state, *job_outputs])
    fill_btn.click(on_fill, [folder, selected_state, data.choice],
                   [student, teacher, data.choice, data.typed, load_in_4bit, name, *settings.values()]
                   ).then(on_form, form_inputs, preview_outputs, show_progress="hidden")
    jobs_table.select(on_select, [folder, drawn_state], [selected_state, *job_outputs])
    state_inputs = [folder, selected_state, drawn_state]
    stop_btn.click(needs("train", acted(stop)), state_inputs, job_outputs)
    cancel_btn.click(needs("train", acted(cancel)), state_inputs, job_outputs)
    resume_btn.click(needs("train", acted(resume)), state_inputs, job_outputs)
    # "once": a slow read of the folders never piles up ticks behind it.
    timer.tick(refreshed, state_inputs, job_outputs, trigger_mode="once", show_progress="hidden")
    project_inputs = [folder, *data.inputs, selected_state, drawn_state]
    app.load(on_form, form_inputs, preview_outputs)
    app.load(on_project, project_inputs, [data.choice, *job_outputs])
    return Tab(folder, reread(on_project, project_inputs, [data.choice, *job_outputs]))
