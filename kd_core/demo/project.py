"""The demo project: a ready project folder made from the recorded runs, so a new user sees
every tab with real content the moment the app opens (no model runs, no training).

It holds what a TuneShift-KD run on the demo writes (kd_core.project.Project's layout):

- ``pool.sqlite``: the 254 prompts the recorded quiz recipe accepted, each with its round,
  generator, the fine-tuned model's answer and both models' per-token scores
  (assets/demo/project/pool.parquet, scored by record_pool.py beside it);
- ``data/<arm>/``: the arm's training data (those prompts plus 80 replay answers) and cards;
- ``jobs/<id>/``: the transferred student, Gemma 3 270M trained 8 epochs on that data,
  with its adapter (assets/demo/student/, recorded by its run.sh);
- ``eval/<name>/``: the teacher, the target before transfer and the student on the same
  held-out (demo:test) and control (demo:control) questions;
- ``report/``: the recorded recipe run's report;
- ``documents/``: the world's 11 documents, chunked for prompt distillation.

`make_demo_project(root)` writes it once, whole (built aside and renamed into place), and
leaves an existing one alone: people curate in it, and their decisions are theirs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from kd_core.data.files import replace_dir, temp_dir_beside, write_atomic
from kd_core.demo.models import REPO_ROOT, demo_spec
from kd_core.errors import KDError
from kd_core.project import Project

NAME = "demo"
MARKER = "demo-project.json"  # written last: a folder without it is not a finished demo project
ASSETS = REPO_ROOT / "assets" / "demo"
POOL_TABLE = ASSETS / "project" / "pool.parquet"
DOCUMENTS = ASSETS / "project" / "documents"  # the world's documents, chunked (record_documents.py beside it)
STUDENT = ASSETS / "student"  # the student's job folder (job/) and its evaluations (eval/)
RECORDED = ASSETS / "runs" / "tuneshift-quiz" / "replay"  # the recipe run the pool and data come from
BEFORE = ASSETS / "runs" / "tuneshift" / "eval"  # the teacher's and the untrained target's evaluations
ARM = "gemma3-270m-replay"
JOB_ID = "gemma3-270m-replay-student"
RECORDED_BY = "recorded run (demo)"  # who made the pool's decisions


def first_start(root: str | Path) -> str | None:
    """The project the server opens when none is named: the demo project, made now when
    the projects root holds no project yet (a first start); None when the root already
    holds projects but no demo (someone removed it: it is not made again)."""
    root = Path(root)
    if (root / NAME / MARKER).exists():
        return NAME
    if root.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir()):
        return None  # a folder named demo without the marker is someone's own project: left alone
    make_demo_project(root)
    return NAME


def make_demo_project(root: str | Path, name: str = NAME) -> Path:
    """Write the demo project as `root/name` (see the module's docstring) and return its
    folder; a finished one already there is returned untouched."""
    target = Path(root).absolute() / name
    if (target / MARKER).exists():
        return target
    if target.exists():
        raise KDError(f"{target} exists and is not the demo project: it is left as it is (name another folder)")
    missing = [str(p) for p in (POOL_TABLE, DOCUMENTS, STUDENT / "job" / "adapter", RECORDED, BEFORE)
               if not p.exists()]
    if missing:
        raise KDError(f"the demo project's recorded runs are missing: {', '.join(missing)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = temp_dir_beside(target)
    try:
        # Paths inside the files name the folder the project will have, not the one it is built in.
        project = Project(target)
        built = Project(aside)
        _pool(built)
        _data(built)
        adapter = _job(built, project)
        _evaluations(built, adapter)
        _report(built)
        shutil.copytree(DOCUMENTS, built.documents_dir)
        write_atomic(aside / MARKER, json.dumps({"kind": "kd-studio demo project", "made_from": [
            str(p.relative_to(REPO_ROOT)) for p in (POOL_TABLE, DOCUMENTS, STUDENT, RECORDED, BEFORE)]}, indent=2))
        replace_dir(aside, target)
    except BaseException:
        shutil.rmtree(aside, ignore_errors=True)
        raise
    return target


def _pool(project: Project) -> None:
    import pandas as pd

    from kd_core.tuneshift.expansion import META_SPECS, pair_scores
    from kd_core.tuneshift.pool import Pool, PoolFilter, Results

    table = pd.read_parquet(POOL_TABLE).sort_values("id")
    base, finetuned = demo_spec("base"), demo_spec("finetuned")
    with Pool(project.root) as pool:
        results = []
        # In the recorded order, a run of rows of one generator and round at a time (as the rounds added them).
        key = table["source"] + "/" + table["round"].astype(str)
        for _, rows in table.groupby(key.ne(key.shift()).cumsum(), sort=False):
            source, round_ = rows["source"].iloc[0], rows["round"].iloc[0]
            added = pool.add_prompts(list(rows["prompt"]), source=str(source), round=int(round_))
            if len(added.added) != len(rows):
                raise KDError(f"{POOL_TABLE}: {len(rows) - len(added.added)} duplicate prompts in round {round_}")
            results += [Results(pid, r.response, scores=pair_scores(r), gap=float(r.gap_logratio), gap_metric="logratio",
                                auto_label=r.label) for pid, (_, r) in zip(added.added, rows.iterrows())]
        pool.set_results_many(results)
        pool.bulk_set_state(PoolFilter(states="pending"), "accepted", who=RECORDED_BY)
        pool.update_meta({
            "models": {"base": base.label(), "finetuned": finetuned.label(), "writer": finetuned.label()},
            META_SPECS: {"base": base.to_dict(), "finetuned": finetuned.to_dict()},
            "thresholds": {"gap_metric": "logratio", "tau": 1.0},
            "demo": f"the prompts the recorded recipe accepted ({RECORDED.relative_to(REPO_ROOT)}); its "
                    "pending prompts were not recorded",
        })


def _copy_recorded(src: Path, dst: Path) -> None:
    """Copy a recorded run's folder, its cards and summaries naming no folder of the machine
    it ran on (an absolute path becomes its last part, as a model card names a base)."""
    from kd_core.data.cards import scrub_paths

    shutil.copytree(src, dst)
    for path in dst.rglob("*"):
        if path.suffix in (".json", ".md"):
            text = path.read_text()
            if scrub_paths(text) != text:
                write_atomic(path, scrub_paths(text))


def _data(project: Project) -> None:
    _copy_recorded(RECORDED / "data" / ARM, project.arm_data(ARM))


def _job(built: Project, project: Project) -> str:
    """Copy the student's job, its paths pointed at the project's folder; returns the
    adapter's path as the project will have it."""
    src = STUDENT / "job"
    shutil.copytree(src, built.job(JOB_ID))
    adapter = str(project.job(JOB_ID) / "adapter")
    status = json.loads((src / "status.json").read_text())
    status.update({"id": JOB_ID, "pid": None, "pid_start": None, "host": None})
    status["summary"]["adapter"] = adapter
    write_atomic(built.job(JOB_ID) / "status.json", json.dumps(status, indent=2))
    config = yaml.safe_load((src / "config.yaml").read_text())
    config["data"] = str(project.arm_data(ARM) / "dataset.jsonl")
    config["train"]["output_dir"] = str(project.job(JOB_ID))
    write_atomic(built.job(JOB_ID) / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    return adapter


def _evaluations(project: Project, adapter: str) -> None:
    for name in ("teacher-test", "teacher-control", "gemma3-270m-before-test", "gemma3-270m-before-control"):
        _copy_recorded(BEFORE / name, project.evaluation(name))
    for folder in sorted((STUDENT / "eval").iterdir()):
        shutil.copytree(folder, project.evaluation(folder.name))
        summary: dict[str, Any] = json.loads((folder / "summary.json").read_text())
        summary["model"] = f"{demo_spec('target').label()} + {adapter}"  # what the catalog matches its job by
        write_atomic(project.evaluation(folder.name) / "summary.json", json.dumps(summary, indent=2))


def _report(project: Project) -> None:
    from kd_core.tuneshift.report import report_page

    out = project.report_dir
    out.mkdir(parents=True)
    from kd_core.data.cards import scrub_paths

    md = (RECORDED / "report.md").read_text()
    write_atomic(out / "results.json", scrub_paths((RECORDED / "results.json").read_text()))
    write_atomic(out / "report.md", md)
    write_atomic(out / "report.html", report_page("demo report (recorded run)", md))
