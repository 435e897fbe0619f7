"""Plotly figures over a scored table (`kd_core.tuneshift.scoring`), built in the core so the UI,
the CLI (HTML files) and notebooks show the same thing.

- `gap_scatter`: each prompt at (log PPL under F, log PPL under B).  Points above the
  diagonal are answers F finds likelier than B does; the threshold is drawn as a line
  (log-ratio: y = x + tau; difference: the curve ppl_B - ppl_F = tau).  Token-level
  metrics have no line in this plane and are shown by colour only.
- `gap_histogram`: the distribution of the chosen gap with the threshold.
- `token_heatmap`: per-token log p_F - log p_B over one answer: where the knowledge sits.
"""

from __future__ import annotations

import html
import math
from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go

from kd_core.tuneshift.gaps import DEFAULT_THRESHOLDS, GAP_COLUMNS, METRICS

STATE_COLORS = {
    "accepted": "#2ca02c",
    "rejected": "#d62728",
    "pending": "#7f7f7f",
    "above": "#1f77b4",
    "below": "#bbbbbb",
}
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
METRIC_NAMES = {
    "logratio": "log PPL_base - log PPL_ft",
    "diff": "PPL_base - PPL_ft",
    "topk": "mean top-k token log-ratio",
    "max": "max token log-ratio",
}


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        from kd_core.errors import KDError

        raise KDError(f"unknown gap metric '{metric}' (choose one of: {', '.join(METRICS)})")


def _clip(s: Any, n: int) -> str:
    s = "" if s is None else str(s)
    s = s if len(s) <= n else s[: n - 1] + "…"
    # Plotly renders a subset of HTML in hover labels: user text must not become markup.
    return html.escape(s).replace("\n", " ")


