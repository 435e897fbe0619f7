"""The one place for the project's small state files: JSON and JSONL read and written
so that no reader ever sees half a file and no killed writer leaves one.

Every write goes aside to a unique temporary name in the same folder, is fsynced, and
is renamed over the target (atomic on POSIX): two writers never share a temp file, and
a reader sees the old file or the new one.  JSONL files that grow by appends (answers,
questions) may end in a line torn by a kill; readers drop that one line (the work is
redone) and name the file and line of any other damage.

Folders written as a whole (a trained adapter, a merged export) go the same way:
written into a temporary folder beside their place and swapped in (`replace_dir`).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from kd_core.errors import InputFileError

log = logging.getLogger(__name__)


def now() -> str:
    """A UTC timestamp for state files (ISO 8601, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def fsync_dir(folder: str | Path) -> None:
    """Make a rename in `folder` durable (a crash right after it cannot undo it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every platform opens folders
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a folder; the rename itself stays atomic
    finally:
        os.close(fd)


def write_atomic(path: str | Path, data: str | bytes, mode: int | None = None) -> None:
    """Write aside (unique temp name), fsync, rename, fsync the folder: a reader or a
    kill never leaves half a file under its name, and concurrent writers never collide
    on the temp file (the last rename wins, whole).  `data` is text (UTF-8) or bytes.
    `mode` (e.g. 0o600 for a file of secrets): the temp file is created with it, so the
    data is never readable more widely, not even before the rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)



def write_atomic_many(files: "dict[Path, str | bytes]") -> None:
    """Write several files that belong together (a dataset and its cards): every one is
    written aside and synced before any is renamed, so a kill while writing leaves the
    old set whole, and the renames (in the order given) are the only window; the folder
    is synced after them."""
    temps: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = _temp_name(path)
            temps.append((tmp, path))
            with open(tmp, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
        for tmp, path in temps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
    for folder in {path.parent for _, path in temps}:
        fsync_dir(folder)


def temp_dir_beside(target: str | Path) -> Path:
    """A new, empty, hidden folder beside `target` (same filesystem: it can be renamed
    into place), for `replace_dir`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(target)
    tmp.mkdir()
    return tmp


def _aside_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.old")


def recover_dir(target: str | Path) -> None:
    """Undo what a kill between `replace_dir`'s two renames left: when `target` is
    missing and an earlier version waits aside (``.NAME.*.old``), it goes back; aside
    copies no longer needed are removed."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    aside = sorted(target.parent.glob(f".{target.name}.*.old"), key=lambda p: p.stat().st_mtime)
    if aside and not target.exists():
        os.replace(aside.pop(), target)
        fsync_dir(target.parent)
    for old in aside:
        shutil.rmtree(old, ignore_errors=True)


def replace_dir(new: str | Path, target: str | Path) -> None:
    """Put the folder `new` (written whole and beside `target`, see `temp_dir_beside`)
    in the place of `target`, which may exist (one writer per folder: a job's process).

    A folder cannot be renamed over a non-empty one, so an old `target` is renamed aside
    first, then `new` is renamed in, then the old one is removed: a reader sees the old
    folder whole or the new one whole, and at worst, for the instant between the two
    renames, no folder (never a half-written or half-deleted one).  A kill inside that
    instant leaves the old folder aside under ``.NAME.*.old``; `recover_dir` (which runs
    here first, and which readers may call) puts it back.  Removing the old folder
    before renaming would instead leave a half-deleted folder to a kill."""
    new, target = Path(new), Path(target)
    for f in new.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    fsync_dir(new)
    recover_dir(target)
    aside = None
    if target.exists():
        aside = _aside_name(target)
        os.replace(target, aside)
    try:
        os.replace(new, target)
    except BaseException:
        if aside is not None and not target.exists():
            os.replace(aside, target)
        raise
    fsync_dir(target.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def write_json(path: str | Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | Path) -> dict[str, Any]:
    """A state file's object; {} when it is missing or unreadable (a state file is
    rewritten whole, so a damaged one means no state, not an error to stop on)."""
    data = load_json(path)
    return data if isinstance(data, dict) else {}


_warned: set[tuple[str, int, int]] = set()


def damaged(path: str | Path, why: str) -> None:
    """Say (once per version of the file: readers poll) that a state file is damaged and
    is treated as missing; the message names the file."""
    path = Path(path)
    try:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
    except OSError:
        key = (str(path), 0, 0)
    if key not in _warned:
        _warned.add(key)
        log.warning("%s is damaged (%s); it is treated as missing", path, why)


def load_json(path: str | Path, default: Any = None) -> Any:
    """The JSON value of a state file; `default` when it is missing, and when it is
    damaged (truncated by a crash, not JSON), which is said naming the file (`damaged`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return default
    except UnicodeDecodeError:
        damaged(path, "not UTF-8 text")
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        damaged(path, f"not valid JSON: {e.msg} at line {e.lineno}")
        return default


def update_json(path: str | Path, **fields: Any) -> dict[str, Any]:
    """Read the object, set `fields`, write it back atomically; returns the new object."""
    data = read_json(path)
    data.update(fields)
    write_json(path, data)
    return data


def jsonl_text(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def read_jsonl(path: str | Path) -> list[dict]:
    """The rows of a JSONL file ([] when missing). A torn last line (a killed appender)
    is dropped; a bad line anywhere else is named by file and line."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if n == len(lines):
                break
            raise InputFileError(f"{path}, line {n}: not valid JSON (the project file is damaged)") from None
    return rows


def jsonl_rows(name: str | Path, text: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line of a JSONL file people brought
    (documents, question sets, training data); a line that is not JSON is an
    InputFileError naming the file and the line.  Unlike `read_jsonl` (state files this
    program appends to), no line is forgiven: a person's file is read whole or refused."""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as e:
            raise InputFileError(f"{name}, line {n}: not valid JSON ({e.msg})") from None


def append_jsonl(path: str | Path, rows: Sequence[dict]) -> None:
    """Append rows durably; a torn last line left by a killed writer is cut first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size:
        data = path.read_bytes()
        if not data.endswith(b"\n"):
            with open(path, "r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)
    with open(path, "a", encoding="utf-8") as f:
        f.write(jsonl_text(rows))
        f.flush()
        os.fsync(f.fileno())


def tail(path: str | Path, lines: int = 15) -> str:
    """The last `lines` lines of a text file ('' when missing)."""
    try:
        text = Path(path).read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return ""
    return "\n".join(text.splitlines()[-lines:])
