#!/usr/bin/env python
"""Benchmark the figures (not a test): a 5,000-row scored table into the gap scatter.

Goal: < 2 s from table to figure.  Also times the histogram, a token heatmap and the
figure's JSON (what a browser receives).  The comparison, in the same run: the same
scatter the plotly-express way (`px.scatter` with the prompt, answer and gap as hover
data, coloured by state), to JSON like ours.  Then the browser's part: each figure drawn
by plotly.js in headless Chromium (`Plotly.newPlot` until it resolves; software WebGL,
as on a machine without a GPU; skipped with --no-browser or without Chromium).  Writes
bench/results/figures-<n>.json.

    .venv/bin/python bench/bench_figures.py [--rows 5000] [--out FILE] [--no-browser]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.express as px  # noqa: E402

from bench.common import row, write  # noqa: E402
from kd_core.figures import gap_histogram, gap_scatter, token_heatmap  # noqa: E402
from kd_core.tuneshift.gaps import GapConfig, add_gaps  # noqa: E402


def synthetic_table(n: int, seed: int = 0) -> pd.DataFrame:
    """A scored table shaped like score_prompts' output (answers of 5-120 tokens)."""
    rng = np.random.default_rng(seed)
    ll_ft = -rng.uniform(0.2, 3.0, n)
    ll_base = ll_ft - rng.normal(0.4, 0.8, n)
    lens = rng.integers(5, 120, n)
    lp_ft = [(-rng.exponential(1.0, k)).tolist() for k in lens]
    lp_base = [(np.array(f) - rng.normal(0.3, 1.0, len(f))).tolist() for f in lp_ft]
    df = pd.DataFrame({
        "prompt": [f"Question {i}: what is known about the harbor of Brindlecove and its salt guild?" for i in range(n)],
        "response": ["The harbor of Brindlecove was built by the salt guild in the year 1120. " * 3] * n,
        "n_tokens": lens, "ll_ft": ll_ft, "ll_base": ll_base, "ppl_ft": np.exp(-ll_ft), "ppl_base": np.exp(-ll_base),
        "tokens": [[f" tok{j}" for j in range(k)] for k in lens], "token_lp_ft": lp_ft, "token_lp_base": lp_base,
    })
    df = add_gaps(df, GapConfig())
    df["state"] = rng.choice(["pending", "accepted", "rejected"], n)
    return df


def best_of(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def plotly_express(df: pd.DataFrame) -> str:
    """The baseline: the figure one writes first, with the same hover facts as ours."""
    frame = df.assign(log_ppl_ft=-df["ll_ft"], log_ppl_base=-df["ll_base"])
    return px.scatter(frame, x="log_ppl_ft", y="log_ppl_base", color="state",
                      hover_data=["prompt", "response", "gap_logratio"]).to_json()


def browser_draw_s(figures: dict[str, str], repeat: int) -> dict[str, dict[str, float]] | None:
    """Seconds plotly.js takes to draw each figure (JSON) in headless Chromium: best and median."""
    import plotly

    from scripts.browser import chromium_path  # the browser tests' lookup (KD_STUDIO_CHROMIUM first)

    chromium = chromium_path()
    if chromium is None:
        print("no Chromium: the browser's draw time is not measured")
        return None
    from playwright.sync_api import sync_playwright

    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--use-gl=swiftshader"])
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.set_content("<div id='plot' style='width:1100px;height:700px'></div>")
        page.add_script_tag(path=str(plotly_js))
        draw = """async (fig) => { const f = JSON.parse(fig); const d = document.getElementById('plot');
                   Plotly.purge(d); const t = performance.now(); await Plotly.newPlot(d, f.data, f.layout);
                   return (performance.now() - t) / 1000; }"""
        for name, fig in figures.items():
            page.evaluate(draw, fig)  # warm-up: shaders, fonts
            times = [page.evaluate(draw, fig) for _ in range(repeat)]
            out[name] = {"best": min(times), "median": statistics.median(times)}
            print(f"browser draw: {name:<36} best {min(times) * 1e3:7.1f} ms   median {statistics.median(times) * 1e3:7.1f} ms", flush=True)
        browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    df = synthetic_table(args.rows)
    gap_scatter(df.head(10))  # first call imports and warms plotly's validators
    cases = {
        "scatter logratio, colour by gap": lambda: gap_scatter(df.drop(columns="state"), "logratio"),
        "scatter diff, colour by state": lambda: gap_scatter(df, "diff"),
        "scatter topk, colour by label": lambda: gap_scatter(df, "topk", color_by="label"),
        "scatter logratio + to_json": lambda: gap_scatter(df.drop(columns="state"), "logratio").to_json(),
        "histogram": lambda: gap_histogram(df, "logratio"),
        "token heatmap (1 row)": lambda: token_heatmap(df.iloc[0]),
        "scatter diff, colour by state + to_json": lambda: gap_scatter(df, "diff").to_json(),
        "baseline: px.scatter, colour by state + to_json": lambda: plotly_express(df),
    }
    plotly_express(df.head(10))
    res = {"rows": args.rows, "goal_s": 2.0, "seconds": {}}
    for name, fn in cases.items():
        best, med = best_of(fn, args.repeat)
        res["seconds"][name] = {"best": best, "median": med}
        print(f"{name:<48} best {best * 1e3:7.1f} ms   median {med * 1e3:7.1f} ms")
    worst = max(v["median"] for k, v in res["seconds"].items() if k.startswith("scatter"))
    print(f"{args.rows:,} rows -> scatter figure: {worst:.3f} s at worst (goal < 2 s)")
    ours = res["seconds"]["scatter diff, colour by state + to_json"]["median"]
    baseline = res["seconds"]["baseline: px.scatter, colour by state + to_json"]["median"]
    print(f"table -> scatter JSON: ours {ours:.3f} s, px.scatter {baseline:.3f} s ({baseline / ours:.2f}x)")
    summary = [row(f"figures: {args.rows:,}-row table -> gap scatter JSON", ours, "s (median)",
                   "px.scatter, same hover data", baseline, higher_is_better=False, goal="< 2 s")]
    drawn = None if args.no_browser else browser_draw_s(
        {"ours": gap_scatter(df, "diff").to_json(), "px.scatter": plotly_express(df)}, args.repeat)
    if drawn:
        res["browser_draw_s"] = drawn
        summary.append(row(f"figures: {args.rows:,}-point scatter drawn in headless Chromium", drawn["ours"]["median"], "s (median)",
                           "px.scatter's figure", drawn["px.scatter"]["median"], higher_is_better=False, goal="< 2 s"))
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"figures-{args.rows}.json"
    write(out, res, summary)


if __name__ == "__main__":
    main()