def gap_scatter(
    df: Any,
    metric: str = "logratio",
    threshold: float | None = None,
    color_by: str = "auto",
    title: str | None = None,
) -> go.Figure:
    """log PPL_ft (x) against log PPL_base (y), one point per prompt.

    color_by: "gap" (continuous, the metric's column), "label" (above/below), "state"
    (a curation column), or "auto" (state when the table has one, else gap).
    """
    _check_metric(metric)
    tau = DEFAULT_THRESHOLDS[metric] if threshold is None else float(threshold)
    x = -df["ll_ft"].to_numpy(dtype=float)  # log PPL = -mean log-likelihood
    y = -df["ll_base"].to_numpy(dtype=float)
    col = GAP_COLUMNS[metric]
    gap = df[col].to_numpy(dtype=float) if col in df else np.full(len(df), np.nan)
    hover = [
        f"<b>{_clip(p, 100)}</b><br>{_clip(r, 80)}<br>gap {g:.3g}"
        for p, r, g in zip(df["prompt"], df["response"], gap)
    ]
    if color_by == "auto":
        color_by = "state" if "state" in df else "gap"
    # Each point carries its prompt id (a pool's; else its row), so a lasso or box
    # selection in the browser names the prompts it holds.
    ids = df["id"].to_numpy() if "id" in df else np.arange(len(df))

    fig = go.Figure()
    hovertemplate = "%{text}<br>log PPL ft %{x:.3f}, base %{y:.3f}<extra></extra>"
    if color_by in ("state", "label"):
        if color_by not in df:
            raise ValueError(f"the table has no '{color_by}' column to colour by")
        values = df[color_by].astype(str).to_numpy()
        for i, v in enumerate(sorted(set(values), key=str)):
            idx = np.flatnonzero(values == v)
            fig.add_trace(
                go.Scattergl(
                    x=x[idx], y=y[idx], mode="markers", name=f"{v} ({len(idx)})",
                    marker=dict(size=6, color=STATE_COLORS.get(v, _PALETTE[i % len(_PALETTE)]), opacity=0.75),
                    text=[hover[j] for j in idx], hovertemplate=hovertemplate, customdata=ids[idx],
                )
            )
    elif color_by == "gap":
        finite = gap[np.isfinite(gap)]
        # Centre the diverging scale on the threshold: blue above it, red below.
        span = float(np.nanpercentile(np.abs(finite - tau), 98)) if finite.size else 1.0
        fig.add_trace(
            go.Scattergl(
                x=x, y=y, mode="markers", name="prompts",
                marker=dict(
                    size=6, color=gap, colorscale="RdBu", cmin=tau - span, cmax=tau + span, opacity=0.8,
                    colorbar=dict(title=dict(text=f"gap ({metric})")),
                ),
                text=hover, hovertemplate=hovertemplate, customdata=ids,
            )
        )
    else:
        raise ValueError(f"color_by must be 'auto', 'gap', 'label' or 'state', not '{color_by}'")

    finite_xy = np.concatenate([x[np.isfinite(x)], y[np.isfinite(y)]])
    lo, hi = (float(finite_xy.min()), float(finite_xy.max())) if finite_xy.size else (0.0, 1.0)
    pad = 0.05 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="equal perplexity",
                             line=dict(color="#444", dash="dot", width=1), hoverinfo="skip"))
    if metric == "logratio":
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo + tau, hi + tau], mode="lines", name=f"threshold tau={tau:g}",
                                 line=dict(color="#1f77b4", dash="dash", width=1.5), hoverinfo="skip"))
    elif metric == "diff":
        xs = np.linspace(lo, hi, 200)
        with np.errstate(invalid="ignore", divide="ignore"):
            ys = np.log(np.exp(xs) + tau)  # ppl_base = ppl_ft + tau, in log space
        ok = np.isfinite(ys)
        fig.add_trace(go.Scatter(x=xs[ok], y=ys[ok], mode="lines", name=f"threshold tau={tau:g}",
                                 line=dict(color="#1f77b4", dash="dash", width=1.5), hoverinfo="skip"))
    else:
        fig.add_annotation(
            text=f"{METRIC_NAMES[metric]} > {tau:g} is a token-level threshold: shown by colour only",
            xref="paper", yref="paper", x=0, y=1.06, showarrow=False, font=dict(size=11),
        )
    above = int(np.sum(gap > tau))
    fig.update_layout(
        title=title or f"Perplexity gap ({METRIC_NAMES[metric]}): {above} of {len(df)} above tau = {tau:g}",
        xaxis_title="log PPL under fine-tuned", yaxis_title="log PPL under base",
        template="plotly_white", legend=dict(orientation="h", y=-0.15), height=520,
    )
    fig.update_xaxes(range=[lo, hi])
    fig.update_yaxes(range=[lo, hi])
    return fig


def gap_histogram(df: Any, metric: str = "logratio", threshold: float | None = None, bins: int = 60) -> go.Figure:
    """Distribution of one gap metric, the threshold as a vertical line."""
    _check_metric(metric)
    tau = DEFAULT_THRESHOLDS[metric] if threshold is None else float(threshold)
    gap = df[GAP_COLUMNS[metric]].to_numpy(dtype=float)
    gap = gap[np.isfinite(gap)]
    above = int(np.sum(gap > tau))
    fig = go.Figure(go.Histogram(x=gap, nbinsx=bins, name=metric, marker=dict(color="#1f77b4")))
    fig.add_vline(x=tau, line=dict(color="#d62728", dash="dash"),
                  annotation_text=f"tau={tau:g}: {above} above, {len(gap) - above} below", annotation_position="top")
    fig.update_layout(title=f"Gap distribution ({METRIC_NAMES[metric]})", xaxis_title=METRIC_NAMES[metric],
                      yaxis_title="prompts", template="plotly_white", bargap=0.05, height=380)
    return fig


