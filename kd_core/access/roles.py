"""Who may do what on a shared server.

Taken from the annotation tools teams already use: Argilla's workspaces with `owner`/
`admin`/`annotator` roles and Label Studio's Administrator/Annotator split.  Two roles
are enough here: an `admin` does everything; a `curator` (Argilla's annotator) opens the
projects their account names (the account's project list plays the part of Argilla's
workspaces), views them, curates their pools and chats with models an admin loaded.
Every event the web app serves declares one action of `ACTIONS` (ui.access checks that
none is left undeclared) and `require` is called with it before the handler runs, so a
curator calling an admin action through the HTTP API is refused as on the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from kd_core.errors import KDError

ACTIONS = {
    "view": "read what an open project holds: lists, plots, statuses, logs, results",
    "curate": "accept, reject, edit, undo one's own decisions, send a chat answer to the pool",
    "chat": "generate with models already loaded in the server",
    "open": "open an existing project",
    "create": "create a project folder",
    "models": "check, load and unload models",
    "run": "start or stop expansions, prompt distillation, evaluations",
    "train": "launch, stop or resume training jobs",
    "settings": "save a project's settings (training form, PD config, seeds, documents) or export its data",
}
ROLES = {
    "admin": frozenset(ACTIONS),
    "curator": frozenset({"view", "curate", "chat", "open"}),
}


@dataclass(frozen=True)
class Caller:
    """Who sent a request: an account's name, role and the projects it may open."""

    user: str
    role: str
    projects: tuple[str, ...] = ("*",)

    def may_open(self, name: str) -> bool:
        return "*" in self.projects or name in self.projects


LOCAL = Caller("local", "admin")  # a server without accounts: only this machine can reach it (kd_core.access.gate)


class Refused(KDError):
    """An action this caller's role does not allow."""


def require(caller: Caller, action: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if action not in ROLES.get(caller.role, frozenset()):
        raise Refused(f"{caller.user} ({caller.role}) may not {ACTIONS[action].split(':')[0]}: ask an admin")
