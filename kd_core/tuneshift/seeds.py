"""Seed prompt files kept in a project (``<project>/seeds/``).

A run or a recipe reads its seeds from a file, so seeds typed or uploaded in the browser
are kept as a file in the project: the project then holds what its rounds started from.
A file is read and checked before anything is written, so a bad one leaves the project
as it was; an earlier, different file of the same name is kept (the new one is stamped).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from kd_core.data.files import write_atomic
from kd_core.data.prompt_files import PromptFile, read_prompts
from kd_core.errors import KDError
from kd_core.project import Project


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def stage_seeds(project: str | Path, path: str | Path) -> PromptFile:
    """Check the prompt file `path`, then keep a copy in the project's seeds folder under
    its own name; the prompts as read, their `path` the kept copy."""
    found = read_prompts(path)  # names the file and line of what is wrong
    source = Path(path)
    target = Project.at(project).seeds_dir / source.name  # the name alone: nothing lands outside seeds/
    target.parent.mkdir(parents=True, exist_ok=True)
    same = source.resolve() == target.resolve()
    if target.exists() and not same and target.read_bytes() != source.read_bytes():
        target = target.with_name(f"{target.stem}-{_stamp()}{target.suffix}")  # keep the earlier file
    if not same:
        write_atomic(target, source.read_bytes())  # a kill while copying leaves no half seed file
    return replace(found, path=str(target))


def stage_text(project: str | Path, text: str) -> PromptFile:
    """Prompts typed one per line, kept as ``seeds/pasted-<time>.txt`` once they read cleanly."""
    folder = Project.at(project).seeds_dir
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".pasted-{_stamp()}.txt"  # hidden until checked: a failed read leaves no seed file
    write_atomic(tmp, text.strip() + "\n")
    try:
        found = read_prompts(tmp)
    except KDError:
        tmp.unlink()
        raise
    target = tmp.with_name(tmp.name[1:])
    tmp.replace(target)
    return replace(found, path=str(target))