def token_heatmap(row: Mapping[str, Any], per_line: int = 16) -> go.Figure:
    """Per-token log p_ft - log p_base over one answer, tokens written in their cells."""
    tokens = list(row["tokens"])
    delta = np.asarray(row["token_lp_ft"], dtype=float) - np.asarray(row["token_lp_base"], dtype=float)
    n = len(tokens)
    lines = max(1, math.ceil(n / per_line))
    z = np.full((lines, per_line), np.nan)
    text = [[""] * per_line for _ in range(lines)]
    for i, (t, d) in enumerate(zip(tokens, delta)):
        r, c = divmod(i, per_line)
        z[r, c] = d
        text[r][c] = html.escape(t.replace("\n", "↵")) or "␣"
    lim = float(np.nanmax(np.abs(delta))) if n else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z, text=text, texttemplate="%{text}", textfont=dict(size=11),
            colorscale="RdBu", zmid=0, zmin=-lim, zmax=lim, xgap=1, ygap=1,
            colorbar=dict(title=dict(text="log p_ft − log p_base")),
            hovertemplate="%{text}<br>Δ log p = %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    title = _clip(row.get("prompt", ""), 90) if hasattr(row, "get") else ""
    fig.update_layout(title=title, template="plotly_white", height=80 + 34 * lines, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def write_html(fig: go.Figure, path: Any) -> None:
    """A standalone HTML file (plotly.js inlined: opens offline)."""
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)


# Training curves: the series a job's log.jsonl may hold, in drawing order.
LOSS_SERIES = (
    ("loss", "training loss", "#1f77b4"),
    ("loss_kd", "KD part (forward KL)", "#ff7f0e"),
    ("loss_sft", "SFT part (cross-entropy)", "#2ca02c"),
    ("eval_loss", "held-out loss", "#d62728"),
)


def empty_figure(message: str, height: int = 380) -> go.Figure:
    """A blank figure that says why it is blank: a bare empty plot reads as broken."""
    fig = go.Figure()
    fig.add_annotation(text=html.escape(message), xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                       font=dict(size=14, color="#666"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(template="plotly_white", height=height)
    return fig


def loss_curve(rows: list[Mapping[str, Any]], title: str = "Training loss") -> go.Figure:
    """Loss against optimizer step from a job's log rows (`kd_core.runtime.jobs.read_log`).

    One line per series present (loss; loss_kd and loss_sft of a mix; eval_loss), each
    from the rows that carry it; non-finite values (a diverged step) are left out.  No
    rows yet: a figure saying so."""
    fig = go.Figure()
    for key, name, color in LOSS_SERIES:
        points = [(r["step"], float(r[key])) for r in rows
                  if isinstance(r.get(key), (int, float)) and isinstance(r.get("step"), (int, float)) and math.isfinite(float(r[key]))]
        if not points:
            continue
        steps, values = zip(*points)
        fig.add_trace(go.Scatter(
            x=list(steps), y=list(values), mode="lines+markers" if len(points) < 50 else "lines", name=name,
            line=dict(color=color, dash="dash" if key == "eval_loss" else "solid"), marker=dict(size=5),
            hovertemplate=f"{name}<br>step %{{x}}<br>%{{y:.4f}}<extra></extra>",
        ))
    if not fig.data:
        return empty_figure("No loss logged yet: the first point appears after the first logging step.")
    max_steps = next((r.get("max_steps") for r in reversed(rows) if isinstance(r.get("max_steps"), int) and r["max_steps"] > 0), None)
    fig.update_layout(title=title, xaxis_title="optimizer step", yaxis_title="loss", template="plotly_white",
                      legend=dict(orientation="h", y=-0.2), height=380)
    if max_steps:
        fig.update_xaxes(range=[0, max_steps])  # the axis shows how much of the run is left
    return fig


def accuracy_bars(df: Any, title: str = "Held-out accuracy") -> go.Figure:
    """One bar per evaluation (kd_core.evaluation.qa.project_results), labelled correct/n."""
    if df is None or not len(df):
        return empty_figure("No evaluation yet")
    fig = go.Figure(go.Bar(
        x=list(df["name"]), y=[100 * float(a) for a in df["accuracy"]],
        text=[f"{100 * float(a):.1f}% ({c}/{n})" for a, c, n in zip(df["accuracy"], df["correct"], df["n"])],
        textposition="outside", hovertext=list(df["model"]), marker_color="#4c78a8"))
    fig.update_layout(title=title, yaxis_title="accuracy (%)", yaxis_range=[0, 105], height=380,
                      margin=dict(l=50, r=20, t=50, b=90))
    return fig
