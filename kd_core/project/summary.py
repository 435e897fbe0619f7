"""What a project folder holds, for the app's project bar and the CLI: open (or create)
one and count its prompts, jobs, evaluations, document chunks and report.  Apart from
the layout (kd_core.project) because counting reads the pool, and the pool's own
modules need the layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kd_core.errors import KDError
from kd_core.project import Project


def open_project(path: str | Path, create: bool = True) -> dict[str, Any]:
    """The folder (created when new and `create`), and counts of what it holds."""
    project = Project.at(path)
    root = project.root.resolve()
    project = Project(root)
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
    if project.pool.exists():
        from kd_core.tuneshift.pool import Pool

        with Pool(root, create=False) as pool:
            holds["prompts"] = pool.count()
    holds["jobs"] = sum(1 for p in project.jobs_dir.glob("*/config.yaml"))
    holds["evaluations"] = (sum(1 for p in project.eval_dir.glob("*/summary.json"))
                            + sum(1 for p in project.pd_eval_dir.glob("*/summary.json")))
    holds["documents"] = sum(1 for _ in project.chunks.open()) if project.chunks.exists() else 0
    if (project.report_dir / "report.html").exists():
        holds["report"] = str(project.report_dir / "report.html")
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
