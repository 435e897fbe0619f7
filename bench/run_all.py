#!/usr/bin/env python
"""Run every benchmark in bench/ one after another (never in parallel: on a small CPU
two benchmarks would slow each other and both numbers would be wrong), then print one
table: per comparison, this project's figure, the baseline's from the same run, and
their ratio (how many times better: tokens/s up, seconds down).  Each benchmark's JSON
and the table's (`summary.json`, with the machine's description) go to one folder.

    .venv/bin/python bench/run_all.py                      # the reported sizes -> bench/results/
    .venv/bin/python bench/run_all.py --quick              # small sizes, to check they run -> /tmp/kd-bench-quick/
    .venv/bin/python bench/run_all.py --only bench_generation.py,bench_figures.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.common import machine  # noqa: E402

# script -> (result file, arguments of the reported run, arguments of a quick run)
BENCHMARKS = {
    "bench_figures.py": ("figures-5000.json", ["--rows", "5000"], ["--rows", "500", "--repeat", "2"]),
    "bench_scoring.py": ("scoring-500.json", ["--pairs", "500", "--naive-pairs", "150"], ["--pairs", "24", "--chunk", "12", "--bf16-pairs", "4"]),
    "bench_generation.py": ("generation-96.json", [], ["--prompts", "8", "--chunk", "4", "--max-new-tokens", "16"]),
    "bench_training.py": ("training-128.json", [], ["--examples", "16", "--reps", "1", "--skip-memory"]),
    "bench_kd.py": ("kd-cache-64.json", [], ["--pairs", "16", "--epochs", "2", "--reps", "1"]),
    "bench_trl.py": ("trl.json", [], ["--quick"]),
}


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:,.3g}" if abs(x) < 100 else f"{x:,.0f}"


def table(rows: list[dict]) -> str:
    lines = ["| benchmark | this project | baseline (same run) | ratio | goal |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        base = f"{r['baseline']}: {_fmt(r['baseline_figure'])} {r['unit']}" if r.get("baseline") else ""
        ratio = f"{r['ratio']:.2f}x" if r.get("ratio") else ""
        lines.append(f"| {r['benchmark']} | {_fmt(r['figure'])} {r['unit']} | {base} | {ratio} | {r.get('goal', '')} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=None, help="comma-separated script names")
    ap.add_argument("--out-dir", default=None, help="default: bench/results (with --quick: /tmp/kd-bench-quick)")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    unknown = sorted((only or set()) - set(BENCHMARKS))
    if unknown:
        print(f"no benchmark {unknown[0]} (benchmarks: {', '.join(BENCHMARKS)})")
        return 2
    out_dir = Path(args.out_dir) if args.out_dir else (Path("/tmp/kd-bench-quick") if args.quick else HERE / "results")
    out_dir.mkdir(parents=True, exist_ok=True)
    failed, rows, walls = [], [], {}
    for script, (result, full, quick) in BENCHMARKS.items():
        if only and script not in only:
            continue
        out = out_dir / result
        cmd = [sys.executable, str(HERE / script), *(quick if args.quick else full), "--out", str(out)]
        print(f"== {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd)
        walls[script] = round(time.perf_counter() - t0, 1)
        print(f"== {script}: exit {rc} after {walls[script]:.0f} s\n", flush=True)
        if rc or not out.exists():
            failed.append(script)
    # The table holds every benchmark with a result in the folder, so one rerun with
    # --only refreshes its rows and keeps the others (each row names its file).
    for script, (result, _, _) in BENCHMARKS.items():
        if (out_dir / result).exists() and script not in failed:
            rows += [{**r, "file": result} for r in json.loads((out_dir / result).read_text()).get("summary", [])]
    print(table(rows))
    summary = out_dir / "summary.json"
    summary.write_text(json.dumps({"quick": args.quick, "rows": rows, "ran_now": list(walls), "wall_s": walls, "failed": failed, "machine": machine(),
                                   "when": time.strftime("%Y-%m-%d %H:%M:%S %Z")}, indent=2) + "\n")
    print(f"-> {summary}")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
