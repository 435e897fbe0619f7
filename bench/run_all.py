#!/usr/bin/env python
"""Run every benchmark in bench/ one after another (never in parallel: on a small CPU
two benchmarks would slow each other and both numbers would be wrong).  Each script
prints its own ratios and writes bench/results/*.json.

    .venv/bin/python bench/run_all.py            # the reported sizes
    .venv/bin/python bench/run_all.py --quick    # small sizes, to check that they run
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# script -> (arguments of the reported run, arguments of a quick run)
BENCHMARKS = {
    "bench_figures.py": (["--rows", "5000"], ["--rows", "500"]),
    "bench_scoring.py": (["--pairs", "500", "--naive-pairs", "150"], ["--pairs", "24", "--chunk", "12", "--out", "/tmp/kd-bench-scoring-quick.json"]),
    "bench_training.py": ([], ["--examples", "16", "--reps", "1", "--skip-memory", "--out", "/tmp/kd-bench-training-quick.json"]),
    "bench_kd.py": ([], ["--pairs", "16", "--epochs", "2", "--reps", "1", "--out", "/tmp/kd-bench-kd-quick.json"]),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=None, help="comma-separated script names")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    failed = []
    for script, (full, quick) in BENCHMARKS.items():
        if only and script not in only:
            continue
        cmd = [sys.executable, str(HERE / script), *(quick if args.quick else full)]
        print(f"== {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd)
        print(f"== {script}: exit {rc} after {time.perf_counter() - t0:.0f} s\n", flush=True)
        if rc:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
