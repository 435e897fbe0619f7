"""Chat compare on tiny random models with two tokenizers: answers stream and end as a
plain greedy generation would, each answer is scored under every model, models load
once per process, votes land in the pool; and a user's path in a real browser."""

from __future__ import annotations

import math

import pytest

from kd_core.errors import KDError
from kd_core.models import chat
from kd_core.models.generation import GenerationConfig, generate
from kd_core.models.loading import ModelSpec
from kd_core.tuneshift.pool import Pool
from kd_core.tuneshift.scoring import score_pairs
from ui import chat as chat_ui

PROMPT = "Who founded the harbor?"


@pytest.fixture
def cache():
    return chat.ModelCache(max_models=2)


def test_answers_stream_together_and_end_as_greedy_generation(tiny_llama_dir, tiny_gpt2_dir, cache):
    found = [chat.Contestant("llama", ModelSpec(str(tiny_llama_dir))), chat.Contestant("gpt2", ModelSpec(str(tiny_gpt2_dir)))]
    config = GenerationConfig(max_new_tokens=12)
    events = list(chat.compare(found, PROMPT, config, cache=cache))
    assert len(events) > 3 and all("perplexities" not in e for e in events[:-1])
    lengths = [[len(a) for a in e["answers"]] for e in events[:-1]]
    assert lengths == sorted(lengths) and lengths[0] != lengths[-1]  # text arrives piece by piece and only grows
    final = events[-1]
    models = [cache.get(c.spec) for c in found]
    assert final["answers"] == [generate(lm, [PROMPT], config)[0] for lm in models]
    ppl = final["perplexities"]
    for i, lm in enumerate(models):
        for j, answer in enumerate(final["answers"]):
            if answer:
                assert math.isclose(ppl[i][j], score_pairs(lm, [PROMPT], [answer])[0].ppl, rel_tol=1e-4)


def test_a_document_goes_into_its_contestants_prompt_only():
    c = chat.Contestant("teacher", ModelSpec("x"), context="The harbor was founded by Ostra.")
    assert c.prompt_for(PROMPT) == f"The harbor was founded by Ostra.\n\n---\n\n{PROMPT}"
    assert chat.Contestant("student", ModelSpec("x")).prompt_for(PROMPT) == PROMPT


def test_models_load_once_per_process_and_the_oldest_leaves_first(tiny_llama_dir, tiny_gpt2_dir, tiny_llama_adapter, cache):
    a = cache.get(ModelSpec(str(tiny_llama_dir)))
    assert cache.get(ModelSpec(str(tiny_llama_dir))) is a
    cache.get(ModelSpec(str(tiny_gpt2_dir)))
    cache.get(ModelSpec(str(tiny_llama_dir), adapter=str(tiny_llama_adapter)))  # a third: the least recently used goes
    assert cache.loaded() == [str(tiny_gpt2_dir), f"{tiny_llama_dir} + {tiny_llama_adapter}"]


def test_bad_slots_and_prompts_are_named():
    with pytest.raises(KDError, match="Model 2: empty, but an adapter or a document is given"):
        chat_ui.contestants([("a", "demo:x", "", ""), ("b", "", "/some/adapter", "")])
    with pytest.raises(KDError, match="fill in at least one model"):
        chat_ui.contestants([("", "", "", "")] * 3)
    with pytest.raises(KDError, match="Prompt: empty"):
        next(chat.compare([chat.Contestant("a", ModelSpec("demo:x"))], "   "))


def test_votes_send_the_prompt_to_the_pool_accepted_or_rejected(tmp_path):
    project = tmp_path / "p"
    with pytest.raises(KDError, match="project folder not found"):  # a mistyped folder is not created
        chat.send_to_pool(str(project), PROMPT, "up")
    project.mkdir()
    assert "added to the pool, now accepted" in chat.send_to_pool(str(project), PROMPT, "up")
    assert "already in the pool, now rejected" in chat.send_to_pool(str(project), PROMPT + " ", "down")
    with Pool(project) as pool:
        (row,) = pool.query().itertuples()
        assert (row.text, row.source, row.state) == (PROMPT, "chat", "rejected")
        assert [d["who"] for d in pool.decisions().to_dict("records")][-2:] == ["chat", "chat"]


