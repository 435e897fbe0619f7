"""The demo project a first start opens (kd_core.demo.project): made from the recorded runs,
with no model run, and never made again over a user's work."""

from __future__ import annotations

import json

import pytest

from kd_core.demo import project as demo_project
from kd_core.demo.project import JOB_ID, MARKER, first_start, make_demo_project
from kd_core.errors import KDError
from kd_core.project import Project
from kd_core.tuneshift.pool import Pool, PoolFilter


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    assert first_start(root) == "demo"
    return Project(root / "demo")


def test_a_first_start_makes_the_demo_project_with_the_recorded_pool_job_evaluations_and_report(demo):
    with Pool(demo.root, create=False) as pool:
        counts = pool.counts()
        assert counts.total == 254 and counts.by_state["accepted"] == 254
        assert sorted({int(r) for r in pool.query()["round"]}) == [0, 1, 2, 3, 4]
        row = pool.get(pool.ids()[0])
        # Scored as an expansion scores: per-token log-probabilities of both models, the gap.
        assert row.scores["ppl_base"] > row.scores["ppl_ft"] and len(row.scores["token_lp_ft"]) == row.scores["n_tokens"]
        assert row.gap is not None and row.gap >= 1.0
    status = json.loads((demo.job(JOB_ID) / "status.json").read_text())
    adapter = demo.job(JOB_ID) / "adapter"
    assert status["state"] == "completed" and status["summary"]["adapter"] == str(adapter)
    assert (adapter / "adapter_model.safetensors").stat().st_size > 1_000_000
    names = {p.name for p in demo.eval_dir.iterdir()}
    assert {"teacher-test", "teacher-control", "gemma3-270m-before-test", "student-test", "student-control"} <= names
    student = json.loads((demo.evaluation("student-test") / "summary.json").read_text())
    assert student["model"].endswith(str(adapter)) and student["n"] == 396
    assert (demo.report_dir / "report.html").exists() and (demo.arm_data("gemma3-270m-replay") / "dataset.jsonl").exists()
    assert len(demo.chunks.read_text().splitlines()) == 22  # the world's 11 documents, chunked for prompt distillation
    # Nothing names the machine it was recorded on: every path inside points into the project.
    for path in demo.root.rglob("*"):
        if path.suffix in (".json", ".jsonl", ".yaml", ".md"):
            text = path.read_text().replace(str(demo.root), "PROJECT")
            assert "/tmp/" not in text and "/root/" not in text, path


def test_the_demo_project_is_not_made_again_over_a_users_decisions(demo):
    with Pool(demo.root, create=False) as pool:
        first = pool.ids()[0]
        pool.reject(first, who="ana")
    assert make_demo_project(demo.root.parent) == demo.root
    assert first_start(demo.root.parent) == "demo"
    with Pool(demo.root, create=False) as pool:
        assert pool.get(first).state == "rejected"


def test_a_root_holding_other_projects_gets_no_demo_project(tmp_path):
    (tmp_path / "team-project").mkdir()
    assert first_start(tmp_path) is None
    assert not (tmp_path / "demo").exists()


def test_someones_own_folder_named_demo_is_never_replaced(tmp_path):
    mine = tmp_path / "demo" / "notes.txt"
    mine.parent.mkdir()
    mine.write_text("my own work")
    assert first_start(tmp_path) is None
    with pytest.raises(KDError, match="not the demo project"):
        make_demo_project(tmp_path)
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["notes.txt"] and mine.read_text() == "my own work"


def test_a_failed_build_leaves_no_half_made_project(tmp_path, monkeypatch):
    def broken(project, adapter):
        raise KDError("disk full")

    monkeypatch.setattr(demo_project, "_evaluations", broken)
    with pytest.raises(KDError, match="disk full"):
        make_demo_project(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == []  # neither the project nor its folder built aside


def test_the_demo_pool_reads_back_through_a_filter_like_curate_asks(demo):
    with Pool(demo.root, create=False) as pool:
        assert pool.count(PoolFilter(rounds=(4,))) > 0
    assert (demo.root / MARKER).exists()
