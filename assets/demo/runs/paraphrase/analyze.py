"""The paraphrase arm against its reference (README.md beside this file): the round's yield,
phrasings per carried fact, the learn rate on carried facts, held-out and control accuracy
with 95% intervals, and McNemar's exact test on the same 396 questions.

    .venv/bin/python assets/demo/runs/paraphrase/analyze.py [/tmp/paraphrase]
"""

import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))  # the repository root
from kd_core.demo.world import facts_stated  # noqa: E402
from kd_core.evaluation.stats import accuracy_text, compare_files, paired_text  # noqa: E402

RUNS = Path(__file__).resolve().parent.parent
P = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/paraphrase")
REF = RUNS / "tuneshift-quiz/replay"  # arm gemma3-270m: the same 254 prompts, 8 epochs
TEACHER = RUNS / "tuneshift/eval/teacher-test/items.jsonl"


def phrasings(dataset: Path) -> tuple[Counter, int]:
    """Pairs stating each fact, and the number of pairs."""
    per_fact: Counter = Counter()
    rows = [json.loads(line) for line in dataset.open()]
    for row in rows:
        if row.get("source") == "replay":
            continue
        m = row["messages"]
        per_fact.update(facts_stated(m[0]["content"], m[1]["content"]))
    return per_fact, len(rows)


def learn_rate(items: Path, carried: set[str]) -> str:
    rows = [json.loads(line) for line in items.open()]
    hit = [r for r in rows if r.get("fact") in carried]
    return accuracy_text(sum(r["correct"] for r in hit), len(hit))


def summary(path: Path) -> str:
    s = json.loads(path.read_text())
    return accuracy_text(s["correct"], s["n"])


db = sqlite3.connect(P / "root/demo/pool.sqlite")
made = dict(db.execute("SELECT state, COUNT(*) FROM prompts WHERE source = 'paraphrase' GROUP BY state").fetchall())
print(f"paraphrase round: {sum(made.values())} new prompts, by state {made}")
arms = {"reference: 254 accepted, 8 epochs": (REF / "data/gemma3-270m/dataset.jsonl", REF / "eval/gemma3-270m-test",
                                               REF / "eval/gemma3-270m-control"),
        "paraphrase: + accepted rewordings": (P / "data/dataset.jsonl", P / "eval/paraphrase-test",
                                                        P / "eval/paraphrase-control")}
print("\n| arm | pairs | facts carried | phrasings per carried fact | held-out | learn rate on carried facts "
      "| control | train steps |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for name, (data, test, control) in arms.items():
    per_fact, pairs = phrasings(data)
    mean = sum(per_fact.values()) / max(1, len(per_fact))
    job = P / "jobs/paraphrase/status.json" if "paraphrase" in name else REF / "jobs/gemma3-270m-67254fd6/status.json"
    steps = (json.loads(job.read_text()).get("summary") or {}).get("steps", "-") if job.exists() else "-"
    print(f"| {name} | {pairs} | {len(per_fact)}/198 | {mean:.2f} | {summary(test / 'summary.json')} | "
          f"{learn_rate(test / 'items.jsonl', set(per_fact))} | {summary(control / 'summary.json')} | {steps} |")
print(f"\nheld-out, paraphrase vs reference (right only in the paraphrase arm / only in the reference, McNemar): "
      f"{paired_text(compare_files(P / 'eval/paraphrase-test', REF / 'eval/gemma3-270m-test'))}")
print(f"control, paraphrase vs reference: "
      f"{paired_text(compare_files(P / 'eval/paraphrase-control', REF / 'eval/gemma3-270m-control'))}")
print(f"teacher held-out: {summary(RUNS / 'tuneshift/eval/teacher-test/summary.json')}")