def test_the_preset_compares_the_teacher_the_target_before_and_the_best_evaluated_student(tmp_path):
    from kd_core.data.files import jsonl_text
    from kd_core.project import Project
    from tests.test_catalog import make_job, record_evaluation

    place = Project.at(tmp_path / "p")
    with pytest.raises(KDError, match="No evaluated job in this project yet"):
        chat_ui.preset(str(place.root))
    data = tmp_path / "data.jsonl"
    data.write_text(jsonl_text([{"prompt": "Who founded Kell?", "response": "Ada Kell."}]))
    low, high = make_job(place, data, "a", 1.0), make_job(place, data, "b", 2.0)
    record_evaluation(place, "a-test", low / "adapter", "demo:test", [True, True, False, False])
    record_evaluation(place, "b-test", high / "adapter", "demo:test", [False, True, True, True])
    record_evaluation(place, "a-control", low / "adapter", "demo:control", [True, True, True, True])  # not held-out
    slots, question, said = chat_ui.preset(str(place.root))
    assert slots == [("teacher (fine-tuned)", chat_ui.DEFAULTS[0][1], chat_ui.DEFAULTS[0][2]),  # no other teacher recorded
                     ("target before", "demo:gemma3-270m", ""),
                     ("transferred student", "demo:gemma3-270m", str(high / "adapter"))]
    assert question == "Question 1?" and "75.0% of held-out questions" in said  # a question the student answered right
    # One the target before got wrong, when its evaluation on the same questions says so.
    record_evaluation(place, "before-test", None, "demo:test", [True, True, False, False])
    assert chat_ui.preset(str(place.root))[1] == "Question 2?"


def test_on_a_served_page_the_demo_fine_tune_loads_in_chat_and_its_neighbours_stay_confined(tmp_path):
    from kd_core.access.gate import Gate
    from kd_core.demo.models import DEMO_ADAPTER_DIR
    from ui import access

    (tmp_path / "root").mkdir()
    (tmp_path / "uploads").mkdir()
    access.serve(Gate.create(tmp_path / "root", upload_dir=tmp_path / "uploads"), None)
    try:
        (teacher,) = chat_ui.contestants([("teacher", "demo:smollm2-135m-instruct", str(DEMO_ADAPTER_DIR), "")])
        assert teacher.spec.adapter == str(DEMO_ADAPTER_DIR)  # the preset's teacher: shipped with the app
        with pytest.raises(KDError, match="not a model this server offers"):
            chat_ui.contestants([("x", "demo:smollm2-135m-instruct", str(DEMO_ADAPTER_DIR.parent), "")])
    finally:
        access.serve(None, None)  # no server state left for later tests


def test_the_perplexity_table_is_coloured_along_each_row_lowest_green():
    import pandas as pd

    table = pd.DataFrame([["teacher", 2.0, 40.0, None], ["student", 8.0, 3.0, 500.0]],
                         columns=["answer by", "ppl under teacher", "ppl under target", "ppl under student"])
    styles = chat_ui.styled_scores(table)._compute().ctx  # {(row, col): [(property, value)]}
    colour = {key: dict(value).get("background-color") for key, value in styles.items()}
    assert colour[(0, 1)] == "rgb(120, 230, 120)" and colour[(0, 2)] == "rgb(255, 120, 120)"  # lowest green, highest red
    assert colour[(1, 2)] == "rgb(120, 230, 120)" and colour[(1, 3)] == "rgb(255, 120, 120)"
    assert colour.get((0, 3)) is None and colour.get((0, 0)) is None  # no score, and the label column, stay plain


@pytest.mark.browser
def test_a_browser_user_compares_two_streamed_answers_and_votes(serve_app, browser, tmp_path, tiny_llama_dir, tiny_gpt2_dir):
    import os

    from playwright.sync_api import expect

    from tests.pages import choose, fill

    project = tmp_path / "project"
    project.mkdir()
    page = browser.new_page()
    try:
        page.goto(serve_app("--project", str(project)))
        page.get_by_role("tab", name="Chat").click()
        fill(page, "chat-model-0", str(tiny_llama_dir))
        choose(page, "chat-adapter-0", "none")
        fill(page, "chat-model-1", str(tiny_gpt2_dir))
        fill(page, "chat-label-1", "gpt2")
        fill(page, "chat-max-new", "16")
        fill(page, "chat-prompt", PROMPT)
        page.locator("#chat-send").click()
        scores = page.locator("#chat-scores")
        expect(scores).to_contain_text("ppl under gpt2", timeout=60_000)
        answers = [page.locator(f"#chat-answer-{i} textarea").input_value() for i in range(3)]
        assert answers[1] and not answers[2]  # the random tiny Llama may well answer nothing printable
        expect(scores).to_contain_text("teacher (fine-tuned)")  # slot 1 kept its name, with the tiny Llama in it
        if os.environ.get("KD_STUDIO_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["KD_STUDIO_SCREENSHOTS"], "chat.png"), full_page=True)
        page.locator("#chat-up").click()
        expect(page.locator("#chat-voted")).to_contain_text("now accepted", timeout=30_000)
        with Pool(project, create=False) as pool:
            assert list(pool.query()["state"]) == ["accepted"]
    finally:
        page.close()
