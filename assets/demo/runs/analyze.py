"""Accuracy on the held-out questions whose facts the exported accepted prompts touch
(kd_core.demo.world.facts_stated), and on the rest, for each evaluation named on the command
line (folders under /tmp/transfer/eval written by a run's run_evals.sh):

    .venv/bin/python assets/demo/runs/analyze.py gemma-sft-test teacher-test
"""
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root
from kd_core.demo.world import facts_stated, seed_fact_ids

ds = [json.loads(l) for l in open("/tmp/demo-expand/export/dataset.jsonl")]
covered = set()
for d in ds:
    covered |= facts_stated(d["messages"][0]["content"], d["messages"][1]["content"])
seeds = set(seed_fact_ids())
out = {"covered_facts": len(covered)}
for name in sys.argv[1:]:
    it = pd.read_json(f"/tmp/transfer/eval/{name}/items.jsonl", lines=True)
    fact = it["id"].str.split("-").str[0]
    cov = fact.isin(covered)
    out[name] = {"all": [int(it.correct.sum()), len(it)], "covered": [int(it.correct[cov].sum()), int(cov.sum())],
                 "not_covered": [int(it.correct[~cov].sum()), int((~cov).sum())],
                 "covered_beyond_seeds": [int(it.correct[cov & ~fact.isin(seeds)].sum()), int((cov & ~fact.isin(seeds)).sum())]}
print(json.dumps(out, indent=1))
