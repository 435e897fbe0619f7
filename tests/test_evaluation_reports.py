"""The recipe and prompt-distillation reports show every accuracy with its 95% interval and
every before/after or arm-vs-arm comparison with McNemar's p, computed from the recorded
runs' graded answers (assets/demo/runs/)."""

import json
import os
import shutil
from pathlib import Path

import pytest

from kd_core.distill.report import comparisons as pd_comparisons, results_markdown
from kd_core.tuneshift.recipe_config import load_recipe
from kd_core.tuneshift.report import comparisons, report_markdown

RUNS = Path(__file__).resolve().parents[1] / "assets" / "demo" / "runs"


def test_the_recipe_report_tests_each_arm_against_before_and_against_the_first_arm():
    run = RUNS / "tuneshift"
    found = {c["what"]: c for c in comparisons(run, load_recipe(run / "recipe-as-run.yaml").arms)}
    after = found["gemma3-270m after vs before (test)"]
    assert (after["only_a"], after["only_b"], after["n"]) == (108, 0, 396)
    control = found["gemma3-270m after vs before (control)"]  # 38% -> 28% on 50 questions: within noise
    assert (control["only_a"], control["only_b"]) == (5, 10) and control["p"] == pytest.approx(0.3018, abs=1e-4)
    unfiltered = found["gemma3-270m-unfiltered vs gemma3-270m (test)"]
    assert (unfiltered["only_a"], unfiltered["only_b"]) == (34, 54) and unfiltered["p"] == pytest.approx(0.0422, abs=1e-4)
    assert "smollm2-135m vs gemma3-270m (test)" not in found  # arms of different targets are not paired

    report = json.loads((run / "results.json").read_text()) | {"comparisons": list(found.values())}
    md = report_markdown(report)
    assert "27.3% (108/396; 95% CI 23.1-31.9%)" in md  # the accepted arm's held-out accuracy
    assert "| gemma3-270m after vs before (control) | 50 | 5 / 10, p = 0.3 |" in md


def test_the_pd_report_pairs_systems_evaluated_on_the_same_questions(tmp_path):
    # Recorded graded answers stand in for two systems' evaluations.
    evals = tmp_path / "pd" / "eval"
    for system, recorded in (("closed-book", "gemma3-270m-before-test"), ("sft", "gemma3-270m-test"),
                             ("pd", "gemma3-270m-gap2-test"), ("rag", "gemma3-270m-before-control")):
        shutil.copytree(RUNS / "tuneshift" / "eval" / recorded, evals / system)
    found = pd_comparisons(tmp_path, ["closed-book", "sft", "pd", "rag"])
    pairs = {(c["first"], c["second"]): c for c in found}
    assert (pairs["sft", "closed-book"]["only_a"], pairs["sft", "closed-book"]["only_b"]) == (108, 0)
    assert (pairs["pd", "sft"]["only_a"], pairs["pd", "sft"]["only_b"]) == (47, 38)
    assert ("rag", "closed-book") not in pairs  # 50 control questions against 396 held-out ones: no pairing

    report = json.loads((RUNS / "prompt-distillation" / "results.json").read_text()) | {"comparisons": found}
    md = results_markdown(report)
    assert "19.9% (79/396; 95% CI 16.3-24.2%)" in md  # SFT as recorded (79/396 is 19.95%: the README rounded twice)
    assert "| pd | sft | 47 / 38, p = 0.39 |" in md


def test_the_readme_intervals_script_reproduces_the_recorded_figures(tmp_path):
    import subprocess
    import sys

    out, tests = tmp_path / "intervals.md", tmp_path / "intervals.json"
    subprocess.run([sys.executable, str(RUNS / "intervals.py"), "--out", str(out), "--json", str(tests)], check=True,
                   capture_output=True, text=True)
    text = out.read_text()
    assert "| Gemma after (208 accepted), held-out | 27.3% (108/396) | 23.1-31.9% |" in text
    assert "| oracle 208 vs accepted, held-out | 48.0% (190/396) | 27.3% (108/396) | 112 / 30 | p = 2.5e-12 | differ (p < 0.05) |" in text
    found = json.loads(tests.read_text())
    assert found["gemma_control"]["verdict"] == "within noise (p >= 0.05)"  # 38% -> 28% on 50 questions
    assert found["c_sft"]["verdict"] == "within noise (p >= 0.05)"  # counts only: p >= 0.05 for any overlap
    assert found["pd_sft"]["verdict"] == "differ (p < 0.05)"
    assert "## Which conclusions stand" in text


def test_the_readme_study_table_is_what_study_py_computes_from_the_recorded_runs():
    import subprocess
    import sys

    printed = subprocess.run([sys.executable, str(RUNS / "study.py")], capture_output=True, text=True, check=True,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"}).stdout.strip().splitlines()
    readme = (RUNS.parents[2] / "README.md").read_text()
    block = readme.split("<!-- study.py -->\n", 1)[1].split("\n<!-- /study.py -->", 1)[0].splitlines()
    assert block == printed
    assert sum(line.startswith("| ") for line in printed) >= 12  # header, rule, and at least ten arms
