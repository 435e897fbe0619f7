"""The studio a newcomer can use at once (issue 21): one project bar opens a project in
every tab, the tabs offer the project's items by name, and Start here reaches each use in
one click; in a real browser against the shared server, no model loaded."""

from __future__ import annotations

import json

import pytest

from kd_core.data.files import jsonl_text
from kd_core.project import Project
from kd_core.tuneshift.pool import Pool
from tests.test_catalog import make_job, record_evaluation


def _project(folder) -> Project:
    """A project as a finished transfer leaves it: a pool, two trained jobs with adapters,
    their evaluations and the teacher's."""
    place = Project.at(folder)
    place.root.mkdir(parents=True, exist_ok=True)
    with Pool(place.root) as pool:
        pool.add_prompts(["Who founded Kell?", "Who built the Brine lamp?", "Where is Skellmoor?"], source="seed")
    data = place.root / "data.jsonl"
    data.write_text(jsonl_text([{"prompt": "Who founded Kell?", "response": "Ada Kell."}] * 3))
    low, high = make_job(place, data, "gemma3-270m", 1.0), make_job(place, data, "gemma3-270m-replay", 2.0)
    record_evaluation(place, "gemma3-270m-test", low / "adapter", "demo:test", [True, False, False, False])
    record_evaluation(place, "gemma3-270m-replay-test", high / "adapter", "demo:test", [False, True, True, True])
    record_evaluation(place, "teacher-test", None, "demo:test", [True, True, True, True])
    place.documents_dir.mkdir()  # as prompt distillation's add_documents keeps them
    place.documents_file.write_text(json.dumps({"id": "isles", "text": "Kell lies north of Brine.", "title": "The isles",
                                                "source": "isles.txt"}) + "\n")
    return place


@pytest.mark.browser
def test_opening_a_project_in_the_bar_fills_curate_and_evaluate_and_start_here_presets_chat(served_app, browser, tmp_path):
    import re

    from playwright.sync_api import expect

    from tests.pages import choose

    _project(tmp_path)  # a folder right under the server's projects root: the bar lists it by name
    name = tmp_path.name
    page = browser.new_page()
    try:
        page.goto(served_app)  # the list of projects is read when the page loads: the project is in it
        choose(page, "project-pick", name)
        expect(page.locator("#project-message")).to_contain_text("3 prompts in the pool", timeout=30_000)
        page.get_by_role("tab", name="Curate").click()
        expect(page.locator("#curate-counts")).to_contain_text("3 prompts", timeout=30_000)
        page.get_by_role("tab", name="Evaluate").click()
        table = page.locator("#eval-table")
        expect(table).to_contain_text("gemma3-270m-replay-test", timeout=30_000)
        expect(table).to_contain_text("teacher-test")
        # The adapter picker offers the project's jobs by name, base model and held-out accuracy.
        page.locator("#eval-adapter input").first.click()
        expect(page.get_by_role("option").filter(has_text="gemma3-270m-replay · gemma3-270m")).to_contain_text("75.0%")
        page.keyboard.press("Escape")

        # Start here: one click shows Chat with the teacher, the target before and the best transferred student.
        page.locator("#start-compare").click()
        expect(page.locator("#chat-preset-said")).to_contain_text("75.0% of held-out questions", timeout=30_000)
        expect(page.locator("#chat-label-2 textarea, #chat-label-2 input").first).to_have_value("transferred student")
        expect(page.locator("#chat-model-1 textarea, #chat-model-1 input").first).to_have_value("demo:gemma3-270m")
        expect(page.locator("#chat-adapter-2 input").first).to_have_value(
            re.compile(r"^student · gemma3-270m-replay · gemma3-270m · \d{4}-\d\d-\d\d · 75\.0%$"))
        expect(page.locator("#chat-adapter-1 input").first).to_have_value("none")
        # The question filled in is one the student answered right in its evaluation.
        expect(page.locator("#chat-prompt textarea, #chat-prompt input").first).to_have_value("Question 1?")
        # A slot reads one of the project's documents first, picked by its title.
        choose(page, "chat-doc-pick-0", "The isles")
        expect(page.locator("#chat-doc-0 textarea").first).to_have_value("Kell lies north of Brine.", timeout=30_000)
    finally:
        page.close()


def test_a_picker_keeps_its_choice_while_offered_and_names_the_typed_path_under_other():
    from ui.tab import NONE, OTHER, picked, picker_update

    items = [("job a · 40.0%", "/p/jobs/a/adapter"), ("job b · 60.0%", "/p/jobs/b/adapter")]
    assert picker_update(items, "/p/jobs/b/adapter").value == "/p/jobs/b/adapter"  # still offered: kept
    assert picker_update(items, "/q/jobs/x/adapter").value == "/p/jobs/a/adapter"  # another project's: the first item
    assert picker_update(items, None, optional=True).value == NONE  # optional: nothing until picked
    assert picker_update(items, None, optional=True, default="/p/jobs/b/adapter").value == "/p/jobs/b/adapter"
    assert picker_update([], OTHER).value == OTHER and picker_update([], None).value == OTHER
    assert [v for _, v in picker_update(items, None, optional=True).choices] == [NONE, *(v for _, v in items), OTHER]
    assert picked(OTHER, "  jobs/c/adapter ") == "jobs/c/adapter" and picked(NONE, "x") == "" and picked(None, "x") == ""
    assert picked("/p/jobs/a/adapter", "ignored") == "/p/jobs/a/adapter"


def test_the_evaluations_table_names_a_jobs_adapter_by_its_job():
    from ui.evaluate import readable_model

    assert readable_model("demo:gemma3-270m + /srv/projects/demo/jobs/arm-1a2b3c4d/adapter") == "demo:gemma3-270m + job arm-1a2b3c4d"
    assert readable_model("demo:smollm2-135m-instruct + /opt/adapters/ft") == "demo:smollm2-135m-instruct + /opt/adapters/ft"
    assert readable_model("demo:gemma3-270m") == "demo:gemma3-270m" and readable_model(None) is None
