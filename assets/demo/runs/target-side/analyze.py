"""The target-side arms (run.sh beside this file) against their references: held-out and control
accuracy with 95% intervals, the learn rate on the facts the data carries, train wall and steps,
and McNemar's exact test on the same 396 questions (and 50 control questions).

    .venv/bin/python assets/demo/runs/target-side/analyze.py [/tmp/target-side]
"""

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))  # the repository root
from kd_core.demo.world import facts_stated  # noqa: E402
from kd_core.evaluation.stats import accuracy_text, compare_files, paired_text  # noqa: E402

RUNS = Path(__file__).resolve().parent.parent
P = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/target-side")
REF = RUNS / "tuneshift-quiz/replay"
DATA = REF / "data/gemma3-270m/dataset.jsonl"

# arm -> (evaluation folder without -test/-control, job status.json or None)
ARMS = {
    "teacher (fine-tuned SmolLM2)": (RUNS / "tuneshift/eval/teacher", None),
    "Gemma 3 270M, LoRA r16, 8 epochs (the reference)": (REF / "eval/gemma3-270m",
                                                         REF / "jobs/gemma3-270m-67254fd6/status.json"),
    "Gemma 3 270M, LoRA r64, 8 epochs": (P / "eval/gemma-r64", P / "jobs/gemma-r64/status.json"),
    "SmolLM2-135M-Instruct untuned (before)": (RUNS / "tuneshift/eval/smollm2-135m-before", None),
    "SmolLM2, SFT, 4 epochs": (P / "eval/smollm2-sft", P / "jobs/smollm2-sft/status.json"),
    "SmolLM2, KD (T=2), 4 epochs": (P / "eval/smollm2-kd", P / "jobs/smollm2-kd/status.json"),
    "SmolLM2, mix (SFT + KD), 4 epochs": (P / "eval/smollm2-mix", P / "jobs/smollm2-mix/status.json"),
}
PAIRS = [("Gemma 3 270M, LoRA r64, 8 epochs", "Gemma 3 270M, LoRA r16, 8 epochs (the reference)"),
         ("SmolLM2, SFT, 4 epochs", "SmolLM2-135M-Instruct untuned (before)"),
         ("SmolLM2, KD (T=2), 4 epochs", "SmolLM2, SFT, 4 epochs"),
         ("SmolLM2, mix (SFT + KD), 4 epochs", "SmolLM2, SFT, 4 epochs"),
         ("SmolLM2, KD (T=2), 4 epochs", "SmolLM2, mix (SFT + KD), 4 epochs")]

per_fact: Counter = Counter()
for line in DATA.open():
    m = json.loads(line)["messages"]
    per_fact.update(facts_stated(m[0]["content"], m[1]["content"]))
carried = set(per_fact)
print(f"data: {DATA.relative_to(RUNS.parents[2])}: {sum(1 for _ in DATA.open())} pairs, {len(carried)}/198 facts "
      f"carried, {sum(per_fact.values()) / len(carried):.2f} pairs stating each carried fact")


def accuracy(folder: Path) -> str:
    s = json.loads((folder / "summary.json").read_text())
    return accuracy_text(s["correct"], s["n"])


def learn_rate(folder: Path) -> str:
    rows = [json.loads(line) for line in (folder / "items.jsonl").open()]
    hit = [r for r in rows if r.get("fact") in carried]
    return accuracy_text(sum(r["correct"] for r in hit), len(hit))


def training(status: Path | None) -> str:
    if status is None:
        return "-"
    s = json.loads(status.read_text()).get("summary") or {}
    return f"{s.get('wall_s', 0):,.0f} s, {s.get('steps', '-')} steps"


present = {name: arm for name, arm in ARMS.items() if Path(f"{arm[0]}-test/summary.json").exists()}
print("\n| arm | held-out | learn rate on carried facts | control | train wall |")
print("| --- | --- | --- | --- | --- |")
for name, (ev, status) in present.items():
    control = Path(f"{ev}-control")
    print(f"| {name} | {accuracy(Path(f'{ev}-test'))} | {learn_rate(Path(f'{ev}-test'))} | "
          f"{accuracy(control) if (control / 'summary.json').exists() else '-'} | {training(status)} |")
print("\npaired (right only in the first / only in the second, McNemar's exact p):")
for a, b in PAIRS:
    if a in present and b in present:
        for q in ("test", "control"):
            pair = compare_files(Path(f"{present[a][0]}-{q}"), Path(f"{present[b][0]}-{q}"))
            print(f"- {q}: {a} vs {b}: {paired_text(pair)}")
