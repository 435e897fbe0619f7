"""The transfer study's table (issue 20; README "Results"): every recorded arm on the demo with
its held-out accuracy (95% Wilson interval), the facts its data carries, pairs stating each
carried fact, the learn rate on carried facts, the generic control, its train wall, and
McNemar's exact test on the same 396 held-out questions against the previous best arm.
Everything is read from the recorded files under assets/demo/runs/ (no model runs):

    .venv/bin/python assets/demo/runs/study.py [--markdown]

Where an arm's training data was not committed (the first runs kept data cards only), its
facts carried and learn rate come from its recipe's results.json and "pairs per fact" is "-".
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root
from kd_core.demo.world import facts, facts_stated  # noqa: E402
from kd_core.evaluation.stats import accuracy_text, compare_files, paired_text  # noqa: E402

RUNS = Path(__file__).resolve().parent
TS, QUIZ, REPLAY = RUNS / "tuneshift", RUNS / "tuneshift-quiz", RUNS / "tuneshift-quiz/replay"
BEST = QUIZ / "epochs8/eval/test"  # the previous best: quiz data, 8 epochs, 38.1%


@dataclass
class Arm:
    name: str
    test: Path  # evaluation folders (summary.json, items.jsonl)
    control: Path | None = None
    data: Path | None = None  # the training rows (chat jsonl), when committed
    results: tuple[Path, str] | None = None  # (a recipe's results.json, arm name), when the data was not committed
    job: Path | None = None  # the job's status.json
    own_split: bool = True  # results.json's covered / not-covered split is of this arm's own evaluation


def oracle_data() -> Path:
    out = Path(tempfile.mkdtemp(prefix="oracle-data-"))
    subprocess.run([sys.executable, str(RUNS / "oracle/make_data.py"), str(out)], check=True, capture_output=True)
    return out


def arms() -> list[Arm]:
    od = oracle_data()
    out = [
        Arm("teacher: the fine-tuned SmolLM2", TS / "eval/teacher-test", TS / "eval/teacher-control"),
        Arm("Gemma 3 270M before", TS / "eval/gemma3-270m-before-test", TS / "eval/gemma3-270m-before-control"),
        Arm("oracle ceiling: the fine-tune's own 1,116 pairs, 4 ep", RUNS / "oracle/eval/oracle-full-test",
            RUNS / "oracle/eval/oracle-full-control", od / "oracle-full.jsonl", job=RUNS / "oracle/jobs/oracle-full/status.json"),
        Arm("oracle, size-matched: 208 of them, 4 ep", RUNS / "oracle/eval/oracle-208-test",
            RUNS / "oracle/eval/oracle-208-control", od / "oracle-208.jsonl", job=RUNS / "oracle/jobs/oracle-208/status.json"),
        Arm("accepted (208), 4 ep", TS / "eval/gemma3-270m-test", TS / "eval/gemma3-270m-control",
            results=(TS / "results.json", "gemma3-270m"), job=TS / "jobs/gemma3-270m-b1498280/status.json"),
        Arm("gap >= 2.0 (177), 4 ep", TS / "eval/gemma3-270m-gap2-test", TS / "eval/gemma3-270m-gap2-control",
            results=(TS / "results.json", "gemma3-270m-gap2"), job=TS / "jobs/gemma3-270m-gap2-2007fb5a/status.json"),
        Arm("+ quiz round (266), 4 ep", QUIZ / "eval/gemma3-270m-test", QUIZ / "eval/gemma3-270m-control",
            results=(QUIZ / "results.json", "gemma3-270m"), job=QUIZ / "jobs/gemma3-270m-3a33054c/status.json"),
        Arm("+ quiz round (266), 8 ep: the previous best", BEST, QUIZ / "epochs8/eval/control",
            results=(QUIZ / "results.json", "gemma3-270m"), job=QUIZ / "epochs8/job/status.json", own_split=False),
        Arm("re-run quiz pool (254), 8 ep: the reference", REPLAY / "eval/gemma3-270m-test", REPLAY / "eval/gemma3-270m-control",
            REPLAY / "data/gemma3-270m/dataset.jsonl", job=REPLAY / "jobs/gemma3-270m-67254fd6/status.json"),
        Arm("reference + 80 replay answers, 8 ep", REPLAY / "eval/gemma3-270m-replay-test",
            REPLAY / "eval/gemma3-270m-replay-control", REPLAY / "data/gemma3-270m-replay/dataset.jsonl",
            job=REPLAY / "jobs/gemma3-270m-replay-f07d6aea/status.json"),
        Arm("reference + paraphrase round (289 pairs), 7 ep", RUNS / "paraphrase/eval/paraphrase-test",
            RUNS / "paraphrase/eval/paraphrase-control", RUNS / "paraphrase/data/dataset.jsonl",
            job=RUNS / "paraphrase/jobs/paraphrase/status.json"),
    ]
    out.append(Arm("reference + coverage crawl until dry (422 prompts), 5 ep", RUNS / "crawl/eval/crawl-test",
                   RUNS / "crawl/eval/crawl-control", RUNS / "crawl/data/dataset.jsonl", job=RUNS / "crawl/jobs/crawl/status.json"))
    out.append(Arm("crawl pool + reverse rounds, 265 steps", RUNS / "reverse/eval/reverse-test",
                   RUNS / "reverse/eval/reverse-control", RUNS / "reverse/data/dataset.jsonl",
                   job=RUNS / "reverse/jobs/reverse/status.json"))
    out.append(Arm("crawl pool + 3 sampled answers a prompt, 4 ep", RUNS / "crawl-samples/eval/crawl-samples-test",
                   RUNS / "crawl-samples/eval/crawl-samples-control", RUNS / "crawl-samples/data/dataset.jsonl",
                   job=RUNS / "crawl-samples/jobs/crawl-samples/status.json"))
    out.append(Arm("the same 553 rows, 8 ep (the oracle's 560 steps)", RUNS / "crawl-samples-8ep/eval/crawl-samples-8ep-test",
                   RUNS / "crawl-samples-8ep/eval/crawl-samples-8ep-control", RUNS / "crawl-samples/data/dataset.jsonl",
                   job=RUNS / "crawl-samples-8ep/jobs/crawl-samples-8ep/status.json"))
    out.append(Arm("the same 553 rows, full fine-tune of every block (lr 1e-4), 4 ep",
                   RUNS / "full-finetune/eval/full-finetune-test", RUNS / "full-finetune/eval/full-finetune-control",
                   RUNS / "crawl-samples/data/dataset.jsonl", job=RUNS / "full-finetune/jobs/full-finetune/status.json"))
    out.append(Arm("SmolLM2-135M before (the teacher's base, no LoRA)", TS / "eval/smollm2-135m-before-test",
                   TS / "eval/smollm2-135m-before-control"))
    for arm, what in (("gemma-r64", "reference data, LoRA r64, 8 ep"), ("smollm2-sft", "SmolLM2 target, SFT, 4 ep"),
                      ("smollm2-kd", "SmolLM2 target, KD T=2, 4 ep"), ("smollm2-mix", "SmolLM2 target, SFT + KD, 4 ep")):
        side = RUNS / "target-side"
        out.append(Arm(what, side / f"eval/{arm}-test", side / f"eval/{arm}-control", REPLAY / "data/gemma3-270m/dataset.jsonl",
                       job=side / f"jobs/{arm}/status.json"))
    return [a for a in out if (a.test / "summary.json").exists()]


def summary_text(folder: Path | None) -> str:
    if folder is None or not (folder / "summary.json").exists():
        return "-"
    s = json.loads((folder / "summary.json").read_text())
    return accuracy_text(s["correct"], s["n"])


def carried(arm: Arm) -> tuple[str, str, str]:
    """(facts carried, pairs stating each carried fact, learn rate on the carried facts' questions)."""
    total = len(facts())
    if arm.data is not None and arm.data.exists():
        per_fact: Counter = Counter()
        for line in arm.data.open():
            row = json.loads(line)
            if row.get("source") == "replay":  # the target's own generic answers state no world fact
                continue
            m = row["messages"]
            per_fact.update(facts_stated(m[0]["content"], m[1]["content"]))
        items = [json.loads(line) for line in (arm.test / "items.jsonl").open()]
        hit = [r for r in items if r.get("fact") in per_fact]
        return (f"{len(per_fact)}/{total}", f"{sum(per_fact.values()) / max(1, len(per_fact)):.2f}",
                accuracy_text(sum(r["correct"] for r in hit), len(hit)))
    if arm.results is not None:
        r = json.loads(arm.results[0].read_text())["arms"][arm.results[1]]
        split = r["split"][f"{arm.results[1]}-test"]["covered"]
        return f"{r['facts_covered']}/{total}", "-", accuracy_text(*split) if arm.own_split else "-"
    return "-", "-", "-"


def wall(arm: Arm) -> str:
    if arm.job is None or not arm.job.exists():
        return "-"
    s = json.loads(arm.job.read_text()).get("summary") or {}
    return f"{s['wall_s']:,.0f} s ({s['steps']} steps)" if "wall_s" in s else "-"


def main() -> None:
    rows = arms()
    print("| arm | held-out (396) | facts carried | pairs per carried fact | learn rate on carried facts | control (50) "
          "| train wall | vs the previous best (only this / only that, p) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for arm in rows:
        f, p, learn = carried(arm)  # "-" for an arm without training data (the teacher, a model before)
        vs = "-" if arm.test == BEST else paired_text(compare_files(arm.test, BEST))
        print(f"| {arm.name} | {summary_text(arm.test)} | {f} | {p} | {learn} | {summary_text(arm.control)} | {wall(arm)} | {vs} |")


if __name__ == "__main__":
    main()
