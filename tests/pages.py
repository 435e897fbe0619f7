"""Helpers for browser tests that drive the Gradio app."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def fill(page, elem_id: str, value: str) -> None:
    """Type into the field of the widget `elem_id`, then leave it: numbers commit on change."""
    box = page.locator(f"#{elem_id} input, #{elem_id} textarea").first
    box.fill(value)
    box.press("Tab")


def choose(page, elem_id: str, option: str) -> None:
    """Pick `option` (its label) in the dropdown `elem_id`, as a user does: open it, type to
    narrow a long list (a shared server's root holds many projects), click the option."""
    box = page.locator(f"#{elem_id} input").first
    box.click()
    box.fill("")
    box.press_sequentially(option)
    page.get_by_role("option", name=option, exact=True).click()


def open_project(page, url: str, project) -> None:
    """Open `url` (a server shared by several tests) and switch every tab to `project`
    through the project bar, as a user would (a new folder is created); returns once the
    app says it opened it."""
    from playwright.sync_api import expect

    page.goto(url)
    fill(page, "project-folder", str(project))
    page.locator("#project-open").click()
    # The page names the project relative to the server's projects root: its last part is in it.
    expect(page.locator("#project-message")).to_contain_text(Path(str(project)).name, timeout=30_000)


@contextmanager
def project_page(browser, url: str, project) -> Iterator:
    """A new page on the server at `url` with `project` opened through the project bar
    (see open_project); closed when the block ends, whatever happens in it."""
    page = browser.new_page()
    try:
        open_project(page, url, project)
        yield page
    finally:
        page.close()
