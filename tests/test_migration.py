"""A project folder written by KD Studio before the core became packages still opens.

tests/fixtures/project-v0 was written by the code at cca447f (the last commit before the
move), with tests/fixtures/make_project_v0.py: a pool from a two-round expansion on tiny
models curated by two people, the expansion run's status, and the recorded demo run's
jobs, evaluations, data card and report.  Each test works on a copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kd_core.project import Project
from kd_core.project.summary import open_project

FIXTURE = Path(__file__).parent / "fixtures" / "project-v0"


@pytest.fixture
def old_project(tmp_path: Path) -> Path:
    dest = tmp_path / "project-v0"
    shutil.copytree(FIXTURE, dest)
    return dest


def test_an_old_project_folder_opens_and_counts_what_it_holds(old_project):
    summary = open_project(old_project, create=False)
    assert (summary["prompts"], summary["jobs"], summary["evaluations"]) == (19, 2, 4)


def test_an_old_pool_keeps_its_rounds_decisions_and_authors(old_project):
    from kd_core.tuneshift.expansion import round_history
    from kd_core.tuneshift.pool import Pool

    with Pool(old_project, create=False) as pool:
        counts = pool.counts().by_state
        assert (counts.get("accepted"), counts.get("rejected"), counts.get("edited")) == (4, 2, 1)
        assert len(round_history(pool)) == 2
        who = set(pool.decisions()["who"])
        assert who == {"ana", "ben"}
        # Curation goes on in the old pool: a decision lands and undo takes back only it.
        pending = pool.ids()[10]
        assert pool.accept(pending, "cleo")
        assert pool.undo("cleo") is not None
        assert pool.counts().by_state.get("accepted") == 4


def test_old_jobs_evaluations_and_runs_read_back(old_project):
    from kd_core.evaluation.qa import project_results
    from kd_core.runtime import jobs, runs

    listed = jobs.list_jobs(old_project)
    assert [j["state"] for j in listed] == ["completed", "completed"]
    assert all(jobs.read_log(Project.at(old_project).job(j["id"])) for j in listed)
    results = project_results(old_project)
    assert len(results) == 4
    assert runs.status(old_project, "expand")["state"] == "completed"



RECORDED = Path(__file__).resolve().parents[1] / "assets" / "demo" / "runs"


@pytest.mark.parametrize("run", ["tuneshift", "tuneshift-quiz", "tuneshift-quiz/replay"])
def test_each_recorded_demo_run_reads_back_its_jobs_evaluations_and_recipe(run, tmp_path):
    """The runs recorded under assets/demo/runs (written by the code before the move),
    opened as a project folder: every job, evaluation and the recipe read back."""
    from kd_core.evaluation.qa import project_results
    from kd_core.runtime import jobs
    from kd_core.tuneshift.recipe_config import load_recipe

    folder = tmp_path / "run"
    shutil.copytree(RECORDED / run, folder)
    listed = jobs.list_jobs(folder)
    assert listed and all(j["state"] == "completed" for j in listed)
    assert all(jobs.read_log(Project.at(folder).job(j["id"])) for j in listed)
    assert len(project_results(folder)) == len(list((folder / "eval").glob("*/summary.json"))) > 0
    recipe = load_recipe(folder / "recipe-as-run.yaml")
    assert recipe.arms


@pytest.mark.browser
def test_an_old_project_opens_in_curate_train_and_evaluate(served_app, browser, old_project):
    """The project bar opens the folder written before the move, and the three tabs that
    read it show what it holds: the curated pool, the recorded jobs, the evaluations."""
    from playwright.sync_api import expect

    from tests.pages import project_page

    with project_page(browser, served_app, old_project) as page:  # the session's shared server
        expect(page.locator("#project-message")).to_contain_text("19 prompts in the pool")
        page.get_by_role("tab", name="Curate").click()
        expect(page.locator("#curate-counts")).to_contain_text("19 prompts", timeout=30_000)
        expect(page.locator("#curate-counts")).to_contain_text("accepted 4")
        page.get_by_role("tab", name="Train").click()
        expect(page.locator("#train-jobs")).to_contain_text("gemma3-270m-b1498280", timeout=30_000)
        expect(page.locator("#train-jobs")).to_contain_text("smollm2-135m-382e0b55")
        page.get_by_role("tab", name="Evaluate").click()
        expect(page.locator("#eval-table")).to_contain_text("teacher-test", timeout=30_000)
        expect(page.locator("#eval-table")).to_contain_text("gemma3-270m-control")
