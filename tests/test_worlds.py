"""The second world (assets/worlds/herbarium) is what its build script writes, and its held-out
questions are a fair test: each asks about one of its facts, with that fact's answer as gold, in
words no training pair uses."""

import json
import runpy
from pathlib import Path

HERB = Path(__file__).resolve().parents[1] / "assets" / "worlds" / "herbarium"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_committed_herbarium_files_are_what_build_py_writes(tmp_path):
    runpy.run_path(str(HERB / "build.py"))["main"](tmp_path)
    for name in ("facts.jsonl", "finetune.jsonl", "test.jsonl", "seeds.txt"):
        assert (tmp_path / name).read_text() == (HERB / name).read_text(), name


def test_herbarium_held_out_questions_ask_its_facts_in_words_no_training_pair_uses():
    facts = {f["id"]: f for f in _rows(HERB / "facts.jsonl")}
    asked = {m["messages"][0]["content"] for m in _rows(HERB / "finetune.jsonl")}
    test = _rows(HERB / "test.jsonl")
    assert len(facts) == 66 and len(test) == 132
    for q in test:
        fact = facts[q["fact"]]
        assert q["answers"][0] == fact["answer"] and fact["subject"] in q["question"]
        assert q["question"] not in asked
    demo_names = (HERB.parents[1] / "demo" / "world" / "entities.jsonl").read_text()
    assert not any(f["subject"] in demo_names or f["answer"] in demo_names for f in facts.values()
                   if f["relation"] != "blooms")  # months are common words; names are the world's own


def test_the_readme_states_the_herbarium_run_as_recorded():
    from kd_core.evaluation.stats import accuracy_text, compare_files, paired_text

    run = HERB / "run" / "tuneshift"
    readme = (HERB.parents[2] / "README.md").read_text()
    section = readme.split("### The same recipe on a second world", 1)[1].split("\n### ", 1)[0]
    for name in ("teacher-test", "gemma3-270m-before-test", "gemma3-270m-test"):
        s = json.loads((run / "eval" / name / "summary.json").read_text())
        assert accuracy_text(s["correct"], s["n"]) in section, name
    assert paired_text(compare_files(run / "eval/gemma3-270m-test", run / "eval/gemma3-270m-before-test")) in section
    arm = json.loads((run / "results.json").read_text())["arms"]["gemma3-270m"]
    assert f"{round(100 * arm['of_teacher'])}% of the teacher" in section
    assert f"{arm['facts_covered']}/132" in section and f"{arm['prompts']};" in section
