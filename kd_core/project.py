"""A project folder and what it holds: every step of KD Studio writes into one folder
(pool.sqlite, seeds/, expand/, documents/, pd/, jobs/, eval/, recipe/, report/), and the UI
and the CLI open it by path.  `open_project` creates a new one and says what an existing
one holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kd_core.errors import KDError


def open_project(path: str | Path, create: bool = True) -> dict[str, Any]:
    """The folder (created when new and `create`), and counts of what it holds."""
    text = str(path or "").strip()
    if not text:
        raise KDError("Project folder: empty (type a folder path; a new one is created)")
    root = Path(text).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise KDError(f"Project folder: {root} is a file, not a folder")
    created = not root.exists()
    if created:
        if not create:
            raise KDError(f"Project folder: {root} does not exist")
        try:
            root.mkdir(parents=True)
        except OSError as e:
            raise KDError(f"Project folder: cannot create {root}: {e.strerror or e}") from None
    holds: dict[str, Any] = {"prompts": 0, "jobs": 0, "evaluations": 0, "documents": 0, "report": None}
    if (root / "pool.sqlite").exists():
        from kd_core.tuneshift.pool import Pool

        with Pool(root, create=False) as pool:
            holds["prompts"] = pool.count()
    holds["jobs"] = sum(1 for p in (root / "jobs").glob("*/config.yaml"))
    holds["evaluations"] = sum(1 for p in (root / "eval").glob("*/summary.json")) + sum(1 for p in (root / "pd" / "eval").glob("*/summary.json"))
    chunks = root / "documents" / "chunks.jsonl"
    holds["documents"] = sum(1 for _ in chunks.open()) if chunks.exists() else 0
    if (root / "report" / "report.html").exists():
        holds["report"] = str(root / "report" / "report.html")
    return {"path": str(root), "created": created, **holds}


def describe(summary: dict[str, Any]) -> str:
    """One line for people: what the folder holds."""
    if summary["created"]:
        return f"Created the project {summary['path']} (empty): start with seeds in Expand or documents in Documents."
    parts = [f"{summary['prompts']} prompts in the pool", f"{summary['jobs']} training jobs",
             f"{summary['evaluations']} evaluations", f"{summary['documents']} document chunks"]
    if summary["report"]:
        parts.append("a recipe report")
    return f"Opened {summary['path']}: " + ", ".join(parts) + "."
