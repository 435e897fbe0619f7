"""Figures over a scored table: the right traces, lines and hover text, built fast."""

import math
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from kd_core.figures import gap_histogram, gap_scatter, token_heatmap
from kd_core.tuneshift.gaps import GapConfig, add_gaps


def table(n=40, seed=0):
    rng = np.random.default_rng(seed)
    ll_ft = -rng.uniform(0.2, 3.0, n)
    ll_base = ll_ft - rng.normal(0.4, 0.8, n)
    lp_ft = [list(-rng.uniform(0, 3, k)) for k in rng.integers(1, 30, n)]
    lp_base = [list(np.array(f) - rng.normal(0.3, 1.0, len(f))) for f in lp_ft]
    df = pd.DataFrame({
        "prompt": [f"Question <{i}> about the salt guild?" for i in range(n)],
        "response": ["The answer is long. " * 10 for _ in range(n)],
        "ll_ft": ll_ft, "ll_base": ll_base, "ppl_ft": np.exp(-ll_ft), "ppl_base": np.exp(-ll_base),
        "tokens": [[f" t{j}" for j in range(len(f))] for f in lp_ft], "token_lp_ft": lp_ft, "token_lp_base": lp_base,
    })
    return add_gaps(df, GapConfig())


def line_traces(fig):
    return [t for t in fig.data if isinstance(t, go.Scatter) and t.mode == "lines"]


def test_scatter_logratio_has_points_diagonal_and_threshold_line():
    df = table()
    fig = gap_scatter(df, "logratio", 0.7)
    points = [t for t in fig.data if isinstance(t, go.Scattergl)]
    assert len(points) == 1 and len(points[0].x) == len(df)
    np.testing.assert_allclose(points[0].x, -df["ll_ft"])  # log PPL = -mean log-likelihood
    np.testing.assert_allclose(points[0].y, -df["ll_base"])
    diag, thr = line_traces(fig)
    np.testing.assert_allclose(diag.y, diag.x)
    np.testing.assert_allclose(np.array(thr.y) - np.array(thr.x), [0.7, 0.7])
    n_above = int((df["gap_logratio"] > 0.7).sum())
    assert f"{n_above} of {len(df)} above tau = 0.7" in fig.layout.title.text


def test_scatter_diff_threshold_is_the_curve_where_ppl_gap_equals_tau():
    fig = gap_scatter(table(), "diff", 1.5)
    _, curve = line_traces(fig)
    np.testing.assert_allclose(np.exp(curve.y) - np.exp(curve.x), 1.5, rtol=1e-9)


def test_scatter_token_level_metric_is_colour_only_and_says_so():
    fig = gap_scatter(table(), "topk", 2.0)
    assert len(line_traces(fig)) == 1  # the diagonal only
    assert any("shown by colour only" in a.text for a in fig.layout.annotations)


def test_scatter_colours_by_curation_state_when_present():
    df = table()
    df["state"] = ["accepted", "rejected", "pending", "pending"] * (len(df) // 4)
    fig = gap_scatter(df, "logratio")
    points = [t for t in fig.data if isinstance(t, go.Scattergl)]
    assert sorted(t.name for t in points) == ["accepted (10)", "pending (20)", "rejected (10)"]
    by_label = gap_scatter(df, "logratio", color_by="label")
    assert {t.name.split(" ")[0] for t in by_label.data if isinstance(t, go.Scattergl)} <= {"above", "below"}


def test_hover_shows_prompt_and_first_80_chars_of_response_escaped():
    df = table(4)
    text = gap_scatter(df).data[0].text[0]
    assert "Question &lt;0&gt; about the salt guild?" in text  # user text is not markup
    shown = text.split("<br>")[1]
    assert len(shown) == 80 and shown.endswith("…")


def test_histogram_has_every_finite_gap_and_threshold_line():
    df = table()
    df.loc[0, "gap_logratio"] = math.nan
    fig = gap_histogram(df, "logratio", 0.5)
    assert len(fig.data[0].x) == len(df) - 1
    assert fig.layout.shapes[0].x0 == 0.5
    above = int((df["gap_logratio"] > 0.5).sum())
    assert f"{above} above" in fig.layout.annotations[0].text


def test_token_heatmap_cells_are_per_token_log_ratios():
    row = {"prompt": "Who?", "tokens": ["The", " salt", "\n", "<|im_end|>"],
           "token_lp_ft": [-1.0, -0.5, -2.0, -0.1], "token_lp_base": [-1.5, -4.0, -2.0, -0.2]}
    fig = token_heatmap(row, per_line=3)
    z = np.array(fig.data[0].z, dtype=float)
    assert z.shape == (2, 3)
    np.testing.assert_allclose(z[0], [0.5, 3.5, 0.0])
    assert z[1, 0] == pytest.approx(0.1) and np.isnan(z[1, 1:]).all()
    assert list(fig.data[0].text[0]) == ["The", " salt", "↵"] and fig.data[0].text[1][0] == "&lt;|im_end|&gt;"


def test_unknown_metric_is_a_user_error():
    from kd_core.errors import KDError

    with pytest.raises(KDError, match="unknown gap metric"):
        gap_scatter(table(), "ratio")


def test_scatter_of_5000_rows_builds_quickly():
    df = table(5000)
    t = time.perf_counter()
    gap_scatter(df, "logratio")
    assert time.perf_counter() - t < 2.0  # generous; bench/bench_figures.py measures it


def test_loss_curve_draws_each_logged_series_against_its_steps():
    from kd_core.figures import loss_curve

    rows = [{"step": 2, "max_steps": 10, "loss": 3.0, "loss_kd": 2.0, "loss_sft": 1.0},
            {"step": 4, "max_steps": 10, "loss": 2.5, "loss_kd": 1.7, "loss_sft": float("nan")},
            {"step": 4, "max_steps": 10, "eval_loss": 2.8},
            {"step": 6, "max_steps": 10, "loss": 2.0, "loss_kd": 1.2, "loss_sft": 0.8},
            {"step": 10, "max_steps": 10, "train_loss": 2.4, "train_runtime": 3.0}]  # Trainer's summary row: no curve
    fig = loss_curve(rows)
    by_name = {t.name: t for t in fig.data}
    assert list(by_name) == ["training loss", "KD part (forward KL)", "SFT part (cross-entropy)", "held-out loss"]
    assert list(by_name["training loss"].x) == [2, 4, 6] and list(by_name["training loss"].y) == [3.0, 2.5, 2.0]
    assert list(by_name["SFT part (cross-entropy)"].x) == [2, 6]  # the NaN step is left out
    assert list(by_name["held-out loss"].x) == [4] and by_name["held-out loss"].line.dash == "dash"
    assert tuple(fig.layout.xaxis.range) == (0, 10)


def test_loss_curve_without_rows_says_so_instead_of_an_empty_plot():
    from kd_core.figures import loss_curve

    for rows in ([], [{"step": 0, "max_steps": 10, "train_runtime": 1.0}]):
        fig = loss_curve(rows)
        assert not fig.data
        assert "No loss logged yet" in fig.layout.annotations[0].text
