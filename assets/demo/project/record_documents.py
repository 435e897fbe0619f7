"""Records the demo project's documents (kd_core/demo/project.py copies them into the project):
the demo world's 11 documents, chunked as `kd-studio pd` chunks them with its default settings
(the demo base model's tokenizer; no weights loaded), so the Documents tab of the demo project
shows them. Run from the repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python assets/demo/project/record_documents.py
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import kd_core  # noqa: F401  (offline defaults first)
from kd_core.demo.models import REPO_ROOT
from kd_core.distill.config import PDConfig
from kd_core.distill.stages import add_documents, resolve_documents
from kd_core.project import Project

HERE = Path(__file__).resolve().parent


def main() -> None:
    out = HERE / "documents"
    shutil.rmtree(out, ignore_errors=True)
    staging = HERE / ".documents-project"
    shutil.rmtree(staging, ignore_errors=True)
    # Each named as the repository names it, not by this machine's path.
    docs = [replace(d, source=d.source.replace(f"{REPO_ROOT}/", "")) for d in resolve_documents(["demo:documents"])]
    add_documents(staging, docs, PDConfig())
    shutil.move(str(Project.at(staging).documents_dir), out)
    shutil.rmtree(staging)


if __name__ == "__main__":
    main()
