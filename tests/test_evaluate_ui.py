"""The Evaluate tab: an evaluation runs as `kd-studio eval --project` in its own process
and lands in the project's results table; a bad question file is named before anything
runs; and in a real browser: evaluate a model, see the table and the bar chart, and
download the results."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kd_core.errors import KDError
from kd_core.evaluation.qa import EVAL_RUN, evaluation_name, project_results, start_eval
from kd_core.runtime import runs
from tests.pages import choose, fill, project_page
from tests.waiting import wait_until
from ui import evaluate

pytestmark = pytest.mark.usefixtures("lock_dir")

QUESTIONS = [{"question": "Who founded Kell?", "answer": "Ostra Vane"},
             {"question": "What is the lamp of Kell called?", "answers": ["Brine", "the Brine"]}]


def _questions(tmp_path: Path) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return path


def _finish(project: Path) -> dict:
    wait_until(lambda: runs.status(project, EVAL_RUN)["state"] not in runs.ACTIVE, 120, "the evaluation to end")
    return runs.status(project, EVAL_RUN)


def test_an_evaluation_runs_in_its_own_process_into_the_results_table(tmp_path, tiny_llama_dir):
    project = tmp_path / "p"
    status = start_eval(project, str(tiny_llama_dir), None, str(_questions(tmp_path)), 4, name="tiny base")
    assert status["state"] == "running"
    done = _finish(project)
    assert done["state"] == "completed", (done, runs.log_tail(project, EVAL_RUN, 30))
    table = project_results(project)
    assert list(table["name"]) == ["tiny-base"] and list(table["n"]) == [2]
    assert table["accuracy"][0] == table["correct"][0] / 2
    summary = json.loads((project / "eval" / "tiny-base" / "summary.json").read_text())
    assert summary["questions"] == str(_questions(tmp_path))
    assert len((project / "eval" / "tiny-base" / "items.jsonl").read_text().splitlines()) == 2
    view = evaluate.read_view(str(project))
    assert "Evaluation: **completed**" in view["status"] and len(view["chart"].data) == 1
    csv = Path(evaluate.download(str(project)))
    assert csv.read_text().splitlines()[0] == "name,model,questions,accuracy,95% interval,correct,n,exact_match,f1,wall_s"


def test_a_bad_question_file_or_setting_is_named_and_nothing_runs(tmp_path, tiny_llama_dir):
    project = tmp_path / "p"
    broken = tmp_path / "q.jsonl"
    broken.write_text('{"question": "Who?", "answer": "Vane"}\n{"question": "Where?"\n')
    with pytest.raises(KDError, match=r"q.jsonl, line 2: not valid JSON"):
        start_eval(project, str(tiny_llama_dir), None, str(broken), 4)
    with pytest.raises(KDError, match="Model: empty"):
        start_eval(project, " ", None, "demo:test", 4)
    with pytest.raises(KDError, match="unknown"):
        start_eval(project, str(tiny_llama_dir), None, "demo:nosuchsplit", 4)
    assert runs.status(project, EVAL_RUN)["state"] == "none"
    assert not (project / "eval").exists()


def test_an_evaluation_name_never_leaves_the_eval_folder():
    assert evaluation_name("../../etc/passwd") == "etc-passwd"
    assert evaluation_name("demo:smollm2-135m-instruct + adapter") == "demo-smollm2-135m-instruct-adapter"
    assert evaluation_name("///") == "evaluation"


@pytest.mark.browser
def test_a_browser_user_evaluates_a_model_and_sees_the_table_and_the_chart(served_app, browser, tmp_path, tiny_llama_dir):
    from playwright.sync_api import expect

    project = tmp_path / "project"
    with project_page(browser, served_app, project) as page:  # the session's shared server
        page.get_by_role("tab", name="Evaluate").click()
        fill(page, "eval-model", str(tiny_llama_dir))
        choose(page, "eval-questions", "other (type a path)")
        fill(page, "eval-questions-path", str(_questions(tmp_path)))
        fill(page, "eval-tokens", "4")
        fill(page, "eval-name", "tiny")
        page.locator("#eval-run").click()
        expect(page.locator("#eval-message")).to_contain_text("Started", timeout=30_000)
        expect(page.locator("#eval-status progress")).to_be_attached(timeout=30_000)  # the run's bar while it works
        expect(page.locator("#eval-status")).to_contain_text("completed", timeout=120_000)
        expect(page.locator("#eval-status progress")).to_have_count(0)  # and none once it ended
        expect(page.locator("#eval-table")).to_contain_text("tiny")
        expect(page.locator("#eval-chart .js-plotly-plot .barlayer .trace").first).to_be_attached(timeout=30_000)
        page.locator("#eval-csv").click()
        expect(page.locator("#eval-csv-file")).to_contain_text(re.compile(r"results\s*\.csv"), timeout=30_000)
        csv = project / "eval" / "results.csv"
        assert csv.exists() and csv.read_text().splitlines()[1].startswith("tiny,")
