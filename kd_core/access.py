"""Who may open the web app: the accounts file `kd-studio serve --auth-file` reads.

One ``user:password`` per line (``#`` comments and blank lines ignored).  The file
holds passwords, so one that others on the machine can read is refused, and no
password is ever printed: messages name the file and the line only.
"""

from __future__ import annotations

import stat
from pathlib import Path

from kd_core.errors import InputFileError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def read_accounts(path: str | Path) -> list[tuple[str, str]]:
    """(user, password) pairs from an accounts file; every problem names its line."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputFileError(f"accounts file not found: {p}")
    mode = p.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputFileError(f"{p}: readable by other users (mode {stat.filemode(mode)}); it holds passwords: chmod 600 {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputFileError(f"{p}: not UTF-8 text") from None
    accounts: list[tuple[str, str]] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        user = user.strip()
        if not sep or not user:
            raise InputFileError(f"{p}, line {number}: expected user:password")
        if len(password) < 8:
            raise InputFileError(f"{p}, line {number}: the password of '{user}' is shorter than 8 characters")
        if user in seen:
            raise InputFileError(f"{p}, line {number}: user '{user}' appears twice")
        seen.add(user)
        accounts.append((user, password))
    if not accounts:
        raise InputFileError(f"{p}: no account in the file (one user:password per line)")
    return accounts
