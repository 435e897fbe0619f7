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
