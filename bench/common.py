"""What every benchmark writes beside its own numbers: the machine it ran on and one
summary row per comparison (this project's figure, the baseline's from the same run,
their ratio), which `run_all.py` gathers into one table."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """The facts that decide a CPU benchmark's numbers, and how busy the machine was."""
    import torch

    from kd_core.models import devices

    cpu = platform.processor() or platform.machine()
    try:  # the model name says more than "x86_64"
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem_gb = None
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(), "memory_gb": mem_gb and round(mem_gb, 1),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "cpu_bf16": devices._has_avx512bf16(), "compute": devices.compute_name(torch.device("cpu"), torch.float32),
            "python": platform.python_version(), "torch": torch.__version__, "load_average": os.getloadavg()[0]}


def row(benchmark: str, figure: float, unit: str, baseline: str | None = None, baseline_figure: float | None = None,
        higher_is_better: bool = True, goal: str = "") -> dict[str, Any]:
    """One line of the summary table.  The ratio is "how many times better than the
    baseline" whichever way the unit points (tokens/s up, seconds down)."""
    ratio = None
    if baseline_figure:
        ratio = figure / baseline_figure if higher_is_better else baseline_figure / figure
    return {"benchmark": benchmark, "figure": figure, "unit": unit, "baseline": baseline, "baseline_figure": baseline_figure,
            "ratio": ratio, "goal": goal}


def write(out: Path, res: dict[str, Any], summary: list[dict[str, Any]]) -> None:
    res["summary"] = summary
    res["machine"] = {**machine(), **res.get("machine", {})}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"-> {out}")
