"""`kd-studio serve` (what `make run` starts) serves the app, and a real browser renders it."""

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


def test_serve_refuses_other_addresses_without_auth(capsys):
    from kd_core.cli import main

    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "refusing to listen on 0.0.0.0 without authentication" in capsys.readouterr().err
