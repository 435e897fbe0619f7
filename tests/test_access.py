"""Who may open the app: local only by default; another address only with an accounts
file, which is checked line by line and never echoes a password; with one, nothing of
the app answers before a sign-in."""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kd_core.access import read_accounts
from kd_core.cli import main
from kd_core.errors import InputFileError
from scripts.browser import stop_server


def _accounts(tmp_path, text: str, mode: int = 0o600):
    path = tmp_path / "accounts.txt"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_an_accounts_file_is_read_and_each_bad_line_is_named_without_its_password(tmp_path):
    path = _accounts(tmp_path, "# team\nalice:correct-horse\n\nbob:battery-staple:x\n")
    assert read_accounts(path) == [("alice", "correct-horse"), ("bob", "battery-staple:x")]
    for text, said in (("alice\n", "line 1: expected user:password"),
                       ("alice:short\n", "line 1: the password of 'alice' is shorter than 8 characters"),
                       ("alice:correct-horse\nalice:other-secret\n", "line 2: user 'alice' appears twice"),
                       ("# nobody\n", "no account in the file")):
        with pytest.raises(InputFileError, match=said) as e:
            read_accounts(_accounts(tmp_path, text))
        assert "correct-horse" not in str(e.value) and "other-secret" not in str(e.value)


def test_an_accounts_file_others_can_read_is_refused(tmp_path):
    with pytest.raises(InputFileError, match=r"readable by other users .*chmod 600"):
        read_accounts(_accounts(tmp_path, "alice:correct-horse\n", mode=0o644))


def test_serve_refuses_another_address_without_an_accounts_file_and_with_a_bad_one(tmp_path, capsys):
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "refusing to listen on 0.0.0.0 without authentication: give --auth-file" in capsys.readouterr().err
    bad = _accounts(tmp_path, "alice:correct-horse\n", mode=0o644)
    assert main(["serve", "--host", "0.0.0.0", "--auth-file", str(bad)]) == 2
    assert "readable by other users" in capsys.readouterr().err


@pytest.mark.browser  # starts the app server (no Chromium)
def test_with_accounts_the_app_answers_nothing_before_a_sign_in(tmp_path, serve_app):
    path = _accounts(tmp_path, "alice:correct-horse\n")
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
