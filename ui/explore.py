"""Explore tab: the perplexity-gap scatter of a scored table, a live threshold, token view.

Each browser session holds its own table in gr.State; the figures and labels come from
kd_core (gaps.relabel, figures.*), the same functions the CLI writes HTML with.  On a
project's pool, a lasso or box selection on the scatter names its prompts (each point
carries its pool id); "Generate more like these" runs one more expansion round whose
generators work from them (kd_core.tuneshift.expansion.more_like; the Expand tab follows it).
Until a project with a pool is open it shows the demo's scored table; the project bar
loads the opened project's pool.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import gradio as gr
import numpy as np

from kd_core.demo.world import DEMO_DIR
from kd_core.errors import KDError
from kd_core.figures import gap_histogram, gap_scatter, token_heatmap
from kd_core.project import Project
from kd_core.tuneshift.gaps import DEFAULT_THRESHOLDS, GAP_COLUMNS, METRICS, GapConfig, label_counts, load_scores, relabel
from ui.access import needs
from ui.errors import guarded
from ui.tab import OTHER, Context, Tab, has_project, input_file, picked, picker, project_box, project_dir, reread

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

DEMO_SCORES = DEMO_DIR / "demo_scores.parquet"  # what the tab shows until a project with a scored pool is open
TABLE_COLUMNS = ["prompt", "response", "gap", "label"]

# Plotly's selection event -> the ids textbox (Gradio has no selection event for gr.Plot).
# The figure is re-drawn on every update, so the listener is attached to each new plot.
SELECTION_JS = """
() => {
  const attach = () => {
    const plot = document.querySelector("#explore-scatter .js-plotly-plot");
    if (!plot || plot.dataset.kdSelect || !plot.on) return;
    plot.dataset.kdSelect = "1";
    plot.on("plotly_click", (ev) => {
      const p = ev && ev.points && ev.points[0];
      const box = document.querySelector("#explore-point textarea, #explore-point input");
      if (!p || p.customdata === undefined || !box) return;
      box.value = String(p.customdata);
      box.dispatchEvent(new Event("input", {bubbles: true}));
    });
    plot.on("plotly_selected", (ev) => {
      const ids = [...new Set(((ev && ev.points) || []).map((p) => p.customdata).filter((v) => v !== undefined))];
      const box = document.querySelector("#explore-picked textarea, #explore-picked input");
      if (!box) return;
      box.value = ids.sort((a, b) => a - b).join(",");
      box.dispatchEvent(new Event("input", {bubbles: true}));
    });
  };
  setInterval(attach, 500);
}
"""


def parse_ids(text: str | None) -> list[int]:
    """Prompt ids from '3, 17,42' (the selection box); a bad entry is named."""
    ids = []
    for part in (text or "").replace(" ", ",").split(","):
        if not part:
            continue
        if not part.isdigit():
            raise KDError(f"Selected prompt ids: {part!r} is not a prompt id")
        ids.append(int(part))
    return ids


def point_row(df: pd.DataFrame | None, point: str | None) -> pd.Series | None:
    """The table row of a clicked point (its pool id, or its row in a scored table)."""
    if df is None or not str(point or "").strip().isdigit():
        return None
    key = int(str(point).strip())
    if "id" in df:
        hits = df.index[df["id"] == key]
        return df.loc[hits[0]] if len(hits) else None
    return df.iloc[key] if key < len(df) else None


def more_like(path: str | None, picked: str | None) -> str:
    """Start a round of more prompts like the picked ones in the open project."""
    from kd_core.tuneshift.expansion import more_like as start

    if not has_project(path) or not Project.at(project_dir(path)).pool.exists():
        raise KDError("open a project folder (its pool) to generate more prompts: a scored table has no pool to add to")
    ids = parse_ids(picked)
    status = start(project_dir(path), ids)
    return (f"Round started (pid {status.get('pid')}) from {len(ids)} prompt{'s' * (len(ids) != 1)}: follow it in the "
            "**Expand** tab; the new prompts land in the pool for Curate.")


def slider_range(df: pd.DataFrame, metric: str) -> tuple[float, float]:
    values = df[GAP_COLUMNS[metric]].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if metric == "diff":  # heavy-tailed: a few generic answers have a huge base perplexity
        lo, hi = np.percentile(values, [1, 99]) if len(values) else (0.0, 1.0)
    else:
        lo, hi = (values.min(), values.max()) if len(values) else (0.0, 1.0)
    tau = DEFAULT_THRESHOLDS[metric]
    return math.floor(min(lo, tau) * 100) / 100, math.ceil(max(hi, tau) * 100) / 100


def view(df: pd.DataFrame, metric: str, threshold: float) -> tuple[pd.DataFrame, str, go.Figure, go.Figure, pd.DataFrame]:
    """Everything the tab shows for one (table, metric, threshold)."""
    df = relabel(df, GapConfig(metric=metric, threshold=threshold))
    counts = label_counts(df)
    summary = (f"**{len(df)} prompts** · {metric} > {threshold:.3g}: "
               f"**{counts['above']} above**, {counts['below']} below")
    table = df.assign(gap=df[GAP_COLUMNS[metric]].round(3))[TABLE_COLUMNS]
    return df, summary, gap_scatter(df, metric, threshold, color_by="label"), gap_histogram(df, metric, threshold), table


def load_table(path: str) -> pd.DataFrame:
    """A scored table, or the scored prompts of a project's pool (a folder with pool.sqlite)."""
    text = str(path or "").strip()
    # The demo's own scores are shipped read-only with the app; anything else a page names
    # is confined to the projects the account may open (ui.tab.input_file).
    folder = DEMO_SCORES if text == str(DEMO_SCORES) else input_file(text)
    if folder.is_dir():
        from kd_core.tuneshift.expansion import scored_frame
        from kd_core.tuneshift.pool import Pool

        pool_file = Project.at(folder).pool
        if not pool_file.exists():
            raise KDError(f"{folder} is a folder without a {pool_file.name}: give a scored .parquet table or a project folder")
        with Pool(folder, create=False) as pool:
            df = scored_frame(pool)
        if df.empty:
            raise KDError(f"{pool_file} holds no scored prompt yet (run rounds in the Expand tab)")
        return df
    return load_scores(path)


