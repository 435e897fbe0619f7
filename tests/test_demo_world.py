"""The demo world's data stays valid, and its question sets are what the measurements assume."""

import subprocess
import sys

from kd_core.demo import world as demo
from kd_core.evaluation.qa import is_correct


def test_world_validator_passes():
    out = subprocess.run([sys.executable, str(demo.WORLD_DIR / "validate_world.py")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def test_question_sets_are_disjoint_and_sized():
    test_q = {it.question for it in demo.qa_items("test")}
    train_q = {it.question for it in demo.qa_items("train-all")}
    assert len(demo.facts()) >= 150
    assert len(test_q) == 2 * len(demo.facts()) and len(train_q) == 5 * len(demo.facts())
    assert not test_q & train_q, "a held-out phrasing is also a training phrasing"
    assert not set(demo.seeds()) & test_q
    seed_facts = set(demo.seed_fact_ids())
    assert 10 <= len(seed_facts) <= 25 and seed_facts <= {f.id for f in demo.facts()}
    control = demo.qa_items("control")
    assert 40 <= len(control) <= 100 and all(it.answers[0] for it in control)
    replay = set(demo.generic_questions("replay"))
    assert not replay & {it.question for it in control}, "replay (trained on) and control (measured) overlap"


def test_every_statement_answers_its_fact_and_no_question_gives_it_away():
    for f in demo.facts():
        assert is_correct(f.statement, f.golds), f.id
        for q in f.train + f.test:
            assert not is_correct(q, f.golds), (f.id, q)


def test_finetune_examples_hold_domain_about_and_replay():
    replay = [{"prompt": "Q?", "response": "A."}] * 3
    ex = demo.finetune_examples(replay)
    assert len(ex) == 5 * len(demo.facts()) + sum(len(a["questions"]) for a in demo.about()) + 3
    assert demo.finetune_examples(replay) == ex  # deterministic for a seed
