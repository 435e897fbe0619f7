"""The server's gate in the app: who sent the event being handled, what it may touch.

`install(app)` runs after the tabs are built.  It wraps every event function of the
Blocks with a check of the action the function declared with `needs`
(kd_core.access.roles; undeclared: "view"), so the check holds for a click, a timer
and a direct HTTP API call alike.  `serve(gate, accounts)`, called once by the server
(ui.app.launch), sets who can sign in and the gate the tabs' path helpers (ui.tab)
confine through; an app built without it (tests calling the tabs' functions) runs as
this machine's user with no gate.  A refused action raises a plain message, nothing else.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import gradio as gr
from gradio.context import LocalContext

from kd_core.access.accounts import Account
from kd_core.access.gate import Gate
from kd_core.access.roles import ACTIONS, LOCAL, Caller, require
from kd_core.errors import KDError

_GATE: Gate | None = None
_ACCOUNTS: dict[str, Account] | None = None
ACTION_ATTR = "_kd_action"


def needs(action: str, fn: Callable) -> Callable:
    """`fn`, marked as doing `action` (one of kd_core.access.roles.ACTIONS) when an event calls it."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")

    marked = _same_kind(fn, lambda: None)  # a wrapper, so one function can serve two actions
    setattr(marked, ACTION_ATTR, action)
    return marked


def action_of(fn: Callable | None) -> str:
    return getattr(fn, ACTION_ATTR, "view")


def gate() -> Gate | None:
    return _GATE


def has_accounts() -> bool:
    return _ACCOUNTS is not None


def caller(name: str | None = None) -> Caller:
    """Who sent the event being handled (or the account `name`): the signed-in account,
    or this machine's user when the server has no accounts (then only this machine can reach it)."""
    if _ACCOUNTS is None:
        return LOCAL
    if name is None:
        name = getattr(LocalContext.request.get(None), "username", None)
    account = _ACCOUNTS.get(name) if isinstance(name, str) else None
    if account is None:  # signed in under an account since removed: nothing
        return Caller(str(name or "nobody"), "none", ())
    return Caller(account.user, account.role, account.projects)


def may(action: str) -> bool:
    """Whether the caller of the event being handled may do `action`."""
    try:
        require(caller(), action)
    except KDError:
        return False
    return True


def _same_kind(fn: Callable, before: Callable[[], None]) -> Callable:
    """`fn` with `before()` run first, of the same kind (Gradio streams a generator
    function's values and awaits a coroutine function), its signature kept (functools.wraps:
    Gradio reads it to pass gr.Request and gr.SelectData)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(*args, **kwargs):
            before()
            yield from fn(*args, **kwargs)
        return gen
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def coro(*args, **kwargs):
            before()
            return await fn(*args, **kwargs)
        return coro

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        before()
        return fn(*args, **kwargs)
    return plain


def _checked(fn: Callable, action: str) -> Callable:
    def check() -> None:
        try:
            require(caller(), action)
        except KDError as e:
            raise gr.Error(str(e)) from None

    return _same_kind(fn, check)


def serve(server_gate: Gate, accounts: dict[str, Account] | None) -> None:
    """The server's gate and accounts, for every event this process handles from now on."""
    global _GATE, _ACCOUNTS
    _GATE, _ACCOUNTS = server_gate, accounts


def install(app: gr.Blocks) -> list[tuple[int, str, str]]:
    """Check every event of `app` against its declared action; returns (event id, function,
    action) for each, the table the tests hold the app to."""
    table = []
    for fn_id, block_fn in app.fns.items():
        if block_fn.fn is None:  # a js-only event
            continue
        action = action_of(block_fn.fn)
        block_fn.fn = _checked(block_fn.fn, action)
        table.append((fn_id, f"{getattr(block_fn.fn, '__module__', '')}.{getattr(block_fn.fn, '__qualname__', block_fn.fn)}", action))
    return table


def project(text: str | None, action: str = "open") -> Any:
    """The project folder a page names, confined when the server has a gate."""
    g = _GATE
    if g is None:
        return None
    return g.project(caller(), text, action)
