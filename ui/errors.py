"""How a tab shows a user error."""

from __future__ import annotations

import functools
from typing import Callable

import gradio as gr

from kd_core.errors import KDError


def guarded(fn: Callable) -> Callable:
    """KDError as a message in the page; raising keeps every widget as it was, so a
    half-typed edit, a filter or a form survives a failed action."""

    @functools.wraps(fn)  # Gradio reads the signature to pass gr.Request / gr.SelectData
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KDError as e:
            raise gr.Error(str(e)) from None

    return run