POOL = "pool"  # the table picker's choice: the open project's pool
TABLES = [("the open project's pool", POOL), ("the demo's scored table (demo_scores.parquet)", str(DEMO_SCORES))]
NO_POOL = ("No scored pool in this project yet: run rounds in **Expand** (or open the demo project); "
           "the demo's scored table is shown meanwhile.")


def first_path(project: str | None) -> str:
    """What the tab shows first: the server's project when its pool exists, else the demo's scores."""
    if has_project(project) and Project.at(project_dir(project)).pool.exists():
        return str(project)
    return str(DEMO_SCORES)


def table_path(project: str | None, choice: str | None, typed: str | None) -> str:
    """What the table picker names: the open project (its pool), the demo's table, or a typed path."""
    name = picked(choice, typed)
    if name == POOL:
        if not has_project(project):
            raise KDError("No project open: pick one in the project bar at the top (or pick the demo's scored table)")
        return str(project_dir(project))
    return name


def build(ctx: Context) -> Tab:
    """The tab's widgets; its path box is the tab's project box (a project's pool is a scored table)."""
    app = ctx.app
    df_state = gr.State(None)
    path = project_box(ctx, "explore-project")
    with gr.Row():
        with gr.Column(scale=4):
            source = picker("Scored prompts", "explore-table", info="other: a scored .parquet table from `kd-studio score`",
                            choices=[*TABLES, OTHER], value=POOL if first_path(ctx.project) != str(DEMO_SCORES) else TABLES[1][1])
        load = gr.Button("Load", scale=1, elem_id="explore-load")
    with gr.Row():
        metric = gr.Dropdown(list(METRICS), value="logratio", label="Gap metric")
        threshold = gr.Slider(-2, 6, value=DEFAULT_THRESHOLDS["logratio"], step=0.01, label="Threshold")
    summary = gr.Markdown(elem_id="explore-summary")
    with gr.Row():
        scatter = gr.Plot(label="log PPL under base vs fine-tuned (lasso or box select: pick prompts)", elem_id="explore-scatter")
        hist = gr.Plot(label="Gap histogram")
    with gr.Row():
        picked = gr.Textbox(label="Selected prompt ids (from the scatter's lasso or box, or typed)", elem_id="explore-picked",
                            scale=4)
        more = gr.Button("Generate more like these", elem_id="explore-more", scale=1)
    more_message = gr.Markdown(elem_id="explore-more-message")
    table = gr.Dataframe(headers=TABLE_COLUMNS, interactive=False, wrap=True, max_height=360)
    point = gr.Textbox(label="Prompt shown (click a point on the scatter, or a row of the table)", elem_id="explore-point")
    point_said = gr.Markdown(elem_id="explore-point-said")
    tokens = gr.Plot(label="Where the knowledge sits: log p_ft - log p_base per answer token", elem_id="explore-tokens")
    outputs = [df_state, summary, scatter, hist, table]

    def loaded(project_: str, choice: str, typed: str, m: str):
        df = load_table(table_path(project_, choice, typed))
        lo, hi = slider_range(df, m)
        tau = DEFAULT_THRESHOLDS[m]
        return (*view(df, m, tau), gr.Slider(minimum=lo, maximum=hi, value=tau))

    def on_load(project_: str, choice: str, typed: str, m: str):
        try:
            return loaded(project_, choice, typed, m)
        except (KDError, OSError) as e:
            raise gr.Error(str(e)) from None

    def on_open(project_: str, m: str):
        """A project opened (the project bar, a page load): its pool's scores when it has
        some, else the demo's table with one line saying what to do; no error pops up."""
        note = NO_POOL if has_project(project_) else ""
        try:
            has_pool = has_project(project_) and first_path(project_) != str(DEMO_SCORES)
        except KDError as e:  # a project this account may not open: said in the page
            return (None, f"Nothing to explore: {e}", None, None, None, gr.Slider(), TABLES[1][1])
        if has_pool:
            try:
                return (*loaded(project_, POOL, "", m), POOL)
            except (KDError, OSError):
                pass  # a pool without scores yet: the demo's table, and the line saying so
        try:
            shown = loaded(project_, TABLES[1][1], "", m)
        except (KDError, OSError) as e:
            return (None, f"Nothing to explore yet: {e}", None, None, None, gr.Slider(), TABLES[1][1])
        return (shown[0], f"{note}\n\n{shown[1]}" if note else shown[1], *shown[2:], TABLES[1][1])

    def on_metric(df, m: str):
        if df is None:
            return (None, "", None, None, None, gr.Slider())
        lo, hi = slider_range(df, m)
        tau = DEFAULT_THRESHOLDS[m]
        return (*view(df, m, tau), gr.Slider(minimum=lo, maximum=hi, value=tau))

    def on_threshold(df, m: str, t: float):
        if df is None:
            return None, "", None, None, None
        return view(df, m, t)

    def on_select(df, evt: gr.SelectData):
        if df is None:
            return None
        return token_heatmap(df.iloc[evt.index[0]])

    load.click(on_load, [path, *source.inputs, metric], [*outputs, threshold])
    source.choice.input(on_load, [path, *source.inputs, metric], [*outputs, threshold])
    metric.change(on_metric, [df_state, metric], [*outputs, threshold])
    threshold.change(on_threshold, [df_state, metric, threshold], outputs, trigger_mode="always_last")
    table.select(on_select, [df_state], tokens)

    def on_point(df, p: str):
        row = point_row(df, p)
        if row is None:
            return gr.skip(), gr.skip()
        said = f"**Prompt:** {row['prompt']}\n\n**Fine-tuned answer:** {row['response']}"
        return said, token_heatmap(row)

    point.change(on_point, [df_state, point], [point_said, tokens])
    more.click(needs("run", guarded(more_like)), [path, picked], more_message)
    app.load(None, None, None, js=SELECTION_JS)
    app.load(on_open, [path, metric], [*outputs, threshold, source.choice])
    return Tab(path, reread(on_open, [path, metric], [*outputs, threshold, source.choice]))
