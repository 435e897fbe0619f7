"""The Curate tab: its filter parsing, its wiring over a real pool, and a user's path in a
real browser against `kd-studio serve --project DIR`."""

from __future__ import annotations

import json
import re

import gradio as gr
import pytest

from kd_core.errors import KDError
from kd_core.tuneshift.pool import Pool, PoolFilter, Results
from tests.waiting import wait_until
from ui import curate

# (prompt, response, gap): six answered prompts, gaps distinct so the table order is known.
PROMPTS = [
    ("Who founded the Tidewright Guild of Varenholt?", "Maren Ostdahl founded it in the year of the long ice.", 3.1),
    ("Which ship carried the first salt to Orrin's Reach?", "The Gullwing, under Captain Ilse Brannock.", 2.4),
    ("What creature guards the Lantern Festival at Skellmoor?", "The harbour kelpies, fed with honey cakes.", 1.8),
    ("How do you boil an egg?", "Put it in boiling water for about eight minutes.", 0.9),
    ("What is the capital of France?", "Paris.", 0.3),
    ("Give me a tip for sleeping better.", "Keep a regular bedtime and a dark, cool room.", -0.2),
]


def make_project(folder) -> list[int]:
    """A project whose pool holds PROMPTS, answered and scored, all pending."""
    folder.mkdir(parents=True, exist_ok=True)
    with Pool(folder) as pool:
        ids = pool.add_prompts([p for p, _, _ in PROMPTS], source="seed").added
        pool.set_results_many(
            Results(i, r, gap=g, gap_metric="logratio", auto_label="above" if g > 1.0 else "below")
            for i, (_, r, g) in zip(ids, PROMPTS)
        )
    return ids


def states(project) -> dict[str, int]:
    with Pool(project, create=False) as pool:
        return pool.counts().by_state


# --- the filter widgets' values ------------------------------------------------


def test_empty_and_all_filter_widgets_match_every_prompt():
    assert curate.parse_filter("all", "", "all", "  ", "") == PoolFilter()
    assert curate.parse_filter(None, None, None, None, None) == PoolFilter()


def test_filter_widgets_become_the_pool_filter_the_cli_uses():
    f = curate.parse_filter("accepted", "1, 2", "crawl", " Varenholt ", "1.5")
    assert f == PoolFilter(states="accepted", rounds=[1, 2], sources="crawl", search="Varenholt", min_gap=1.5)
    assert curate.parse_filter("all", "0", "all", "", -0.25) == PoolFilter(rounds=[0], min_gap=-0.25)


@pytest.mark.parametrize(
    ("widgets", "named"),
    [
        (("maybe", "", "all", "", ""), "'maybe'"),
        (("all", "one", "all", "", ""), "round filter: 'one'"),
        (("all", "-1", "all", "", ""), "round -1 is negative"),
        (("all", "", "all", "", "high"), "minimum gap: 'high'"),
        (("all", "", "all", "", "nan"), "not a finite number"),
    ],
)
def test_a_bad_filter_value_is_refused_with_its_field_and_value_named(widgets, named):
    with pytest.raises(KDError, match=re.escape(named)):
        curate.parse_filter(*widgets)


def test_decisions_are_logged_as_ui_unless_a_user_is_logged_in():
    assert curate.who_from(None) == "ui"
    assert curate.who_from(gr.Request(username=None)) == "ui"
    assert curate.who_from(gr.Request(username="alice")) == "alice"


# --- the tab's wiring over a real pool -----------------------------------------


def test_the_table_is_sorted_by_gap_descending_with_long_responses_clipped(tmp_path):
    project = tmp_path / "p"
    ids = make_project(project)
    with Pool(project) as pool:
        pool.set_results(ids[4], "x" * 1000, gap=0.3)
    view = curate.read_view(str(project), PoolFilter())
    table = view["table"]
    assert list(table.columns) == curate.TABLE_COLUMNS
    assert list(table["gap"]) == sorted((g for _, _, g in PROMPTS), reverse=True)
    assert max(len(r) for r in table["response"]) == curate.RESPONSE_CHARS
    assert "**6 prompts** · pending 6 · accepted 0" in view["counts"]
    assert "6 prompts match the filter" == view["matching"]


