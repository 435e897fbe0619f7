"""The one place for the project's small state files: JSON and JSONL read and written
so that no reader ever sees half a file and no killed writer leaves one.

Every write goes aside to a unique temporary name in the same folder, is fsynced, and
is renamed over the target (atomic on POSIX): two writers never share a temp file, and
a reader sees the old file or the new one.  JSONL files that grow by appends (answers,
questions) may end in a line torn by a kill; readers drop that one line (the work is
redone) and name the file and line of any other damage.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from kd_core.errors import InputFileError


def now() -> str:
    """A UTC timestamp for state files (ISO 8601, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write aside (unique temp name), fsync, rename: a reader or a kill never leaves
    half a file under its name, and concurrent writers never collide on the temp file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
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
        try:
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            continue  # not every platform opens folders
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json(path: str | Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | Path) -> dict[str, Any]:
    """A state file's object; {} when it is missing or unreadable (a state file is
    rewritten whole, so a damaged one means no state, not an error to stop on)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


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
