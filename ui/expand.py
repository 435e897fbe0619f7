"""Expand tab: seed prompts in, TuneShift-KD rounds out, in a process of its own.

Seeds come from an uploaded file (any format of kd_core.data.prompt_files; it is read and
checked here before anything runs, and a copy is kept in ``<project>/seeds/``), from
prompts pasted one per line, or from the demo's seed file.  "Run rounds" starts
`kd-studio expand` in the background (kd_core.tuneshift.expansion.start_expand): the seeds are
answered and scored, then each round generates, dedups, answers, scores and labels
into the project's pool.  Status, the rounds table, the pool's counts and its gap
scatter are re-read from the project folder on a timer, so a reload or a server
restart re-attaches to the run; Stop ends it, and the next run resumes from the pool.

The module-level functions are the tab without Gradio; `build` connects them to widgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from kd_core.data.prompt_files import read_prompts
from kd_core.errors import KDError
from kd_core.figures import gap_scatter
from kd_core.models.generation import GenerationConfig
from kd_core.project import catalog
from kd_core.runtime.runs import LOG, STATUS, status_markdown
from kd_core.tuneshift import expansion, seeds as seed_files
from kd_core.tuneshift.gaps import DEFAULT_THRESHOLDS, METRICS, GapConfig
from kd_core.tuneshift.generators import GENERATORS
from kd_core.tuneshift.pool import Pool
from ui.access import needs
from ui.errors import guarded
from ui.polling import changes_only, stamp
from ui.progress import run_progress
from ui.tab import Context, Tab, has_project, input_file, model_name, picked, picker, picker_update, project_at, project_box, project_dir, reread

ROUND_COLUMNS = ["round", "candidates", "added", "duplicates", "new above", "new names", "pool size"]
POLL_S = 2.0
DEMO_SEEDS = "demo:seeds"
NO_PROJECT = "No project open: pick one in the project bar at the top, or make a new one there."
NO_POOL = ("No prompts in this project yet: give seeds (a file, pasted, or tick the demo's) and press **Run rounds**; "
           "the demo project holds a finished expansion.")


def settings(rounds: Any, per_round: Any, generators: list[str] | None, metric: str, threshold: Any, auto_accept: bool,
             answer_tokens: Any = 96, until_no_new_name: bool = False) -> expansion.ExpansionConfig:
    """The tab's values as the config `kd-studio expand` runs; a bad value is named by its label."""
    def whole(label: str, value: Any) -> int:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise KDError(f"{label}: {value!r} is not a number") from None
        if number != int(number):
            raise KDError(f"{label}: {value!r} is not a whole number")
        return int(number)

    if not generators:
        raise KDError("Generators: choose at least one")
    tau = None
    if threshold not in (None, ""):
        try:
            tau = float(threshold)
        except (TypeError, ValueError):
            raise KDError(f"Threshold: {threshold!r} is not a number") from None
    base = expansion.ExpansionConfig()
    return expansion.ExpansionConfig(
        rounds=whole("Rounds", rounds), per_round=whole("Candidates per generator", per_round), generators=tuple(generators),
        gap=GapConfig(metric=metric, threshold=tau), auto_accept=bool(auto_accept),
        stop_when="no-new-name" if until_no_new_name else "no-new-prompt",
        answer=GenerationConfig(max_new_tokens=whole("Answer tokens", answer_tokens), batch_size=base.answer.batch_size))


def stage_seeds(project: str | None, upload: str | None, pasted: str | None, demo: bool) -> tuple[str | None, str]:
    """The seed file a run reads, checked now, and a line saying what it holds; an
    upload or pasted prompts are kept in the project's seeds folder
    (kd_core.tuneshift.seeds: only once they read cleanly)."""
    root = project_dir(project)
    if upload:
        found = seed_files.stage_seeds(root, upload)
        return found.path, found.summary().replace(found.path, Path(found.path).name)
    if pasted and pasted.strip():
        found = seed_files.stage_text(root, pasted)
        return found.path, found.summary().replace(found.path, "the pasted prompts")
    if demo:
        return DEMO_SEEDS, "the demo's seed prompts"
    return None, "no new seeds: the rounds go on from the pool"


PREVIEW_COLUMNS = ["line", "prompt", "problem"]
PREVIEW_ROWS = 200


