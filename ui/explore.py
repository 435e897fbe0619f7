"""Explore tab: the perplexity-gap scatter of a scored table, a live threshold, token view.

Each browser session holds its own table in gr.State; the figures and labels come from
kd_core (scoring.relabel, figures.*), the same functions the CLI writes HTML with.
"""

from __future__ import annotations

import math
from pathlib import Path

import gradio as gr
import numpy as np

from kd_core.errors import KDError
from kd_core.figures import gap_histogram, gap_scatter, token_heatmap
from kd_core.scoring import DEFAULT_THRESHOLDS, GAP_COLUMNS, METRICS, GapConfig, label_counts, load_scores, relabel

TABLE_COLUMNS = ["prompt", "response", "gap", "label"]


def slider_range(df, metric: str) -> tuple[float, float]:
    values = df[GAP_COLUMNS[metric]].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if metric == "diff":  # heavy-tailed: a few generic answers have a huge base perplexity
        lo, hi = np.percentile(values, [1, 99]) if len(values) else (0.0, 1.0)
    else:
        lo, hi = (values.min(), values.max()) if len(values) else (0.0, 1.0)
    tau = DEFAULT_THRESHOLDS[metric]
    return math.floor(min(lo, tau) * 100) / 100, math.ceil(max(hi, tau) * 100) / 100


def view(df, metric: str, threshold: float):
    """Everything the tab shows for one (table, metric, threshold)."""
    df = relabel(df, GapConfig(metric=metric, threshold=threshold))
    counts = label_counts(df)
    summary = (f"**{len(df)} prompts** · {metric} > {threshold:.3g}: "
               f"**{counts['above']} above**, {counts['below']} below")
    table = df.assign(gap=df[GAP_COLUMNS[metric]].round(3))[TABLE_COLUMNS]
    return df, summary, gap_scatter(df, metric, threshold, color_by="label"), gap_histogram(df, metric, threshold), table


def load_table(path: str):
    """A scored table, or the scored prompts of a project's pool (a folder with pool.sqlite)."""
    folder = Path(str(path).strip()).expanduser()
    if folder.is_dir():
        from kd_core.expansion import scored_frame
        from kd_core.pool import Pool

        if not (folder / "pool.sqlite").exists():
            raise KDError(f"{folder} is a folder without a pool.sqlite: give a scored .parquet table or a project folder")
        with Pool(folder, create=False) as pool:
            df = scored_frame(pool)
        if df.empty:
            raise KDError(f"{folder / 'pool.sqlite'} holds no scored prompt yet (run rounds in the Expand tab)")
        return df
    return load_scores(path)


def build(app: gr.Blocks, default_path: Path | None) -> None:
    df_state = gr.State(None)
    with gr.Row():
        path = gr.Textbox(label="Scored table (.parquet, from `kd-studio score`) or a project folder (its pool)",
                          value=str(default_path) if default_path else "", scale=4)
        load = gr.Button("Load", scale=1)
    with gr.Row():
        metric = gr.Dropdown(list(METRICS), value="logratio", label="Gap metric")
        threshold = gr.Slider(-2, 6, value=DEFAULT_THRESHOLDS["logratio"], step=0.01, label="Threshold")
    summary = gr.Markdown(elem_id="explore-summary")
    with gr.Row():
        scatter = gr.Plot(label="log PPL under base vs fine-tuned")
        hist = gr.Plot(label="Gap histogram")
    table = gr.Dataframe(headers=TABLE_COLUMNS, interactive=False, wrap=True, max_height=360)
    tokens = gr.Plot(label="Where the knowledge sits: log p_ft - log p_base per answer token (select a row)")
    outputs = [df_state, summary, scatter, hist, table]

    def on_load(p: str, m: str):
        try:
            df = load_table(p)
        except (KDError, OSError) as e:
            raise gr.Error(str(e)) from None
        lo, hi = slider_range(df, m)
        tau = DEFAULT_THRESHOLDS[m]
        return (*view(df, m, tau), gr.Slider(minimum=lo, maximum=hi, value=tau))

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

    load.click(on_load, [path, metric], [*outputs, threshold])
    metric.change(on_metric, [df_state, metric], [*outputs, threshold])
    threshold.change(on_threshold, [df_state, metric, threshold], outputs, trigger_mode="always_last")
    table.select(on_select, [df_state], tokens)
    if default_path is not None and Path(default_path).exists():
        app.load(on_load, [path, metric], [*outputs, threshold])
