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