def preview(upload: str | None, pasted: str | None) -> tuple[str, pd.DataFrame]:
    """What a seed file (or the pasted prompts) holds, before anything is kept: its
    summary, and a table of the prompts with every skipped row and why."""
    import tempfile

    if upload:
        name = Path(upload).name
        try:
            found = read_prompts(upload)
        except KDError as e:  # named by the file's own name, not the server's upload folder
            raise KDError(str(e).replace(str(upload), name)) from None
    elif pasted and pasted.strip():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "pasted.txt"
            path.write_text(pasted.strip() + "\n")
            found = read_prompts(path)
        name = "the pasted prompts"
    else:
        return "", pd.DataFrame(columns=PREVIEW_COLUMNS)
    rows = [[p.line, "", f"{p.unit} {p.line}: {p.reason}"] for p in found.problems]
    rows += [["", prompt, ""] for prompt in found.prompts[:PREVIEW_ROWS]]
    more = f"; the first {PREVIEW_ROWS} shown" if len(found.prompts) > PREVIEW_ROWS else ""
    said = found.summary().replace(str(found.path), name) + more
    return said, pd.DataFrame(rows, columns=PREVIEW_COLUMNS)


def start(project: str | None, upload: str | None, pasted: str | None, demo: bool, base: str | None, finetuned: str | None,
          adapter: str | None, *values: Any) -> tuple[dict[str, Any], str]:
    """Check everything, then run the rounds as `kd-studio expand` would."""
    config = settings(*values)
    root = project_dir(project)
    expansion.runs.check_idle(root, expansion.EXPAND_DIR, expansion.WHAT)  # before a seed file is written
    seeds, said = stage_seeds(project, upload, pasted, demo)
    if seeds is None and not project_at(project).pool.exists():
        raise KDError(f"{root} holds no prompts yet: upload seeds, paste some, or tick 'demo seeds'")
    models = expansion.named_models(model_name(base, project), model_name(finetuned, project), model_name(adapter, project))
    return expansion.start_expand(root, config, seeds, *models), said


def save_recipe(project: str | None, upload: str | None, pasted: str | None, demo: bool, base: str | None, finetuned: str | None,
                adapter: str | None, target: str | None, *values: Any) -> str:
    """The tab's settings as ``<project>/recipe.yaml`` (kd_core.tuneshift.recipe); what to run next."""
    from kd_core.tuneshift import recipe_config as recipes

    config = settings(*values)
    root = project_dir(project)
    seeds, _ = stage_seeds(project, upload, pasted, demo)
    base, finetuned, adapter, target = (model_name(v, project) for v in (base, finetuned, adapter, target))
    recipe = recipes.recipe_from_settings(config, seeds, base, finetuned, adapter, target, name=root.name)
    path = recipes.save_recipe(root, recipe, "Saved from the Expand tab of KD Studio.")
    return f"Saved `{path}`. Run every stage with `kd-studio run {path} --project {root}`."


def command(project: str | None, *values: Any) -> str:
    """The shell command of the current settings (seeds and models left to the user)."""
    root = project_dir(project) if has_project(project) else Path("PROJECT")
    try:
        config = settings(*values)
    except KDError as e:
        return f"# {e}"
    return expansion.cli_command(root, "SEEDS", config)  # each argument quoted


def read_view(project: str | None, metric: str = "logratio", threshold: Any = None) -> dict[str, Any]:
    """Status, rounds, counts and the pool's scatter, from the project folder."""
    empty = {"status": NO_PROJECT, "rounds": pd.DataFrame(columns=ROUND_COLUMNS), "counts": "", "scatter": None,
             "log": "", "running": False}
    if not has_project(project):
        return empty
    root = project_dir(project)
    status = expansion.expand_status(root)
    place = project_at(project)
    view = {**empty, "status": status_text(status, place.pool.exists(), place.run_dir("expand")),
            "log": expansion.runs.log_tail(root, expansion.EXPAND_DIR),
            "running": status.get("state") in expansion.runs.ACTIVE}
    if project_at(project).pool.exists():
        with Pool(root, create=False) as pool:
            history = expansion.round_history(pool)
            counts = pool.counts()
            df = expansion.scored_frame(pool)
        view["rounds"] = pd.DataFrame([round_row(h) for h in history], columns=ROUND_COLUMNS)
        view["counts"] = (f"**{counts.total} prompts** in the pool · {counts.by_label.get('above', 0)} above the threshold · "
                          f"{counts.by_state.get('accepted', 0)} accepted · {counts.by_state.get('pending', 0)} pending · "
                          f"{counts.by_state.get('rejected', 0)} rejected")
        if len(df):
            tau = None if threshold in (None, "") else float(threshold)
            view["scatter"] = gap_scatter(df, metric, tau, color_by="state", title="The pool: log PPL under base vs fine-tuned")
    return view


