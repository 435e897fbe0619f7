"""Records the demo project's pool (kd_core/demo/project.py builds the project from it).

The pool is the 254 prompts the recorded quiz recipe accepted (the replay run, ../runs/
tuneshift-quiz/replay/: its `gemma3-270m` arm's dataset, each row with its round, generator
and the fine-tuned model's answer), scored again here by the demo's base and fine-tuned
models exactly as an expansion scores them (per-token log-probabilities, perplexities, gaps),
so Explore and Curate show them as the expansion did. Run from the repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python assets/demo/project/record_pool.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import kd_core  # noqa: F401  (offline defaults first)
from kd_core.demo.models import demo_spec
from kd_core.models.loading import load_model
from kd_core.tuneshift.gaps import GapConfig
from kd_core.tuneshift.scoring import ScoreConfig, score_prompts

HERE = Path(__file__).resolve().parent
DATASET = HERE.parent / "runs" / "tuneshift-quiz" / "replay" / "data" / "gemma3-270m" / "dataset.jsonl"


def main() -> None:
    rows = [json.loads(line) for line in DATASET.read_text().splitlines() if line.strip()]
    prompts = [r["messages"][0]["content"] for r in rows]
    answers = [r["messages"][1]["content"] for r in rows]
    t = time.time()
    base, finetuned = load_model(demo_spec("base")), load_model(demo_spec("finetuned"))
    df = score_prompts(base, finetuned, prompts, ScoreConfig(gap=GapConfig(metric="logratio")), responses=answers)
    df.insert(0, "id", [r["id"] for r in rows])
    df["round"] = [r["round"] for r in rows]
    df["source"] = [r["source"] for r in rows]
    df["recorded_gap"] = [r["gap"] for r in rows]
    df.to_parquet(HERE / "pool.parquet", index=False)
    drift = (df["gap_logratio"] - df["recorded_gap"]).abs()
    print(f"{len(df)} prompts scored in {time.time() - t:.0f} s; gap vs recorded: max |diff| {drift.max():.4f}, "
          f"above the threshold {int((df['label'] == 'above').sum())}")


if __name__ == "__main__":
    main()
