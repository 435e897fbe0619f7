"""The accounts file `kd-studio serve --auth-file` reads and `kd-studio users` writes.

One account a line, four fields separated by ``:`` (``#`` comments and blank lines ignored)::

    alice:admin:*:scrypt$16384$8$1$<salt>$<hash>
    bob:curator:demo,team-a:scrypt$16384$8$1$<salt>$<hash>

user, role (`kd_core.access.roles.ROLES`), the projects the account may open (folder names
under the server's projects root, comma-separated; ``*``: all of them), and the password's
salted scrypt hash (the standard library's memory-hard hash: 16 MiB and ~50 ms a guess).
No password is stored, printed or named in a message: messages name the file and the line.
The file is refused when others on the machine can read it, and the old plain
``user:password`` format is refused with the command that converts it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from kd_core.access.roles import ROLES
from kd_core.data.files import write_atomic
from kd_core.errors import InputFileError, KDError

# scrypt's cost: N=2^14, r=8 needs 128*N*r = 16 MiB a guess; p=1.  Stored with each hash,
# so raising them later keeps old hashes readable.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 8
ALL = "*"
USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
HEADER = ("# KD Studio accounts, written by `kd-studio users`: user:role:projects:hash (scrypt).\n"
          "# Keep it chmod 600. Add or change an account: kd-studio users add NAME --auth-file THIS_FILE\n")


@dataclass(frozen=True)
class Account:
    user: str
    role: str  # a key of kd_core.access.roles.ROLES
    projects: tuple[str, ...]  # project folder names under the root; ("*",): all
    password_hash: str

    def may_open(self, project: str) -> bool:
        return ALL in self.projects or project in self.projects


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$N$r$p$salt$hash`` of a password, with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a ``scrypt$...`` hash (compared in constant time)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=64 * 1024 * 1024, dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def _check_hash(field: str) -> bool:
    parts = field.split("$")
    return len(parts) == 6 and parts[0] == "scrypt" and all(x.isdigit() for x in parts[1:4])


def read_accounts(path: str | Path) -> dict[str, Account]:
    """The accounts of a file, by user; every problem names its line (never a password)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputFileError(f"accounts file not found: {p}")
    mode = p.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputFileError(f"{p}: readable by other users (mode {stat.filemode(mode)}); it holds password hashes: chmod 600 {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputFileError(f"{p}: not UTF-8 text") from None
    accounts: dict[str, Account] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(":")
        where = f"{p}, line {number}"
        if len(fields) == 2 or (len(fields) > 1 and not _check_hash(fields[-1])):
            user = fields[0].strip()
            raise InputFileError(f"{where}: account '{user}' has a plain-text password (the old user:password format), "
                                 f"which is refused: run `kd-studio users add {user} --role admin --auth-file {p}` "
                                 "(it asks for the password and writes its hash), then delete the old line")
        if len(fields) != 4:
            raise InputFileError(f"{where}: expected user:role:projects:hash (write accounts with `kd-studio users add`)")
        user, role, projects, digest = fields
        if not USER_RE.match(user):
            raise InputFileError(f"{where}: user name '{user[:64]}' (letters, digits, . _ @ -; at most 64)")
        if role not in ROLES:
            raise InputFileError(f"{where}: role '{role}' of '{user}' is not one of {', '.join(ROLES)}")
        names = tuple(x.strip() for x in projects.split(",") if x.strip())
        bad = [x for x in names if x != ALL and not PROJECT_RE.match(x)]
        if bad or not names:
            raise InputFileError(f"{where}: projects of '{user}': give folder names under the projects root, comma-separated, or *")
        if user in accounts:
            raise InputFileError(f"{where}: user '{user}' appears twice")
        accounts[user] = Account(user, role, names, digest)
    if not accounts:
        raise InputFileError(f"{p}: no account in the file (add one: kd-studio users add NAME --auth-file {p})")
    return accounts


def write_accounts(path: str | Path, accounts: dict[str, Account]) -> None:
    """The whole file, atomically, readable by its owner only."""
    lines = [f"{a.user}:{a.role}:{','.join(a.projects)}:{a.password_hash}\n" for a in accounts.values()]
    # 0600 from the start: the hashes are never readable by others, not even before the rename.
    write_atomic(Path(path).expanduser(), HEADER + "".join(lines), mode=0o600)


def _existing(path: Path) -> dict[str, Account]:
    return read_accounts(path) if path.exists() and path.read_text(encoding="utf-8").strip(" \n#") else {}


def add_user(path: str | Path, user: str, password: str, role: str = "curator", projects: tuple[str, ...] = (ALL,)) -> Account:
    """Add an account, or replace the one of that name (a new password, role or projects)."""
    if not USER_RE.match(user):
        raise KDError(f"user name '{user[:64]}': letters, digits, . _ @ - (at most 64, starting with a letter or digit)")
    if role not in ROLES:
        raise KDError(f"role '{role}': one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise KDError(f"the password is shorter than {MIN_PASSWORD} characters")
    bad = [x for x in projects if x != ALL and not PROJECT_RE.match(x)]
    if bad or not projects:
        raise KDError(f"projects {bad or ''}: folder names under the projects root, or *")
    p = Path(path).expanduser()
    accounts = _existing(p)
    accounts[user] = Account(user, role, tuple(projects), hash_password(password))
    write_accounts(p, accounts)
    return accounts[user]


def remove_user(path: str | Path, user: str) -> None:
    p = Path(path).expanduser()
    accounts = _existing(p)
    if user not in accounts:
        raise KDError(f"{p}: no account '{user}'")
    del accounts[user]
    write_accounts(p, accounts)

