#!/usr/bin/env python
"""How well the question-set coverage (kd_core/evaluation/coverage.py: a held-out question
is carried when a training answer states its gold answer and the pair names what it asks
about) agrees with the demo world's exact facts, on every recorded arm's training data.

For each arm under assets/demo/runs/*/data/ (and the replay run's): the held-out questions
(demo:test) carried by the exact count (their fact is stated by a pair:
kd_core.demo.world.facts_stated) and by the generic one, their overlap, and the arm's
accuracy on the questions each count marks carried, from the arm's recorded evaluation.
No model runs.

    HF_HUB_OFFLINE=1 .venv/bin/python assets/demo/runs/coverage.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RUNS = Path(__file__).resolve().parent
sys.path.insert(0, str(RUNS.parents[2]))

from kd_core.demo.world import facts_stated  # noqa: E402
from kd_core.evaluation.coverage import AnswerCoverage  # noqa: E402
from kd_core.evaluation.questions import question_set  # noqa: E402
from kd_core.evaluation.stats import accuracy_text  # noqa: E402


def main() -> None:
    items = question_set("demo:test")
    generic = AnswerCoverage(items)
    fact_of = {it.id: it.meta.get("fact") for it in items}
    print(f"demo:test: {len(items)} questions\n")
    print("| arm | pairs | carried: exact facts | carried: generic | both | exact only | generic only "
          "| accuracy on exact-carried | accuracy on generic-carried |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for data in sorted(RUNS.glob("*/data/*/dataset.jsonl")) + sorted(RUNS.glob("*/*/data/*/dataset.jsonl")):
        arm = data.parent.name
        facts: set[str] = set()
        carried: set[str] = set()
        pairs = 0
        for line in data.open():
            row = json.loads(line)
            if row.get("source") == "replay":
                continue
            m = row["messages"]
            pairs += 1
            facts |= facts_stated(m[0]["content"], m[1]["content"])
            carried |= generic.stated(m[0]["content"], m[1]["content"])
        exact = {q for q, f in fact_of.items() if f in facts}
        run = data.parents[2]
        items_file = run / "eval" / f"{arm}-test" / "items.jsonl"
        acc = {"exact": "-", "generic": "-"}
        if items_file.exists():
            right = {r["id"]: r["correct"] for r in map(json.loads, items_file.open())}
            for name, marked in (("exact", exact), ("generic", carried)):
                n = [q for q in marked if q in right]
                acc[name] = accuracy_text(sum(right[q] for q in n), len(n))
        print(f"| {run.relative_to(RUNS)}/{arm} | {pairs} | {len(exact)} | {len(carried)} | {len(exact & carried)} | "
              f"{len(exact - carried)} | {len(carried - exact)} | {acc['exact']} | {acc['generic']} |")


if __name__ == "__main__":
    main()
