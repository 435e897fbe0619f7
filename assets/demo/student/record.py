"""Copies the trained student (run.sh) into this folder: the job's config, status and loss log,
the adapter's weights and config (its base named by its Hub id) with a model card, and the
evaluations. The temp folder it ran in is named nowhere: the paths are relative to a project,
and kd_core/demo/project.py points them at the demo project it builds.

    .venv/bin/python assets/demo/student/record.py /tmp/student
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import yaml

from kd_core.data.cards import portable_name
from kd_core.training.cards import EvalResult, write_adapter_card
from kd_core.training.config import TrainConfig
from kd_core.training.data import read_examples

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DATA = REPO / "assets" / "demo" / "runs" / "tuneshift-quiz" / "replay" / "data" / "gemma3-270m-replay" / "dataset.jsonl"
JOB = "jobs/gemma3-270m-replay-student"  # as kd_core.demo.project names it in the project
EVAL = "kd-studio eval --role target --target demo:gemma3-270m --adapter ADAPTER --questions demo:{q} --max-new-tokens 48"


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def main(ran_in: Path) -> None:
    job = ran_in / "jobs" / "student"
    for folder in ("job", "eval"):
        shutil.rmtree(HERE / folder, ignore_errors=True)
    (HERE / "job" / "adapter").mkdir(parents=True)
    (HERE / "eval").mkdir()
    shutil.copy2(job / "log.jsonl", HERE / "job" / "log.jsonl")
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy2(job / "adapter" / name, HERE / "job" / "adapter" / name)
    adapter_config = json.loads((job / "adapter" / "adapter_config.json").read_text())
    adapter_config["base_model_name_or_path"] = portable_name("demo:gemma3-270m")
    write_json(HERE / "job" / "adapter" / "adapter_config.json", adapter_config)

    config = yaml.safe_load((job / "config.yaml").read_text())
    config["data"] = "data/gemma3-270m-replay/dataset.jsonl"
    config["train"]["output_dir"] = JOB
    (HERE / "job" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    status = json.loads((job / "status.json").read_text())
    status["summary"]["adapter"] = f"{JOB}/adapter"
    write_json(HERE / "job" / "status.json", status)

    results = []
    for q in ("test", "control"):
        shutil.copytree(ran_in / "eval" / f"student-{q}", HERE / "eval" / f"student-{q}")
        summary = json.loads((ran_in / "eval" / f"student-{q}" / "summary.json").read_text())
        summary["model"] = f"demo:gemma3-270m + {JOB}/adapter"
        write_json(HERE / "eval" / f"student-{q}" / "summary.json", summary)
        results.append(EvalResult(f"demo:{q}", "accuracy", summary["accuracy"], n=summary["n"], command=EVAL.format(q=q)))
    write_adapter_card(HERE / "job" / "adapter", "demo:gemma3-270m", TrainConfig.from_dict(config["train"]), status["summary"],
                       read_examples(DATA), evaluation=results)
    print((HERE / "job" / "adapter" / "README.md").read_text()[:1200])


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/student"))
