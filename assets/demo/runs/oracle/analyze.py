"""The oracle table (issue 20): held-out accuracy with its 95% Wilson interval, and each arm
against the recorded TuneShift arms on the same 396 questions with McNemar's exact test.

    .venv/bin/python assets/demo/runs/oracle/analyze.py [/tmp/oracle]
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))  # the repository root
from kd_core.evaluation.stats import grades, mcnemar, wilson  # noqa: E402  (the statistics live in the core)

RUNS = Path(__file__).resolve().parent.parent
P = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/oracle")
TEACHER = 0.8914  # assets/demo/runs/tuneshift/eval/teacher-test (353/396)

ARMS = {  # name -> (items.jsonl of the held-out questions, what it is)
    "teacher": (RUNS / "tuneshift/eval/teacher-test/items.jsonl", "the fine-tuned SmolLM2 (demo LoRA)"),
    "gemma before": (RUNS / "tuneshift/eval/gemma3-270m-before-test/items.jsonl", "Gemma 3 270M untrained"),
    "accepted, 4 ep": (RUNS / "tuneshift/eval/gemma3-270m-test/items.jsonl", "TuneShift accepted prompts (208), 4 epochs"),
    "quiz, 8 ep (best)": (RUNS / "tuneshift-quiz/epochs8/eval/test/items.jsonl", "TuneShift + quiz round, 8 epochs"),
    "oracle 208, 4 ep": (P / "eval/oracle-208-test/items.jsonl", "208 of the fine-tune's own pairs, 4 epochs"),
    "oracle 1116, 4 ep": (P / "eval/oracle-full-test/items.jsonl", "all 1,116 of the fine-tune's own pairs, 4 epochs"),
}
CONTROL = {"oracle 208, 4 ep": P / "eval/oracle-208-control/summary.json", "oracle 1116, 4 ep": P / "eval/oracle-full-control/summary.json",
           "accepted, 4 ep": RUNS / "tuneshift/eval/gemma3-270m-control/summary.json",
           "gemma before": RUNS / "tuneshift/eval/gemma3-270m-before-control/summary.json"}


def items(path: Path) -> dict[str, bool]:
    return grades(path).by_id


found = {k: items(v[0]) for k, v in ARMS.items() if v[0].exists()}
print("| arm | what | held-out | 95% interval | of teacher | control | vs accepted, 4 ep (only this / only that, p) | vs quiz, 8 ep |")
print("|---|---|---|---|---|---|---|---|")
for name, got in found.items():
    k, n = sum(got.values()), len(got)
    lo, hi = wilson(k, n)
    ctl = json.loads(CONTROL[name].read_text()) if name in CONTROL and CONTROL[name].exists() else None
    control = "" if ctl is None else f"{ctl['accuracy']:.0%}"
    vs = []
    for ref in ("accepted, 4 ep", "quiz, 8 ep (best)"):
        if ref in found and ref != name and name not in ("teacher", "gemma before"):
            pair = mcnemar(got, found[ref])
            vs.append(f"{pair.only_a} / {pair.only_b}, p = {pair.p:.2g}")
        else:
            vs.append("")
    print(f"| {name} | {ARMS[name][1]} | {k / n:.1%} ({k}/{n}) | {lo:.1%}-{hi:.1%} | {k / n / TEACHER:.0%} | "
          f"{control} | {vs[0]} | {vs[1]} |")
