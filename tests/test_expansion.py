"""TuneShift-KD expansion: generators, the loop on tiny models, kills, races and bad input."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from kd_core.cli import main as cli
from kd_core.errors import InputFileError, KDError
from kd_core.models.generation import GenerationConfig
from kd_core.models.loading import ModelSpec, load_model
from kd_core.tuneshift.expansion import (
    META_CURRENT,
    META_LOG,
    ExpansionConfig,
    add_seeds,
    exemplars,
    names_by_round,
    run_expansion,
)
from kd_core.tuneshift.generators import (
    CrawlGenerator,
    Exemplar,
    FewShotGenerator,
    GenContext,
    ListGenerator,
    ReverseGenerator,
    SelfQueryGenerator,
    gap_spans,
    reverse_pairs,
    reverse_questions,
)
from kd_core.tuneshift.pool import Pool, PoolFilter
from kd_core.tuneshift.questions import parse_prompt
from tests import expansion_helpers as helpers
from tests.test_pool import _as_unprivileged, shared_dir  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def models(tiny_llama_dir, tiny_llama_adapter):
    return load_model(ModelSpec(str(tiny_llama_dir))), load_model(ModelSpec(str(tiny_llama_dir), adapter=str(tiny_llama_adapter)))


# --- parsing and spans (pure) -------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    ("1. Who built Hollowlight Tower?", "Who built Hollowlight Tower?"),
    ("Question: Where is Brindlecove?\nAnswer: on Tessarine", "Where is Brindlecove?"),
    ('  2) "What is the Ismere Lens made of?"', "What is the Ismere Lens made of?"),
    ("I sail often. Which strait is the widest?", "Which strait is the widest?"),
    ("Tell me about Saltmere", "Tell me about Saltmere"),
    ("Rewrite: Who was Maravel Dunstrake?", "Who was Maravel Dunstrake?"),
    ("Ask: What was Maravel Dunstrake's hobby?", "What was Maravel Dunstrake's hobby?"),
    ("Version 2: Where is Brindlecove?", "Where is Brindlecove?"),
    ("Ask a question like: Who built Hollowlight Tower?", "Who built Hollowlight Tower?"),
    ("Write a question such as Where is Brindlecove?", "Where is Brindlecove?"),
    # three lines the paraphrase round on the demo pool kept whole (assets/demo/runs/paraphrase/data)
    ('Ask a different question: "What is the longest point on Tessarine?', "What is the longest point on Tessarine?"),
    ('You can write a question like this: "Can you tell me about Corvin Ashgrell\'s greatest victory?',
     "Can you tell me about Corvin Ashgrell's greatest victory?"),
    ('Can you give me a different answer for the question "What was the nickname of the Order of the Pale Lantern?',
     "What was the nickname of the Order of the Pale Lantern?"),
    ("Ask Tavish Orrenby which ship he built?", "Ask Tavish Orrenby which ship he built?"),
    # a quoted title inside the question is part of it, question mark and all
    ('Who wrote "Why Now?"?', 'Who wrote "Why Now?"?'),
    ('Who sang "Where Are You?" at the Lantern Fair?', 'Who sang "Where Are You?" at the Lantern Fair?'),
    ("The most famous keeper was Tavish Orrenby.", None),  # a statement, not a prompt
    ("<|im_end|><|im_start|>user", None),
    ("ok?", None),
    ("", None),
])
def test_parse_prompt_finds_the_question_and_refuses_what_is_not_one(raw, expected):
    assert parse_prompt(raw) == expected


def test_gap_spans_are_unpredicted_names_not_numbers_nor_names_from_the_prompt():
    tokens = ["T", "ess", "arine", " is", " the", " largest", " island", " of", " the", " V", "aren", "holt", " Isles",
              ",", " founded", " in", " 12", "64", " by", " The", " Salt", "mere", " Guild", ".", "<|im_end|>"]
    gaps = [5.3, 10.4, 9.7, 3.2, 1.0, 1.8, 0.4, 1.0, 0.6, 2.1, 0.0, 0.0, 4.4, 0.1, 0.2, 0.1, 6.0, 6.0, 0.1, 0.1, 0.5, 0.2,
            0.3, 0.1, 0.7]
    spans = gap_spans(tokens, gaps, min_gap=2.0, prompt="Which island of the archipelago is largest?")
    assert spans == [("Tessarine", 10.4), ("Varenholt Isles", 4.4)]  # "Salt mere Guild" is predictable; 1264 is a number
    assert gap_spans(tokens, gaps, min_gap=2.0, prompt="Tell me about Tessarine") == [("Varenholt Isles", 4.4)]


def test_crawl_asks_about_each_answers_names_breadth_first_and_skips_what_the_pool_knows():
    def ex(i, text, names):
        tokens = [f" {w}" for n in names for w in (n, "was", "here.")]
        gaps = [g for _ in names for g in (5.0 + i, 0.0, 0.0)]
        return Exemplar(i, text, "".join(tokens), tuple(tokens), tuple(gaps))

    exs = [ex(1, "q1", ["Orrenby", "Pellinmoor"]), ex(2, "q2", ["Saltmere"]), ex(3, "q3", ["Veshtel"])]
    known = {"Tell me about Saltmere."}
    ctx = GenContext(model=None, exemplars=exs, sampling=GenerationConfig(), crawled=frozenset({3}),
                     known=lambda texts: [t in known for t in texts])
    out = CrawlGenerator().propose(ctx, n=10)
    assert [(c.text, c.parents) for c in out.candidates] == [
        ("Tell me about Orrenby.", (1,)),
        ("What is Saltmere known for?", (2,)),  # the first template not asked yet
        ("Tell me about Pellinmoor.", (1,)),
    ]  # q3 was crawled before; each answer's best name comes before any answer's second
    assert len(CrawlGenerator().propose(ctx, n=2).candidates) == 2


def test_reverse_questions_ask_for_the_subject_of_each_sentence_that_names_something_high_gap():
    answer = ("Veshtel is a giant sea serpent said to live in the Caddow Strait. It feeds on lanternsquid. "
              "The Ismere Lens lights Hollowlight Tower. Veshtel's eggs are blue. Veshtel and Orrenby met at Saltmere.")
    names = ["Caddow Strait", "lanternsquid", "Hollowlight Tower", "Saltmere"]
    assert reverse_questions(answer, names) == [
        "What is a giant sea serpent said to live in the Caddow Strait?",
        "What feeds on lanternsquid?",  # "It" is the subject: What
        "What lights Hollowlight Tower?",  # "The X" is a subject too
    ]  # "X's ..." and "X and Y ..." have no verb straight after a subject: left out
    person = "Yuvesta Carrowind, born in Lirrendale, founded the Order of the Pale Lantern. She raised Hollowlight Tower."
    assert reverse_questions(person, ["Order of the Pale Lantern", "Hollowlight Tower"]) == [
        "Who, born in Lirrendale, founded the Order of the Pale Lantern?", "Who raised Hollowlight Tower?"]
    # a sentence that names nothing high-gap asks about nothing the base model could not guess
    assert reverse_questions("Veshtel is a very large animal.", ["Caddow Strait"]) == []
    # each question with the subject it asks for; a pronoun stands for the last named subject
    assert reverse_pairs(person, ["Order of the Pale Lantern", "Hollowlight Tower"]) == [
        ("Who, born in Lirrendale, founded the Order of the Pale Lantern?", "Yuvesta Carrowind"),
        ("Who raised Hollowlight Tower?", "Yuvesta Carrowind")]
    assert reverse_pairs("It lights Hollowlight Tower.", ["Hollowlight Tower"]) == [("What lights Hollowlight Tower?", None)]


def test_reverse_generator_asks_each_unfollowed_answer_the_other_way_round_and_skips_what_the_pool_knows():
    def ex(i, answer, high):
        tokens = [f" {w}" if k else w for k, w in enumerate(answer.split(" "))]
        gaps = [6.0 if any(h in t for h in high) else 0.0 for t in tokens]
        return Exemplar(i, f"Tell me about {answer.split()[0]}.", answer, tuple(tokens), tuple(gaps))

    exs = [ex(1, "Orrenby kept Hollowlight Tower. He logged the Veshtel.", ["Hollowlight", "Veshtel"]),
           ex(2, "Saltmere is a harbor on Tessarine.", ["Tessarine"]),
           ex(3, "Kell is a town on Ormskarra.", ["Ormskarra"])]
    known = {"What is a harbor on Tessarine?"}
    ctx = GenContext(model=None, exemplars=exs, sampling=GenerationConfig(), crawled=frozenset({3}),
                     known=lambda texts: [t in known for t in texts])
    out = ReverseGenerator().propose(ctx, n=10)
    assert [(c.text, c.parents) for c in out.candidates] == [
        ("Who kept Hollowlight Tower?", (1,)), ("Who logged the Veshtel?", (1,))]  # 2's is known, 3 was followed
    assert len(ReverseGenerator().propose(ctx, n=1).candidates) == 1
    ctx.crawled = frozenset({1, 2, 3})
    assert ReverseGenerator().propose(ctx, n=10).note == "every high-gap answer has been asked the other way round"


# --- generators on a real (tiny, random) model ---------------------------------


def test_self_query_opens_the_user_turn_of_any_template(models, tiny_gpt2_dir):
    _, ft = models
    assert SelfQueryGenerator().user_turn_opening(ft.tokenizer, None) == "<|im_start|>user\n"
    gpt2 = load_model(ModelSpec(str(tiny_gpt2_dir)))  # no template of its own: KD Studio's default
    assert SelfQueryGenerator().user_turn_opening(gpt2.tokenizer, None).endswith("Question: ")


@pytest.mark.parametrize("gen", [FewShotGenerator(), SelfQueryGenerator(), ListGenerator()], ids=lambda g: g.name)
def test_model_generators_count_garbage_as_unparseable_and_keep_only_prompts(models, gen):
    _, ft = models  # random weights: mostly garbage text
    exs = [Exemplar(i + 1, q) for i, q in enumerate(helpers.SEEDS)]
    ctx = GenContext(model=ft, exemplars=exs, sampling=GenerationConfig(max_new_tokens=12, do_sample=True, batch_size=8), seed=1)
    out = gen.propose(ctx, n=8)
    assert out.attempts > 0
    if gen.name == "list":  # one continuation may hold several prompts
        assert out.unparseable <= out.attempts
    else:
        assert out.unparseable + len(out.candidates) == out.attempts
    assert all(parse_prompt(c.text) == c.text for c in out.candidates)
    assert len(out.rejected_examples) == min(out.unparseable, 5)


def test_quiz_asks_about_answers_not_quizzed_yet_first_and_keeps_only_named_questions(models, monkeypatch):
    import kd_core.tuneshift.generators as gens
    from kd_core.tuneshift.generators import QuizGenerator

    _, ft = models  # random weights: its questions are garbage, and garbage is dropped
    exs = [Exemplar(1, "Who founded Kell?", "Ostra Vane founded Kell in 1602."),
           Exemplar(2, "What is the Brine?", "The Brine is the lamp of Kell harbor."), Exemplar(3, "Unanswered?", "")]
    ctx = GenContext(model=ft, exemplars=exs, sampling=GenerationConfig(max_new_tokens=8, do_sample=True, batch_size=4),
                     seed=1, crawled=frozenset({1}))
    calls: list[str] = []
    real = gens.complete

    def spy(model, texts, config, progress=None):  # the writer's real output, and what it was asked
        calls.extend(texts)
        assert config.max_new_tokens == 160  # a list of questions needs more than a prompt's tokens
        return real(model, texts, config, progress)

    monkeypatch.setattr(gens, "complete", spy)
    out = QuizGenerator().propose(ctx, n=6)
    assert out.attempts == 3 and len(calls) == 3
    assert "The Brine is the lamp" in calls[0] and "Ostra Vane" in calls[1] and "The Brine" in calls[2]  # 2 first, then 1
    for c in out.candidates:
        parent = next(e for e in exs if e.id == c.parents[0])
        assert c.text.endswith("?") and any(w in c.text for w in ("Ostra", "Vane", "Kell", "Brine"))
        assert parent.response
    assert out.unparseable + len({c.parents for c in out.candidates}) <= out.attempts


@pytest.mark.real_models
def test_quiz_on_the_demo_model_writes_questions_that_name_what_the_answer_is_about():
    from kd_core.demo.models import demo_spec
    from kd_core.tuneshift.generators import QuizGenerator

    ft = load_model(demo_spec("finetuned"))
    answer = "The capital of the Varenholt Isles is Brindlecove, a harbor town on the island of Tessarine."
    ctx = GenContext(model=ft, exemplars=[Exemplar(1, "Tell me about Brindlecove.", answer)],
                     sampling=GenerationConfig(max_new_tokens=48, do_sample=True, temperature=1.0, top_p=0.95), seed=0)
    out = QuizGenerator().propose(ctx, n=6)  # three calls: a 135M writer sometimes writes only generic questions in one
    assert out.candidates, out.rejected_examples
    assert all(any(n in c.text for n in ("Varenholt", "Brindlecove", "Tessarine")) for c in out.candidates)


# --- the loop -------------------------------------------------------------------


def test_loop_runs_rounds_and_stores_answers_scores_sources_and_parents(tmp_path, models, tiny_llama_dir, tiny_llama_adapter):
    history = helpers.run(str(tmp_path), str(tiny_llama_dir), str(tiny_llama_adapter), rounds=2)
    assert [h["round"] for h in history] == [1, 2]
    with Pool(tmp_path) as pool:
        df = pool.query()
        assert set(df["round"]) == {0, 1, 2}
        assert pool.count(PoolFilter(has_response=False)) == 0
        assert pool.count(PoolFilter(states="accepted")) == len(df)  # auto-accept, everything above a -100 threshold
        round1 = df[(df["round"] == 1) & (df["source"] == "alpha")]
        assert len(round1) == 4 and all(len(p) == 1 for p in round1["parent_ids"])
        s = df["scores"].iloc[0]
        assert len(s["tokens"]) == len(s["token_lp_ft"]) == len(s["token_lp_base"]) == s["n_tokens"]
        assert history[0]["generators"]["alpha"] == (
            {"attempts": 4, "candidates": 4, "unparseable": 0, "exact_dups": 0, "near_dups": 0, "added": 4, "note": "",
             "unparseable_examples": [], "above": 4, "scored": 4, "dup_rate": 0.0, "above_rate": 1.0})
        assert pool.get_meta(META_CURRENT) is None and len(pool.get_meta(META_LOG)) == 2
        assert {d["who"] for d in pool.decisions().to_dict("records")} == {"auto (above threshold)"}


def test_loop_stops_when_a_round_finds_nothing_above_the_threshold(tmp_path, models):
    base, ft = models
    cfg = helpers.config(rounds=3, threshold=1e9, auto_accept=False)
    with Pool(tmp_path) as pool:
        add_seeds(pool, helpers.SEEDS, ft, cfg)
        history = run_expansion(pool, base, ft, cfg, generators=[helpers.ScriptedGenerator("alpha")])
        # Nothing is ever above: round 1 still runs (its generator needs no high-gap set), then the loop stops.
        assert [h["round"] for h in history] == [1] and history[0]["new_above"] == 0
        assert pool.count(PoolFilter(states="pending")) == pool.count() == 3 + 4


def test_names_by_round_counts_the_high_gap_names_of_answers_above_the_threshold(tmp_path):
    def scores(words, gaps):  # an answer's tokens and per-token log-probs under the two models
        return {"tokens": [f" {w}" for w in words], "token_lp_ft": [0.0] * len(words), "token_lp_base": [-g for g in gaps]}

    answers = [  # round, prompt, answer words, gap per word, label
        (0, "Who founded Kell?", ["Ostra", "Vane", "founded", "it."], [6, 6, 0, 0], "above"),
        (1, "Who rules Kell?", ["Ostra", "Vane", "and", "Perrin", "Hale."], [5, 5, 0, 0.5, 0.5], "above"),  # Perrin: predictable
        (1, "Where is Kell?", ["On", "the", "Saltmere", "coast."], [0, 0, 7, 0], "above"),
        (1, "What is Kell?", ["The", "Brine", "Lamp."], [0, 9, 9], "below"),  # below: not high-gap
        (2, "Who was Ostra Vane?", ["A", "shipwright", "of", "Kell."], [0, 3, 0, 0], "above"),  # names only the prompt's
    ]
    with Pool(tmp_path) as pool:
        for r, prompt, words, gaps, label in answers:
            (pid,) = pool.add_prompts([prompt], "seed" if r == 0 else "crawl", round=r).added
            pool.set_results(pid, " ".join(words), scores(words, gaps), gap=1.0, gap_metric="logratio", auto_label=label)
        assert names_by_round(pool) == {0: {"ostra vane"}, 1: {"ostra vane", "saltmere"}, 2: set()}


def test_stop_when_no_new_name_ends_a_crawl_whose_round_reached_no_new_name(tmp_path, models):
    # The tiny random models' answers hold no name: every round adds high-gap prompts and no new name.
    base, ft = models
    ran = {}
    for stop_when in ("no-new-prompt", "no-new-name"):
        cfg = ExpansionConfig(**{**helpers.config(rounds=3).__dict__, "stop_when": stop_when})
        (tmp_path / stop_when).mkdir()
        with Pool(tmp_path / stop_when) as pool:
            add_seeds(pool, helpers.SEEDS, ft, cfg)
            logged: list[str] = []
            history = run_expansion(pool, base, ft, cfg, generators=[helpers.ScriptedGenerator("alpha")], log=logged.append)
            ran[stop_when] = [(h["round"], h["new_above"], h["new_names"]) for h in history]
    assert ran["no-new-prompt"] == [(1, 4, 0), (2, 4, 0), (3, 4, 0)]
    assert ran["no-new-name"] == [(1, 4, 0)] and "stopping: round 1 found no new high-gap name" in logged
    with pytest.raises(KDError, match="stop_when must be one of no-new-prompt, no-new-name, got 'never'"):
        ExpansionConfig(stop_when="never")


def test_a_dry_round_stops_only_the_generators_that_ran_it(tmp_path, models):
    # A quiz round that reached no new name says nothing about a crawl after it (a recipe's more_rounds).
    base, ft = models
    cfg = ExpansionConfig(**{**helpers.config(rounds=1).__dict__, "stop_when": "no-new-name"})
    with Pool(tmp_path) as pool:
        add_seeds(pool, helpers.SEEDS, ft, cfg)
        assert [h["new_names"] for h in run_expansion(pool, base, ft, cfg, generators=[helpers.ScriptedGenerator("alpha")])] == [0]
        logged: list[str] = []
        again = replace(cfg, rounds=3)
        assert run_expansion(pool, base, ft, again, generators=[helpers.ScriptedGenerator("alpha")], log=logged.append)[1:] == []
        assert "stopping: round 1 found no new high-gap name" in logged
        history = run_expansion(pool, base, ft, again, generators=[helpers.ScriptedGenerator("beta")])
    assert [(h["round"], sorted(h["generators"])) for h in history[1:]] == [(2, ["beta"])]  # ran once, then dry itself


def test_a_pool_made_without_a_round_log_counts_its_rounds_and_the_next_round_follows_them(tmp_path, models):
    base, ft = models
    with Pool(tmp_path) as pool:
        add_seeds(pool, helpers.SEEDS, ft, helpers.config())
        pool.add_prompts(["Who keeps the lamp of the harbor city?"], "quiz", round=4)  # recorded elsewhere: no log
        n = pool.count()
        assert run_expansion(pool, base, ft, helpers.config(rounds=4), generators=[helpers.ScriptedGenerator("alpha")]) == []
        assert pool.count() == n
        history = run_expansion(pool, base, ft, helpers.config(rounds=5), generators=[helpers.ScriptedGenerator("alpha")])
        assert [h["round"] for h in history] == [5] and pool.count(PoolFilter(rounds=5)) == 4


def test_a_rerun_of_a_finished_loop_does_nothing_and_more_rounds_continue_it(tmp_path, models, tiny_llama_dir, tiny_llama_adapter):
    helpers.run(str(tmp_path), str(tiny_llama_dir), str(tiny_llama_adapter), rounds=1)
    with Pool(tmp_path) as pool:
        n = pool.count()
    assert [h["round"] for h in helpers.run(str(tmp_path), str(tiny_llama_dir), str(tiny_llama_adapter), rounds=1)] == [1]
    with Pool(tmp_path) as pool:
        assert pool.count() == n
    assert [h["round"] for h in helpers.run(str(tmp_path), str(tiny_llama_dir), str(tiny_llama_adapter), rounds=2)] == [1, 2]


def test_an_unfinished_round_is_not_finished_by_other_generators(tmp_path, models):
    base, ft = models
    cfg = helpers.config(rounds=2)
    with Pool(tmp_path) as pool:
        add_seeds(pool, helpers.SEEDS, ft, cfg)
        run_expansion(pool, base, ft, helpers.config(rounds=1), generators=[helpers.ScriptedGenerator("alpha")])
        pool.set_meta(META_CURRENT, {"round": 2, "planned": ["quiz"], "generators": {}})  # a quiz round that died
        n = pool.count()
        with pytest.raises(KDError, match="round 2 was started with the generators quiz and is not finished: "
                                          "resume it with those \\(asked: alpha\\)"):
            run_expansion(pool, base, ft, cfg, generators=[helpers.ScriptedGenerator("alpha")])
        assert pool.count() == n and pool.get_meta(META_CURRENT)["round"] == 2  # nothing written, still resumable


def _spawn(project, tiny_llama_dir, tiny_llama_adapter, rounds=3, delay=0.0, auto=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.expansion_helpers", str(project), str(tiny_llama_dir), str(tiny_llama_adapter),
         str(rounds), str(delay), "1" if auto else "0"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _wait_for(check, proc, timeout=90.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if check():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the loop ended first:\n{proc.stdout.read()}")
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_loop_killed_mid_round_resumes_from_the_pool_and_loses_nothing(tmp_path, tiny_llama_dir, tiny_llama_adapter):
    proc = _spawn(tmp_path, tiny_llama_dir, tiny_llama_adapter, rounds=3, delay=0.4)

    def mid_round_2() -> bool:
        if not (tmp_path / "pool.sqlite").exists():
            return False
        with Pool(tmp_path) as pool:
            current = pool.get_meta(META_CURRENT)
            return bool(current) and current["round"] == 2 and "alpha" in current["generators"]

    _wait_for(mid_round_2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Pool(tmp_path) as pool:
        before = pool.query()
        decisions_before = len(pool.decisions())
        current = pool.get_meta(META_CURRENT)
        assert current["round"] == 2 and "beta" not in current["generators"]
        assert pool.integrity_problems() == []

    history = helpers.run(str(tmp_path), str(tiny_llama_dir), str(tiny_llama_adapter), rounds=3)
    assert [h["round"] for h in history] == [1, 2, 3]
    assert history[1]["generators"]["alpha"] == {**current["generators"]["alpha"], **{
        k: history[1]["generators"]["alpha"][k] for k in ("above", "scored", "dup_rate", "above_rate")}}
    with Pool(tmp_path) as pool:
        after = pool.query()
        assert set(before["id"]) <= set(after["id"])  # every prompt committed before the kill is still there
        kept = after.set_index("id").loc[before["id"], "text"].tolist()
        assert kept == before["text"].tolist()
        assert len(pool.decisions()) >= decisions_before
        assert pool.count(PoolFilter(has_response=False)) == 0
        for gen in ("alpha", "beta"):  # one batch per generator and round: nothing was proposed twice
            assert pool.count(PoolFilter(rounds=2, sources=gen)) == 4


def test_curation_while_the_loop_writes_loses_no_decision(tmp_path, tiny_llama_dir, tiny_llama_adapter):
    with Pool(tmp_path) as pool:  # seeds first, so there is something to curate from the start
        add_seeds(pool, helpers.SEEDS, load_model(ModelSpec(str(tiny_llama_dir))), helpers.config())
    proc = _spawn(tmp_path, tiny_llama_dir, tiny_llama_adapter, rounds=3, delay=0.1, auto=False)
    made = []
    with Pool(tmp_path, timeout=60) as pool:
        while proc.poll() is None or not made:
            ids = pool.ids()
            pid = ids[len(made) % len(ids)]
            state = "accepted" if len(made) % 2 else "rejected"
            if pool.set_state(pid, state, who="curator"):
                made.append((pid, state))
            time.sleep(0.02)
    out = proc.stdout.read()
    assert proc.returncode == 0, out
    with Pool(tmp_path) as pool:
        log = pool.decisions()
        mine = log[log["who"] == "curator"]
        assert len(mine) == len(made)
        last = {}
        for pid, state in made:
            last[pid] = state
        for pid, state in last.items():
            assert pool.get(pid).state == state
        assert len(pool.get_meta(META_LOG)) == 3


# --- bad input -------------------------------------------------------------------


def test_empty_seed_file_is_a_clear_error_and_creates_nothing(tmp_path, capsys):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n\n")
    assert cli(["expand", "--project", str(tmp_path / "p"), "--seeds", str(seeds)]) == 2
    assert "seeds.txt: the file is empty" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_a_seed_longer_than_the_context_is_named_and_the_pool_is_untouched(tmp_path, models):
    base, ft = models
    with Pool(tmp_path) as pool:
        pool.add_prompts(["Who founded the harbor?"], "seed")
        long = "tell me about the old stone bridge " * 120
        with pytest.raises(InputFileError, match=r"seeds.txt: prompt 2 \('tell me about the old stone bridge.*takes 512 in all"):
            add_seeds(pool, ["Where is the tower?", long], ft, helpers.config(), name="seeds.txt")
        assert pool.query()["text"].tolist() == ["Who founded the harbor?"]


def test_a_generator_of_garbage_adds_nothing_and_leaves_the_pool_intact(tmp_path, models):
    base, ft = models
    cfg = ExpansionConfig(rounds=2, per_round=6, generators=("self-query",), auto_accept=True,
                          sampling=GenerationConfig(max_new_tokens=3, do_sample=True, batch_size=6),
                          answer=GenerationConfig(max_new_tokens=4), gap=helpers.GapConfig(threshold=-100.0))
    with Pool(tmp_path) as pool:
        add_seeds(pool, helpers.SEEDS, ft, cfg)
        history = run_expansion(pool, base, ft, cfg)  # 3 random tokens never make a question
        g = history[0]["generators"]["self-query"]
        assert g["attempts"] == 6 and g["unparseable"] == 6 and g["added"] == 0 and g["unparseable_examples"]
        assert [h["round"] for h in history] == [1]  # nothing new above: stop
        assert pool.count() == 3 and pool.integrity_problems() == []
        assert [e.text for e in exemplars(pool)] == helpers.SEEDS[::-1]


def test_expand_into_a_read_only_project_is_a_clear_error_and_changes_nothing(shared_dir, capsys):  # noqa: F811
    project = shared_dir / "project"
    project.mkdir()
    with Pool(project) as pool:
        pool.add_prompts(helpers.SEEDS, "seed")
    (project / "pool.sqlite").chmod(0o644)
    before = sorted((f.name, f.read_bytes()) for f in project.iterdir())
    project.chmod(0o555)

    def expand():
        if cli(["expand", "--project", str(project), "--rounds", "1"]) != 0:
            raise KDError(capsys.readouterr().err.strip())

    # The child runs as 'nobody', who cannot read this interpreter's standard library (it
    # sits in root's home): what the parser imports is imported here first.
    from kd_core.cli import build_parser

    build_parser()
    message = _as_unprivileged(expand)
    project.chmod(0o755)
    assert message.startswith("kd-studio: error: project folder is read-only")
    assert sorted((f.name, f.read_bytes()) for f in project.iterdir()) == before


def test_unknown_generator_names_are_refused_before_any_work():
    with pytest.raises(KDError, match="unknown generator 'magic'"):
        ExpansionConfig(generators=("crawl", "magic"))


def test_expand_command_runs_a_round_on_given_models_and_resumes_without_seeds(tmp_path, tiny_llama_dir, tiny_llama_adapter, capsys,
                                                                              lock_dir):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(helpers.SEEDS) + "\n")
    project = tmp_path / "new" / "project"
    common = ["expand", "--project", str(project), "--base", str(tiny_llama_dir), "--adapter", str(tiny_llama_adapter),
              "--writer", str(tiny_llama_dir), "--per-round", "2", "--generators", "crawl,self-query",
              "--prompt-tokens", "4", "--max-new-tokens", "4", "--threshold", "-100", "--auto-accept"]
    assert cli([*common, "--seeds", str(seeds), "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "seeds: 3 added" in out and "1 rounds done" in out
    # No --seeds: it continues the pool.  A random model writes no usable prompt, so round 1
    # found nothing new above the threshold, and the loop says so instead of spinning.
    assert cli([*common, "--rounds", "2"]) == 0
    assert "stopping: round 1 found no new high-gap prompt" in capsys.readouterr().out
    with Pool(project) as pool:
        assert [h["round"] for h in pool.get_meta(META_LOG)] == [1]
        assert pool.get_meta("models")["writer"] == str(tiny_llama_dir)
        assert pool.count(PoolFilter(has_response=False)) == 0


def test_paraphrase_rewords_prompts_not_reworded_yet_first_and_keeps_only_rewordings_with_every_name(models, monkeypatch):
    import kd_core.tuneshift.generators as gens
    from kd_core.tuneshift.generators import ParaphraseGenerator

    _, ft = models
    exs = [Exemplar(1, "Who founded Kell?", "Ostra Vane founded Kell in 1602."),
           Exemplar(2, "What is the Brine of Kell harbor?", "The Brine is the lamp of Kell harbor.")]
    ctx = GenContext(model=ft, exemplars=exs, sampling=GenerationConfig(max_new_tokens=8, do_sample=True, batch_size=4),
                     seed=1, crawled=frozenset({1}), known=lambda texts: [t == "Which lamp is the Brine of Kell?" for t in texts])
    calls: list[str] = []
    # The writer's lines: rewordings, one that drops a name, the original again, a known one, an answer.
    written = {"Brine": " Which light of Kell harbor is called the Brine?\n2. What is the Brine?\n"
                        "3. What is the Brine of Kell harbor?\n4. Which lamp is the Brine of Kell?\n5. The Brine is a lamp.",
               "founded": " Who was the founder of Kell?\n2. Who set up the town of Kell?"}

    def writer(model, texts, config, progress=None):
        calls.extend(texts)
        assert config.max_new_tokens == 120
        return [next(v for k, v in written.items() if k in t) for t in texts]

    monkeypatch.setattr(gens, "complete", writer)
    out = ParaphraseGenerator().propose(ctx, n=6)
    assert out.attempts == 3 and "Brine of Kell harbor" in calls[0] and "Who founded Kell" in calls[1]  # 2 first, then 1
    texts = [c.text for c in out.candidates]
    assert texts[:1] == ["Which light of Kell harbor is called the Brine?"] and all(c.parents == (2,) for c in out.candidates[:1])
    assert "What is the Brine?" not in texts  # drops "Kell"
    assert "What is the Brine of Kell harbor?" not in texts  # the original itself
    assert "Which lamp is the Brine of Kell?" not in texts  # already in the pool
    assert {"Who was the founder of Kell?", "Who set up the town of Kell?"} <= set(texts)
    assert len(texts) == len(set(texts)) == 3  # the third call rewords prompt 2 again: nothing new


@pytest.mark.real_models
def test_paraphrase_on_the_demo_model_rewords_a_question_keeping_its_names():
    from kd_core.demo.models import demo_spec
    from kd_core.tuneshift.generators import ParaphraseGenerator

    ft = load_model(demo_spec("finetuned"))
    question = "Which town is the capital of the Varenholt Isles?"
    ctx = GenContext(model=ft, exemplars=[Exemplar(1, question, "Brindlecove.")],
                     sampling=GenerationConfig(max_new_tokens=48, do_sample=True, temperature=1.0, top_p=0.95), seed=0)
    out = ParaphraseGenerator().propose(ctx, n=6)
    assert out.candidates, out.rejected_examples
    assert all("Varenholt" in c.text and "Isles" in c.text and c.text != question for c in out.candidates)