def round_row(h: dict[str, Any]) -> list[Any]:
    """One finished round, summed over its generators."""
    g = list((h.get("generators") or {}).values())
    return [h.get("round"), sum(x.get("candidates", 0) for x in g), sum(x.get("added", 0) for x in g),
            sum(x.get("exact_dups", 0) + x.get("near_dups", 0) for x in g), h.get("new_above"), h.get("new_names"),
            h.get("pool_size")]


def status_text(status: dict[str, Any], has_pool: bool = True, folder: Path | None = None) -> str:
    """The run's state, and while it works its progress bar (from `folder`'s status.json)."""
    said = status_markdown("Expansion", status, "No expansion is running from this tab (rounds already in the pool are listed below)."
                           if has_pool else NO_POOL)
    return said + (run_progress(folder, status) if folder is not None else "")


# ---------------------------------------------------------------------------
# Widgets


def watched(project: str | None, *values: Any) -> tuple:
    """What the view is read from: the run's files, the pool, and whether its process lives."""
    place = project_at(project)
    folder = place.run_dir("expand")
    status = expansion.expand_status(place.root)
    return (stamp([folder / STATUS, folder / LOG, place.pool, place.pool.with_name(place.pool.name + "-wal")]),
            status.get("state"))


def build(ctx: Context) -> Tab:
    """The tab's widgets; its timer re-reads the project folder when it changes."""
    app, defaults = ctx.app, expansion.ExpansionConfig()
    folder = project_box(ctx, "expand-project")
    with gr.Row():
        with gr.Column():
            kept = picker("Seed file kept in the project", "expand-seed-file", optional=True,
                          info="seeds/ holds every file uploaded or pasted before; none: upload, paste or the demo's")
        upload = gr.File(label="Seed prompts (.txt, .csv, .tsv, .jsonl, .json, .parquet)", type="filepath",
                         file_types=[".txt", ".csv", ".tsv", ".jsonl", ".json", ".parquet"], elem_id="expand-seeds")
        pasted = gr.Textbox(label="...or paste prompts, one per line", lines=5, elem_id="expand-paste")
        with gr.Column():
            demo = gr.Checkbox(False, label="Use the demo's seed prompts", elem_id="expand-demo-seeds")
            gr.Markdown("No seeds at all: the rounds go on from the project's pool.")
    seeds_said = gr.Markdown(elem_id="expand-seeds-said")
    seeds_table = gr.Dataframe(headers=PREVIEW_COLUMNS, interactive=False, label="Seed preview (skipped rows first, with why)",
                               max_height=240, elem_id="expand-seeds-preview")
    with gr.Row():
        base = gr.Textbox(label="Base model (empty: the demo)", elem_id="expand-base")
        finetuned = gr.Textbox(label="Fine-tuned model (merged; or give an adapter)", elem_id="expand-finetuned")
        adapter = gr.Textbox(label="Fine-tuned adapter folder", elem_id="expand-adapter")
    with gr.Row():
        rounds = gr.Number(defaults.rounds, label="Rounds", precision=0, elem_id="expand-rounds")
        per_round = gr.Number(defaults.per_round, label="Candidates per generator", precision=0, elem_id="expand-per-round")
        generators = gr.CheckboxGroup(list(GENERATORS), value=list(defaults.generators), label="Generators",
                                      elem_id="expand-generators")
        metric = gr.Dropdown(list(METRICS), value=defaults.gap.metric, label="Gap metric", elem_id="expand-metric")
        threshold = gr.Textbox(str(DEFAULT_THRESHOLDS[defaults.gap.metric]), label="Threshold", elem_id="expand-threshold")
        auto = gr.Checkbox(False, label="Accept what lands above the threshold", elem_id="expand-auto")
        answer_tokens = gr.Number(defaults.answer.max_new_tokens, label="Answer tokens", precision=0,
                                  elem_id="expand-answer-tokens")
        until_dry = gr.Checkbox(defaults.stop_when == "no-new-name", label="Crawl until a round finds no new name "
                                "(Rounds: the budget)", elem_id="expand-until-dry")
    with gr.Row():
        run_btn = gr.Button("Run rounds", variant="primary", elem_id="expand-run")
        stop_btn = gr.Button("Stop", variant="stop", elem_id="expand-stop")
        target = gr.Textbox(label="Target model for a recipe (empty: the demo's Gemma 3 270M)", elem_id="expand-target")
        save_btn = gr.Button("Save as recipe", elem_id="expand-save-recipe")
    message = gr.Markdown(elem_id="expand-message")
    status = gr.Markdown(NO_PROJECT, elem_id="expand-status")
    counts = gr.Markdown(elem_id="expand-counts")
    shell = gr.Code(language="shell", label="The same from a shell", interactive=False, lines=2, elem_id="expand-command")
    rounds_table = gr.Dataframe(headers=ROUND_COLUMNS, interactive=False, label="Rounds", elem_id="expand-rounds-table")
    scatter = gr.Plot(label="The pool's gap scatter (colour: curation state)", elem_id="expand-scatter")
    log = gr.Code(label="Last lines of expand/process.log", interactive=False, lines=8, elem_id="expand-log")
    gr.Markdown("Accept, reject or edit the prompts in the **Curate** tab (same folder).")
    timer = gr.Timer(POLL_S)
    last = gr.State(None)  # what the last tick saw (ui.polling)

    values = [rounds, per_round, generators, metric, threshold, auto, answer_tokens, until_dry]
    view_outputs = [status, counts, rounds_table, scatter, log, shell]

    def refreshed(project_: str | None, *values_: Any) -> list:
        try:
            v = read_view(project_, values_[3], values_[4])
        except (KDError, ValueError) as e:
            return [str(e), *[gr.skip()] * 5]
        return [v["status"], v["counts"], v["rounds"], v["scatter"], v["log"], command(project_, *values_)]

    def seeds_of(project_: str | None, upload_: str | None, choice: str | None, typed: str | None) -> str | None:
        """An upload, else the kept seed file picked (confined to the project), else none."""
        if upload_:
            return upload_
        path = picked(choice, typed)
        return str(input_file(path, project_)) if path else None

    def on_project(project_: str | None, choice: str | None, *values_: Any) -> list:
        """The seed picker offers the project's kept files, then the view is re-read."""
        try:
            items = [(item.label, item.path) for item in catalog.seed_files(project_dir(project_))] if has_project(project_) else []
        except KDError:
            items = []
        return [picker_update(items, choice, optional=True), *refreshed(project_, *values_)]

    @guarded
    def on_run(project_, upload_, choice, typed, pasted_, demo_, base_, ft_, adapter_, *values_):
        upload_ = seeds_of(project_, upload_, choice, typed)
        s, said = start(project_, upload_, pasted_, demo_, base_, ft_, adapter_, *values_)
        gr.Info(f"expansion started (pid {s.get('pid')})")
        return [f"Started with {said}.", *refreshed(project_, *values_)]

    @guarded
    def on_stop(project_, *values_):
        s = expansion.stop_expand(project_dir(project_))
        return [f"Expansion {s.get('state')}: the pool keeps what was committed; run again to resume.",
                *refreshed(project_, *values_)]

    run_btn.click(needs("run", on_run), [folder, upload, *kept.inputs, pasted, demo, base, finetuned, adapter, *values],
                  [message, *view_outputs])
    for trigger in (upload.change, pasted.blur):  # a bad file is named at once, before anything runs
        trigger(needs("settings", guarded(preview)), [upload, pasted], [seeds_said, seeds_table])
    @guarded
    def on_save(project_, upload_, choice, typed, *rest):
        return save_recipe(project_, seeds_of(project_, upload_, choice, typed), *rest)

    save_btn.click(needs("settings", on_save), [folder, upload, *kept.inputs, pasted, demo, base, finetuned, adapter, target, *values],
                   message)
    stop_btn.click(needs("run", on_stop), [folder, *values], [message, *view_outputs])
    metric.change(lambda m: str(DEFAULT_THRESHOLDS[m]), [metric], [threshold])
    for widget in values:  # the shell command follows every setting at once
        widget.change(command, [folder, *values], shell, show_progress="hidden")
    timer.tick(changes_only(refreshed, watched, len(view_outputs)), [last, folder, *values], [*view_outputs, last],
               trigger_mode="once", show_progress="hidden")
    app.load(on_project, [folder, kept.choice, *values], [kept.choice, *view_outputs])
    return Tab(folder, reread(on_project, [folder, kept.choice, *values], [kept.choice, *view_outputs]))
