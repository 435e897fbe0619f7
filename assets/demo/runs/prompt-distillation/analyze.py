"""Accuracy of each system of a prompt-distillation run on the held-out demo questions
whose facts the training answers carry (kd_core.demo.world.facts_stated: the pair names the
fact's subject and the answer holds its gold answer), and on the rest:

    .venv/bin/python assets/demo/runs/prompt-distillation/analyze.py PROJECT [--out FILE]
"""
import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))  # the repository root
from kd_core.demo.world import facts_stated  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("project")
ap.add_argument("--out", default=None)
args = ap.parse_args()
pd_dir = Path(args.project) / "pd"
covered = {}
for mode in ("kd", "sft"):
    facts = set()
    for line in (pd_dir / f"train-{mode}.jsonl").read_text().splitlines():
        row = json.loads(line)
        facts |= facts_stated(row["prompt"], row["response"])
    covered[mode] = facts
out = {"facts_carried": {m: len(f) for m, f in covered.items()}}
for system, mode in (("closed-book", "kd"), ("sft", "sft"), ("pd", "kd"), ("rag", "kd"), ("pd+rag", "kd")):
    path = pd_dir / "eval" / system.replace("+", "-") / "items.jsonl"
    if not path.exists():
        continue
    it = pd.read_json(path, lines=True)
    cov = it["fact"].isin(covered[mode])
    out[system] = {"all": [int(it.correct.sum()), len(it)], "carried": [int(it.correct[cov].sum()), int(cov.sum())],
                   "not_carried": [int(it.correct[~cov].sum()), int((~cov).sum())], "carried_by": mode}
text = json.dumps(out, indent=1)
print(text)
if args.out:
    Path(args.out).write_text(text + "\n")
