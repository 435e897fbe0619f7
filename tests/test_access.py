"""Who may open the app: local only by default; another address only with an accounts
file, which is checked line by line and never echoes a password; with one, nothing of
the app answers before a sign-in."""

from __future__ import annotations

import io
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kd_core.access.accounts import add_user, read_accounts, verify_password
from kd_core.access.gate import PROJECT_REFUSED, Confined, Gate
from kd_core.access.roles import Caller, Refused
from kd_core.access.signin import Backoff
from kd_core.cli import main
from kd_core.errors import InputFileError, KDError
from scripts.browser import stop_server


def _accounts(tmp_path, *users: tuple[str, str, str, str], mode: int = 0o600) -> Path:
    """An accounts file written the way an admin writes one (`kd-studio users add`)."""
    path = tmp_path / "accounts.txt"
    for user, password, role, projects in users:
        add_user(path, user, password, role, tuple(projects.split(",")))
    os.chmod(path, mode)
    return path


def test_users_add_writes_salted_scrypt_hashes_never_the_password(tmp_path, monkeypatch, capsys):
    path = tmp_path / "accounts.txt"
    for user, password, role in (("alice", "correct-horse ", "admin"), ("bob", "correct-horse ", "curator")):
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        assert main(["users", "add", user, "--role", role, "--projects", "demo" if role == "curator" else "*",
                     "--auth-file", str(path), "--password-stdin"]) == 0
    text = path.read_text()
    assert "correct-horse" not in text and oct(path.stat().st_mode & 0o777) == "0o600"
    accounts = read_accounts(path)
    assert (accounts["alice"].role, accounts["bob"].role, accounts["bob"].projects) == ("admin", "curator", ("demo",))
    # Salted: the same password hashes differently; the trailing space is part of the password.
    assert accounts["alice"].password_hash != accounts["bob"].password_hash
    assert verify_password("correct-horse ", accounts["alice"].password_hash)
    assert not verify_password("correct-horse", accounts["alice"].password_hash)
    capsys.readouterr()
    assert main(["users", "list", "--auth-file", str(path)]) == 0
    assert capsys.readouterr().out.split("\n")[:2] == ["alice\tadmin\t*", "bob\tcurator\tdemo"]
    assert main(["users", "remove", "bob", "--auth-file", str(path)]) == 0
    assert list(read_accounts(path)) == ["alice"]


def test_an_accounts_file_is_read_and_each_bad_line_is_named_without_its_password(tmp_path):
    good = _accounts(tmp_path, ("alice", "correct-horse", "admin", "*")).read_text()
    digest = good.strip().splitlines()[-1].split(":")[-1]
    for text, said in (("alice:correct-horse\n", "line 1: account 'alice' has a plain-text password .*kd-studio users add alice"),
                       ("alice:admin:*\n", "line 1: account 'alice' has a plain-text password"),
                       (f"alice:root:*:{digest}\n", "line 1: role 'root' of 'alice' is not one of admin, curator"),
                       (f"alice:admin:../etc:{digest}\n", "line 1: projects of 'alice'"),
                       (f"alice:admin:*:{digest}\nalice:admin:*:{digest}\n", "line 2: user 'alice' appears twice"),
                       ("# nobody\n", "no account in the file")):
        path = tmp_path / "bad.txt"
        path.write_text(text)
        os.chmod(path, 0o600)
        with pytest.raises(InputFileError, match=said) as e:
            read_accounts(path)
        assert "correct-horse" not in str(e.value)


def test_an_accounts_file_others_can_read_is_refused(tmp_path):
    with pytest.raises(InputFileError, match=r"readable by other users .*chmod 600"):
        read_accounts(_accounts(tmp_path, ("alice", "correct-horse", "admin", "*"), mode=0o644))


def test_sign_in_back_off_grows_per_key_and_a_success_clears_it():
    b = Backoff(free=3, base_s=2.0, cap_s=60.0)
    for _ in range(3):
        assert b.wait_s("user:bob", now=100.0) == 0.0
        b.failed("user:bob", "addr:1.2.3.4", now=100.0)
    assert b.wait_s("user:bob", now=100.0) == pytest.approx(2.0)
    assert b.wait_s("user:eve", "addr:1.2.3.4", now=101.0) == pytest.approx(1.0)  # the address is in back-off too
    for _ in range(10):
        b.failed("user:bob", now=100.0)
    assert b.wait_s("user:bob", now=100.0) == 60.0  # capped
    b.succeeded("user:bob")
    assert b.wait_s("user:bob", now=100.0) == 0.0


@pytest.mark.parametrize("text", ["/etc", "/", "..", "../x", "a/../../x", "~", "~/x", "other", "link-out", "link-out/x",
                                  "", "  ", "demo\x00x"])
def test_the_gate_refuses_every_project_outside_the_callers_projects_with_one_message(tmp_path, text):
    root = tmp_path / "root"
    (root / "demo").mkdir(parents=True)
    (root / "other").mkdir()
    (root / "link-out").symlink_to(tmp_path)
    gate = Gate.create(root, upload_dir=tmp_path / "uploads")
    bob = Caller("bob", "curator", ("demo", "link-out"))
    with pytest.raises(Confined) as e:
        gate.project(bob, text)
    assert str(e.value) == PROJECT_REFUSED  # the same words whatever lies there