def test_accept_reject_edit_and_undo_change_the_pool_and_what_is_shown(tmp_path):
    project = str(tmp_path / "p")
    ids = make_project(tmp_path / "p")
    assert curate.decide(project, ids[0], "accept", "ui") == f"prompt {ids[0]} accepted"
    assert curate.decide(project, ids[0], "accept", "ui").endswith("unchanged (already accepted)")
    curate.decide(project, ids[1], "reject", "ui")
    curate.decide(project, ids[2], "edit", "ui", text="Who guards the Lantern Festival at Skellmoor, and why?")
    assert "accepted 1 · rejected 1 · edited 1" in curate.read_view(project, None)["counts"]
    shown = curate.read_selected(project, ids[2])
    assert shown["prompt"] == "Who guards the Lantern Festival at Skellmoor, and why?"
    assert "Original text: What creature guards" in shown["info"] and "No response yet" in shown["info"]

    assert curate.undo(project, "ui") == "undid edit by ui on 1 prompt"
    assert curate.read_selected(project, ids[2])["prompt"] == PROMPTS[2][0]
    assert states(project) == {"pending": 4, "accepted": 1, "rejected": 1, "edited": 0}
    with Pool(project) as pool:
        assert set(pool.decisions()["who"]) == {"ui"}


def test_bulk_decisions_touch_exactly_what_the_filter_matches_and_undo_as_one(tmp_path):
    project = str(tmp_path / "p")
    make_project(tmp_path / "p")
    above = curate.parse_filter("all", "", "all", "", "1.5")
    assert curate.bulk(project, above, "accepted", "alice") == "accepted 3 prompts matching the filter"
    assert curate.bulk(project, curate.parse_filter("pending", "", "all", "", ""), "rejected", "alice") == (
        "rejected 3 prompts matching the filter"
    )
    assert states(project) == {"pending": 0, "accepted": 3, "rejected": 3, "edited": 0}
    assert curate.undo(project, "alice") == "undid bulk by alice on 3 prompts"
    assert states(project) == {"pending": 3, "accepted": 3, "rejected": 0, "edited": 0}


