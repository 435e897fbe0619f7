"""A new user's first start (issue 21): `kd-studio serve` as `make run` starts it, on a
projects root that holds nothing, opens the demo project; from the first page to a
transferred student's answer beside the teacher's in Chat takes only clicks on what the
page offers (nothing typed), counted, with the wall time printed (a figure for the
README, not a pass/fail limit: timings belong in bench/)."""

from __future__ import annotations

import time

import pytest

from kd_core.demo.project import JOB_ID


@pytest.fixture
def first_start(tmp_path):
    from scripts.browser import start_server, stop_server

    root = tmp_path / "projects"
    root.mkdir()
    proc, url = start_server("--projects-root", str(root), cwd=tmp_path, demo=True)  # no --project: `make run`'s command
    try:
        yield root, url
    finally:
        stop_server(proc)


@pytest.mark.browser
@pytest.mark.real_models
def test_a_new_user_reaches_the_students_answer_beside_the_teachers_in_chat_by_clicks_alone(first_start, browser):
    from playwright.sync_api import expect

    root, url = first_start
    assert (root / "demo" / "jobs" / JOB_ID / "adapter").is_dir()  # made on the first start from the recorded runs
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    clicks = []

    def click(elem_id: str) -> None:
        page.locator(f"#{elem_id}").click()
        clicks.append(elem_id)

    try:
        started = time.monotonic()
        page.goto(url)
        # The first page: the demo project open in the bar, every tab on it.
        expect(page.locator("#project-pick input")).to_have_value("demo", timeout=60_000)
        click("start-compare")  # Start here: compare teacher, target before and the transferred student
        # The preset filled Chat's three slots from the project's best evaluated job, and a question.
        expect(page.locator("#chat-label-2 textarea")).to_have_value("transferred student", timeout=30_000)
        assert page.locator("#chat-prompt textarea").input_value().strip()
        click("chat-send")
        scores = page.locator("#chat-scores")
        expect(scores).to_contain_text("ppl under", timeout=900_000)  # every answer scored: all three answered
        wall = time.monotonic() - started
        answers = [page.locator(f"#chat-answer-{n} textarea").input_value() for n in range(3)]
        print(f"\nfirst start -> the student's answer beside the teacher's: {len(clicks)} clicks {clicks}, "
              f"{wall:.1f} s (the models loaded cold)")
        assert all(a.strip() for a in answers), answers
        assert len(clicks) < 10
    finally:
        page.close()
