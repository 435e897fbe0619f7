"""`kd-studio serve` (what `make run` starts) serves the app, and a real browser renders it."""

import os

import pytest


@pytest.mark.browser
def test_served_page_renders_in_chromium(served_app, browser):
    page = browser.new_page()
    page.goto(served_app)
    page.get_by_text("KD Studio").first.wait_for(timeout=30_000)
    assert page.title() == "KD Studio"
    page.get_by_role("tab", name="Models").click()
    assert page.get_by_text("demo:gemma3-270m").first.is_visible()
    page.close()


@pytest.mark.browser
def test_explore_shows_the_demo_scatter_and_the_threshold_moves_the_labels(served_app, browser):
    import re

    from ui.app import DEMO_SCORES

    if not DEMO_SCORES.exists():
        pytest.fail(f"{DEMO_SCORES} is missing: run `kd-studio demo evaluate --what gap`")
    page = browser.new_page()
    page.goto(served_app)
    page.get_by_role("tab", name="Explore").click()
    summary = page.locator("#explore-summary")
    summary.get_by_text("above").wait_for(timeout=30_000)

    def above() -> int:
        return int(re.search(r"(\d+) above", summary.inner_text()).group(1))

    first = above()
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=30_000)  # scatter and histogram, drawn by plotly.js
    if os.environ.get("KD_STUDIO_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["KD_STUDIO_SCREENSHOTS"], "explore.png"), full_page=True)
    number = page.get_by_label("Threshold").first  # the slider's number box
    number.fill("3.5")
    number.press("Enter")
    page.wait_for_function(
        "([el, n]) => !el.innerText.includes(n + ' above')", arg=[summary.element_handle(), first], timeout=30_000
    )
    assert above() < first  # a higher threshold keeps fewer prompts
    page.close()


@pytest.mark.browser
def test_the_project_bar_creates_a_new_folder_and_opens_an_existing_one_in_every_tab(served_app, browser, tmp_path):
    from playwright.sync_api import expect

    from kd_core.tuneshift.pool import Pool
    from tests.pages import fill

    existing = tmp_path / "existing"
    existing.mkdir()
    with Pool(existing) as pool:
        pool.add_prompts(["Who founded Kell?", "Who built the Brine lamp?"], source="seed")
    new = tmp_path / "new" / "project"
    # The page names projects relative to the server's projects root (the session's temp folder).
    rel = lambda p: str(p.relative_to(tmp_path.parent))  # noqa: E731
    page = browser.new_page()
    try:
        page.goto(served_app)
        fill(page, "project-folder", str(new))
        page.locator("#project-open").click()
        expect(page.locator("#project-message")).to_contain_text(f"Created the project {rel(new)}", timeout=30_000)
        assert new.is_dir()
        fill(page, "project-folder", str(existing))
        page.locator("#project-open").click()
        expect(page.locator("#project-message")).to_contain_text("2 prompts in the pool", timeout=30_000)
        page.get_by_role("tab", name="Curate").click()
        expect(page.locator("#project-pick input").first).to_have_value(rel(existing))
        expect(page.locator("#curate-counts")).to_contain_text("2", timeout=30_000)
        page.get_by_role("tab", name="Evaluate").click()
        expect(page.locator("#eval-status")).to_contain_text("No evaluation in this project yet", timeout=30_000)
        fill(page, "project-folder", str(existing / "pool.sqlite"))
        page.locator("#project-open").click()
        expect(page.get_by_text("is a file, not a folder").first).to_be_visible(timeout=30_000)
    finally:
        page.close()