def test_export_writes_the_accepted_prompts_into_the_projects_export_folder(tmp_path):
    project = tmp_path / "p"
    ids = make_project(project)
    curate.decide(str(project), ids[0], "accept", "ui")
    curate.decide(str(project), ids[1], "accept", "ui")
    summary = curate.export(str(project))
    assert f"exported 2 prompts to {project / 'export'}" in summary
    lines = (project / "export" / "dataset.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ids[:2]


def test_a_missing_folder_or_no_project_is_a_clear_error_and_creates_nothing(tmp_path):
    with pytest.raises(KDError, match="project folder not found"):
        curate.read_view(str(tmp_path / "nowhere"), None)
    with pytest.raises(KDError, match="no prompt pool in"):
        curate.read_view(str(tmp_path), None)
    assert not (tmp_path / "pool.sqlite").exists()  # viewing never creates a pool
    with pytest.raises(KDError, match="no project open"):
        curate.decide("", 1, "accept", "ui")
    with pytest.raises(KDError, match="select a row first"):
        curate.decide(str(tmp_path), None, "accept", "ui")


# --- in a real browser -----------------------------------------------------------


@pytest.mark.browser
def test_curating_in_the_browser_persists_across_reloads_and_undo_and_bulk_work(serve_app, browser, tmp_path):
    from playwright.sync_api import expect

    project = tmp_path / "project"
    make_project(project)
    url = serve_app("--project", str(project))
    page = browser.new_page()
    page.goto(url)
    page.get_by_role("tab", name="Curate").click()
    counts = page.locator("#curate-counts")
    table = page.locator("#curate-table")
    expect(counts).to_contain_text("6 prompts", timeout=30_000)
    expect(counts).to_contain_text("pending 6 · accepted 0 · rejected 0")

    def row(prompt: str):
        return table.get_by_role("row").filter(has_text=prompt)

    def select(prompt: str) -> None:
        # The grid also keeps hidden copies of cells to measure column widths: click the visible cell.
        table.get_by_role("gridcell").filter(has_text=prompt).first.click()
        expect(page.locator("#curate-prompt textarea")).to_have_value(prompt)

    select(PROMPTS[0][0])
    page.locator("#curate-accept").click()
    expect(counts).to_contain_text("pending 5 · accepted 1 · rejected 0")
    select(PROMPTS[4][0])
    page.locator("#curate-reject").click()
    expect(counts).to_contain_text("pending 4 · accepted 1 · rejected 1")
    assert states(project) == {"pending": 4, "accepted": 1, "rejected": 1, "edited": 0}

    page.reload()
    page.get_by_role("tab", name="Curate").click()
    expect(counts).to_contain_text("pending 4 · accepted 1 · rejected 1", timeout=30_000)
    expect(row(PROMPTS[0][0])).to_contain_text("accepted")
    expect(row(PROMPTS[4][0])).to_contain_text("rejected")

    page.locator("#curate-undo").click()
    expect(counts).to_contain_text("pending 5 · accepted 1 · rejected 0")
    expect(row(PROMPTS[4][0])).to_contain_text("pending")

    gap = page.locator("#curate-filter-gap textarea, #curate-filter-gap input").first
    gap.fill("1.5")
    gap.press("Enter")
    expect(page.locator("#curate-matching")).to_contain_text("3 prompts match the filter")
    expect(row(PROMPTS[3][0])).to_have_count(0)
    page.locator("#curate-bulk-accept").click()
    expect(counts).to_contain_text("pending 3 · accepted 3 · rejected 0")
    with Pool(project, create=False) as pool:
        accepted = pool.query(PoolFilter(states="accepted"))
        assert sorted(accepted["text"]) == sorted(p for p, _, g in PROMPTS if g >= 1.5)
        assert set(pool.decisions()["who"]) == {"ui"}

    # Keyboard shortcut: "u" outside a text field undoes the bulk decision as one batch.
    counts.click()
    page.keyboard.press("u")
    expect(counts).to_contain_text("pending 5 · accepted 1 · rejected 0")

    # Save edit; an edit that duplicates another prompt is refused and the typed text stays.
    select(PROMPTS[2][0])
    box = page.locator("#curate-prompt textarea")
    box.fill(PROMPTS[5][0])
    page.locator("#curate-save-edit").click()
    expect(page.get_by_text("is the same as prompt").first).to_be_visible(timeout=15_000)
    expect(box).to_have_value(PROMPTS[5][0])
    box.fill("Who guards the Lantern Festival at Skellmoor, and why?")
    page.locator("#curate-save-edit").click()
    expect(counts).to_contain_text("pending 4 · accepted 1 · rejected 0 · edited 1")
    expect(page.locator("#curate-selected")).to_contain_text("Original text: " + PROMPTS[2][0])

    # A folder outside the projects root, typed in the project bar, is an error message; the open project stays shown.
    folder = page.locator("#project-folder textarea, #project-folder input").first
    folder.fill(str(tmp_path.parent / "nowhere"))
    page.locator("#project-open").click()
    expect(page.get_by_text("not a project of this server").first).to_be_visible(timeout=15_000)  # missing or outside: one message
    expect(counts).to_contain_text("pending 4 · accepted 1 · rejected 0 · edited 1")
    page.close()

    # Another server process on the same project (as after a restart) shows the same state.
    page = browser.new_page()
    page.goto(serve_app("--project", str(project)))
    page.get_by_role("tab", name="Curate").click()
    expect(page.locator("#curate-counts")).to_contain_text("pending 4 · accepted 1 · rejected 0 · edited 1", timeout=30_000)
    expect(page.locator("#curate-table").get_by_role("row").filter(has_text=PROMPTS[0][0])).to_contain_text("accepted")
    page.close()


@pytest.mark.browser
def test_four_browser_sessions_curating_one_project_at_once_lose_and_double_nothing(served_app, browser, tmp_path):
    """Four people, one project, one server: each works through its own prompts (its
    search filter) while the others' clicks are in flight; every decision lands once.
    The server is the session's shared one: each page opens the project in the project bar."""
    from playwright.sync_api import expect

    from tests.pages import open_project

    project = tmp_path / "project"
    project.mkdir()
    per = 5
    texts = {s: [f"Session {s} asks question {k} about Brindlecove?" for k in range(per)] for s in range(4)}
    with Pool(project) as pool:
        ids = pool.add_prompts([t for s in texts for t in texts[s]], source="seed").added
        pool.set_results_many(Results(i, f"answer {i}", gap=1.5, gap_metric="logratio", auto_label="above") for i in ids)
    contexts = [browser.new_context() for _ in range(4)]  # four sessions: own cookies, own state
    pages = [c.new_page() for c in contexts]
    intended: dict[str, str] = {}
    try:
        for s, page in enumerate(pages):
            open_project(page, served_app, project)
            page.get_by_role("tab", name="Curate").click()
            expect(page.locator("#curate-counts")).to_contain_text("20 prompts", timeout=60_000)
            search = page.locator("#curate-filter-search textarea, #curate-filter-search input").first
            search.fill(f"Session {s} asks")
            search.press("Enter")
            expect(page.locator("#curate-matching")).to_contain_text(f"{per} prompts match the filter", timeout=30_000)
        for k in range(per):  # round robin: page s clicks while the pages before it are still being answered
            for s, page in enumerate(pages):
                text = texts[s][k]
                page.locator("#curate-table").get_by_role("gridcell").filter(has_text=text).first.click()
                expect(page.locator("#curate-prompt textarea")).to_have_value(text, timeout=30_000)
                action = "accept" if (s + k) % 2 == 0 else "reject"
                page.locator(f"#curate-{action}").click()
                intended[text] = {"accept": "accepted", "reject": "rejected"}[action]
        # A page's counts are those of its own last answer: the pool says when every click has landed.
        wait_until(lambda: states(project)["pending"] == 0, 60, "every session's decisions to land")
        expect(pages[-1].locator("#curate-counts")).to_contain_text("pending 0", timeout=30_000)  # the last to answer
    finally:
        for c in contexts:
            c.close()
    with Pool(project, create=False) as pool:
        rows = pool.query()
        decisions = pool.decisions()
    assert dict(zip(rows["text"], rows["state"])) == intended  # nothing lost, nothing crossed between sessions
    assert len(decisions) == 4 * per  # one decision each: nothing doubled


@pytest.mark.browser
def test_a_server_killed_mid_curation_keeps_every_answered_decision_and_serves_the_same_pool_again(serve_app, browser, tmp_path):
    import signal

    from playwright.sync_api import expect

    project = tmp_path / "project"
    make_project(project)
    url = serve_app("--project", str(project))
    page = browser.new_page()
    try:
        page.goto(url)
        page.get_by_role("tab", name="Curate").click()
        counts, table = page.locator("#curate-counts"), page.locator("#curate-table")
        expect(counts).to_contain_text("pending 6 · accepted 0", timeout=30_000)
        table.get_by_role("gridcell").filter(has_text=PROMPTS[0][0]).first.click()
        expect(page.locator("#curate-prompt textarea")).to_have_value(PROMPTS[0][0])
        page.locator("#curate-accept").click()
        expect(counts).to_contain_text("pending 5 · accepted 1")  # answered: committed
        table.get_by_role("gridcell").filter(has_text=PROMPTS[1][0]).first.click()
        expect(page.locator("#curate-prompt textarea")).to_have_value(PROMPTS[1][0])
        page.locator("#curate-reject").click()
        serve_app.procs[-1].send_signal(signal.SIGKILL)  # while that click may still be on its way
        serve_app.procs[-1].wait(10)
        with Pool(project, create=False) as pool:
            assert pool.integrity_problems() == []
            assert pool.get(pool.ids(PoolFilter(search=PROMPTS[0][0]))[0]).state == "accepted"
            second = pool.get(pool.ids(PoolFilter(search=PROMPTS[1][0]))[0]).state
            landed = states(project)
        assert second in ("pending", "rejected")  # the unanswered click landed whole, or not at all
        again = serve_app("--project", str(project))
        page.goto(again)
        page.get_by_role("tab", name="Curate").click()
        expect(counts).to_contain_text(f"pending {landed['pending']} · accepted 1 · rejected {landed['rejected']}", timeout=30_000)
    finally:
        page.close()