def test_the_gate_opens_projects_inside_the_root_and_models_only_from_allowed_places(tmp_path):
    root, models, uploads = tmp_path / "root", tmp_path / "models", tmp_path / "uploads"
    (root / "demo" / "jobs" / "j1" / "adapter").mkdir(parents=True)
    (models / "m1").mkdir(parents=True)
    uploads.mkdir()
    gate = Gate.create(root, (models,), upload_dir=uploads)
    bob, alice = Caller("bob", "curator", ("demo",)), Caller("alice", "admin")
    assert gate.project(bob, "demo") == root / "demo" == gate.project(bob, str(root / "demo"))
    assert gate.projects(bob) == ["demo"]
    with pytest.raises(Refused):
        gate.project(bob, "new", "create")
    assert gate.project(alice, "new", "create") == root / "new"
    assert gate.model(bob, "demo:gemma3-270m") == "demo:gemma3-270m"
    assert gate.model(bob, "HuggingFaceTB/SmolLM2-135M") == "HuggingFaceTB/SmolLM2-135M"
    assert gate.model(bob, str(models / "m1")) == str(models / "m1")
    assert gate.model(bob, "jobs/j1/adapter", root / "demo") == str(root / "demo" / "jobs" / "j1" / "adapter")
    for text in ("/etc", str(uploads), "../models/../..", str(tmp_path), "~/x", "."):
        with pytest.raises(Confined):
            gate.model(bob, text)
    with pytest.raises(KDError, match="must not contain one another"):
        Gate.create(uploads / "projects", upload_dir=uploads)


def test_serve_refuses_another_address_without_an_accounts_file_and_with_a_bad_one(tmp_path, capsys):
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "refusing to listen on 0.0.0.0 without authentication: give --auth-file" in capsys.readouterr().err
    bad = _accounts(tmp_path, ("alice", "correct-horse", "admin", "*"), mode=0o644)
    assert main(["serve", "--host", "0.0.0.0", "--auth-file", str(bad)]) == 2
    assert "readable by other users" in capsys.readouterr().err


@pytest.mark.browser  # starts the app server (no Chromium)
def test_with_accounts_the_app_answers_nothing_before_a_sign_in(tmp_path, serve_app):
    path = _accounts(tmp_path, ("alice", "correct-horse", "admin", "*"))
    url = serve_app("--auth-file", str(path)).rstrip("/")  # answers: the sign-in page
    try:

        def status(path: str, data: dict | None = None, cookie: str | None = None) -> tuple[int, str | None]:
            req = urllib.request.Request(url + path, data=urllib.parse.urlencode(data).encode() if data else None)
            if cookie:
                req.add_header("Cookie", cookie)
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status, r.headers.get("Set-Cookie")
            except urllib.error.HTTPError as e:
                return e.code, None

        assert status("/config")[0] == 401
        assert status("/gradio_api/info")[0] == 401
        assert status("/login", {"username": "alice", "password": "wrong-password"})[0] == 400
        code, cookie = status("/login", {"username": "alice", "password": "correct-horse"})
        assert code == 200 and cookie
        assert status("/config", cookie=cookie.split(";")[0])[0] == 200
    finally:
        stop_server(serve_app.procs[-1])  # its log is whole once it has exited
    assert "correct-horse" not in Path(serve_app.procs[-1].log_path).read_text()


# The events every signed-in account may call (action "view", the default): each reads or
# shows, or (the project bar, Evaluate's CSV) checks its own action in the core gate. A new
# event lands here only after a look: one that changes anything declares its action
# (ui.access.needs), and a curator can then not call it.
VIEW_EVENTS = {
    "ui.app.build_app.<locals>.on_open",  # "open", or "create" through the gate
    "ui.app.build_app.<locals>.listed",  # the project list
    "ui.app.select_tab.<locals>.select",  # Start here: shows a tab
    "ui.tab.show_typed",  # a picker's "other (type a path)" box
    "ui.chat.on_leave", "ui.chat.build.<locals>.on_preset", "ui.chat.build.<locals>.on_document", "ui.chat.build.<locals>.on_project",
    "ui.curate.build.<locals>.on_filter", "ui.curate.build.<locals>.on_load",
    "ui.curate.build.<locals>.on_select",
    "ui.documents.build.<locals>.on_load",
    "ui.evaluate.build.<locals>.on_adapter", "ui.evaluate.build.<locals>.on_project", "ui.evaluate.download",
    "ui.expand.build.<locals>.<lambda>", "ui.expand.build.<locals>.on_project", "ui.expand.command",
    "ui.explore.build.<locals>.on_load", "ui.explore.build.<locals>.on_metric", "ui.explore.build.<locals>.on_open",
    "ui.explore.build.<locals>.on_point", "ui.explore.build.<locals>.on_select", "ui.explore.build.<locals>.on_threshold",
    "ui.models.build.<locals>.loaded_text", "ui.models.command",
    "ui.polling.changes_only.<locals>.tick",
    "ui.train.build.<locals>.on_fill", "ui.train.build.<locals>.on_form", "ui.train.build.<locals>.on_project",
    "ui.train.build.<locals>.on_select", "ui.train.build.<locals>.refreshed",
}


def test_every_event_that_changes_something_declares_an_action_curators_lack(tmp_path):
    from ui import access
    from ui.app import build_app

    events = build_app(None).kd_events
    assert access.gate() is None and not access.has_accounts()  # building an app sets no server state
    viewed = {name for _, name, action in events if action == "view"}
    assert viewed == VIEW_EVENTS, ("an event without a declared action (ui.access.needs) is callable by every account: "
                                   f"new {sorted(viewed - VIEW_EVENTS)}, gone {sorted(VIEW_EVENTS - viewed)}")
    declared = {action for _, _, action in events}
    assert {"models", "run", "train", "settings", "curate", "chat"} <= declared
