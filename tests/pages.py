"""Helpers for browser tests that drive the Gradio app."""

from __future__ import annotations


def fill(page, elem_id: str, value: str) -> None:
    """Type into the field of the widget `elem_id`, then leave it: numbers commit on change."""
    box = page.locator(f"#{elem_id} input, #{elem_id} textarea").first
    box.fill(value)
    box.press("Tab")
