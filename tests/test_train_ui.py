"""The Train tab: form values (every training setting, generated from TrainConfig) to the
YAML the CLI reads, bad fields named, the project's datasets offered, the empty state's
next step, a real background job launched, listed, followed and stopped through the tab's
functions; and a user's path in a real browser against `kd-studio serve --project DIR`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from kd_core.errors import KDError
from kd_core.runtime import jobs
from kd_core.runtime.lifecycle import own_process, update_status
from kd_core.training.config import TrainConfig
from tests.pages import choose, fill
from tests.waiting import wait_until
from ui import train, train_form
from ui.tab import OTHER

pytestmark = pytest.mark.usefixtures("lock_dir")  # every job here uses a private device-lock folder

PAIRS = [("Who founded the harbor?", "Ostra."), ("Where was the inventor born?", "Kell."),
         ("What is the lamp called?", "Brine."), ("Which ship sank?", "Marrow.")]
LONG = 5000  # steps: far more than a test waits for, so the job is surely still running when looked at
BROWSER_LONG = 20_000  # the tiny model does ~50 steps/s here: still running however slowly the browser goes


@pytest.fixture
def data_file(tmp_path) -> Path:
    p = tmp_path / "pairs.jsonl"
    p.write_text("".join(json.dumps({"prompt": q, "response": a}) + "\n" for q, a in PAIRS))
    return p


def _end_live_jobs(project: Path) -> None:
    # Job processes outlive the test (they are meant to outlive the server): end any left.
    for s in jobs.list_jobs(project):
        if s["state"] in jobs.ACTIVE:
            jobs.cancel_job(s["dir"])


# --- the form ----------------------------------------------------------------------


def test_the_default_form_trains_the_demo_target_on_curates_export_with_the_config_defaults(tmp_path):
    mapping = train.config_mapping(train.TrainForm(project=str(tmp_path / "p")))
    assert mapping == {
        "student": "demo:gemma3-270m",
        "data": str(tmp_path / "p" / "export" / "dataset.jsonl"),
        "train": {},  # every setting at TrainConfig's default
    }
    # The form as the page first shows it (every widget at its default) says the same.
    shown = train.TrainForm.of(str(tmp_path / "p"), "demo:gemma3-270m", "", None, "", False, "",
                               *train_form.config_to_values(TrainConfig()).values())
    assert train.config_mapping(shown) == mapping
    assert train.check_form(shown).train == TrainConfig()
    assert train.cli_command(str(tmp_path / "p")) == (
        f"kd-studio train {tmp_path / 'p' / 'train.yaml'} --project {tmp_path / 'p'} --background"
    )


def test_the_shown_yaml_is_what_load_job_config_reads(tmp_path, tiny_llama_dir, data_file):
    settings = {**train_form.config_to_values(TrainConfig()), "loss": "mix", "lora.r": 8.0, "lora.alpha": 16.0,
                "epochs": 1.5, "max_steps": 200.0, "learning_rate": "2e-4", "batch_size": 2.0, "kd_temperature": 1.5,
                "report_to": ["tensorboard", "trackio"], "lora.target_modules": "q_proj, v_proj"}
    form = train.TrainForm.of(str(tmp_path / "p"), str(tiny_llama_dir), "demo:smollm2-135m-instruct", OTHER, str(data_file),
                              True, "first try", *settings.values())
    text, command, check = train.preview(form)
    assert check.startswith("Settings valid") and "--background" in command
    path = tmp_path / "saved.yaml"
    path.write_text(text)
    loaded = jobs.load_job_config(path)
    assert loaded.to_dict() == train.check_form(form).to_dict()
    assert loaded.name == "first try" and loaded.data == str(data_file)
    assert loaded.student.name == str(tiny_llama_dir) and loaded.student.load_in_4bit
    assert loaded.teacher.name == "demo:smollm2-135m-instruct" and not loaded.teacher.load_in_4bit
    t = loaded.train
    assert (t.loss, t.epochs, t.max_steps, t.learning_rate, t.batch_size, t.lora.r, t.lora.alpha) == ("mix", 1.5, 200, 2e-4, 2, 8, 16)
    assert (t.kd_temperature, t.report_to, t.lora.target_modules) == (1.5, ["tensorboard", "trackio"], ["q_proj", "v_proj"])
    assert "kd_temperature: 1.5" in text
    # -1 (what the form shows): train for epochs, and the YAML leaves it out.
    assert "max_steps" not in train.config_mapping(train.TrainForm(project="p", settings={"max_steps": -1.0}))["train"]


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("learning_rate", 0, "learning_rate (train.learning_rate): must be > 0"),
        ("batch_size", 0, "batch_size (train.batch_size): must be >= 1"),
        ("batch_size", "two", "batch_size (train.batch_size): 'two' is not a number"),
        ("lora.r", 0, "lora.r (train.lora.r): must be >= 1"),
        ("lora.r", 2.5, "lora.r (train.lora.r): expected a whole number"),
        ("lora.alpha", 0, "lora.alpha (train.lora.alpha): must be > 0"),
        ("loss", "ppo", "loss (train.loss): 'ppo' is not a loss"),
        ("epochs", 0, "epochs (train.epochs): must be > 0 (or set max_steps)"),
        ("epochs", None, "epochs (train.epochs): empty"),
        ("kd_temperature", 0, "kd_temperature (train.kd_temperature): must be > 0"),
        ("early_stopping_patience", 2, "early_stopping_patience (train.early_stopping_patience): needs an evaluation split"),
        ("warmup", None, "warmup (train.warmup): empty"),
        ("student", " ", "Student model (student): missing"),
        ("project", "", "Project folder: empty"),
    ],
)
def test_a_bad_value_is_refused_with_its_field_named(tmp_path, field, value, named):
    form = train.TrainForm(project=str(tmp_path / "p"))
    if field in train_form.keys():
        form.settings[field] = value
    else:
        setattr(form, field, value)
    with pytest.raises(KDError, match=re.escape(named)):
        train.check_form(form)
    shown = train.preview(form)[2]  # while typing: shown, not raised
    assert shown.startswith("⚠️") and named in shown
    with pytest.raises(KDError, match=re.escape(named)):
        train.launch(form)
    assert not (tmp_path / "p").exists()  # nothing written for a bad form


def test_a_missing_or_bad_data_file_is_named_and_starts_no_job(tmp_path, tiny_llama_dir):
    project = tmp_path / "p"
    with pytest.raises(KDError, match=re.escape(f"Training data: training data not found: {project / 'export' / 'dataset.jsonl'}")):
        train.launch(train.TrainForm(project=str(project), student=str(tiny_llama_dir)))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "Q?", "answer": "A."}\n')
    with pytest.raises(KDError, match=r"Training data: .*bad\.jsonl, line 1"):
        train.launch(train.TrainForm(project=str(project), student=str(tiny_llama_dir), data=str(bad)))
    assert train.job_rows(str(project)).empty


def test_the_data_picker_offers_the_projects_datasets_and_the_empty_project_says_what_to_do(tmp_path, data_file):
    project = tmp_path / "p"
    project.mkdir()
    assert train.job_view("", None)["info"] == train.NO_PROJECT
    assert train.dataset_items(str(project)) == []
    assert train.job_view(str(project), None)["info"] == train.NO_DATA
    assert "Curate" in train.NO_DATA and "\n" not in train.NO_DATA  # one line, naming where data comes from
    (project / "export").mkdir()
    (project / "export" / "dataset.jsonl").write_text(data_file.read_text())
    (project / "data" / "arm-a").mkdir(parents=True)
    (project / "data" / "arm-a" / "dataset.jsonl").write_text(data_file.read_text())
    assert train.dataset_items(str(project)) == [
        ("curated export · dataset.jsonl · 4 rows", str(project / "export" / "dataset.jsonl")),
        ("arm arm-a · dataset.jsonl · 4 rows", str(project / "data" / "arm-a" / "dataset.jsonl"))]
    assert train.job_view(str(project), None)["info"] == train.NO_JOB
    # The picked arm's data is what the YAML trains on.
    arm = train.dataset_items(str(project))[1][1]
    form = train.TrainForm.of(str(project), "demo:gemma3-270m", "", arm, "", False, "",
                              *train_form.config_to_values(TrainConfig()).values())
    assert train.config_mapping(form)["data"] == arm


def test_the_form_fills_from_the_shown_jobs_settings_else_the_saved_yaml(tmp_path, tiny_llama_dir, data_file):
    project = tmp_path / "p"
    with pytest.raises(KDError, match=r"no training settings saved in this project yet \(train.yaml\)"):
        train.saved_config(str(project), None)
    (project / "data" / "arm-a").mkdir(parents=True)
    arm = project / "data" / "arm-a" / "dataset.jsonl"
    arm.write_text(data_file.read_text())
    form = train.TrainForm(project=str(project), student=str(tiny_llama_dir), teacher="demo:smollm2-135m-instruct",
                           data=str(arm), load_in_4bit=True, name="tuned",
                           settings={"loss": "kd", "kd_temperature": 1.5, "lora.r": 4, "seed": 7, "report_to": ["tensorboard", "trackio"]})
    jobs.create_job(project, train.check_form(form), job_id="a-job")
    values = train.form_values(str(project), train.saved_config(str(project), "a-job"))
    assert values[:6] == [str(tiny_llama_dir), "demo:smollm2-135m-instruct", str(arm), "", True, "tuned"]  # the arm, picked
    refilled = train.TrainForm.of(str(project), *values)
    assert train.check_form(refilled).to_dict() == train.check_form(form).to_dict()
    assert train.config_mapping(refilled)["train"] == {"loss": "kd", "kd_temperature": 1.5, "seed": 7,
                                                       "report_to": ["tensorboard", "trackio"], "lora": {"r": 4}}
    # A file outside the project's datasets comes back under "other", typed.
    outside = train.TrainForm(project=str(project), student=str(tiny_llama_dir), data=str(data_file))
    jobs.create_job(project, train.check_form(outside), job_id="b-job")
    assert train.form_values(str(project), train.saved_config(str(project), "b-job"))[2:4] == [OTHER, str(data_file)]


# --- jobs, through the tab's functions ------------------------------------------------


def test_the_shown_job_is_the_selected_one_else_the_newest_live_else_the_newest(tmp_path, tiny_llama_dir, data_file):
    project = tmp_path / "p"
    assert train.pick_job(str(project), None) is None
    form = train.TrainForm(project=str(project), student=str(tiny_llama_dir), data=str(data_file))
    first, second = (jobs.create_job(project, train.check_form(form), job_id=i) for i in ("a-first", "b-second"))
    assert train.pick_job(str(project), None) == "b-second"
    assert train.pick_job(str(project), "a-first") == "a-first"
    assert train.pick_job(str(project), "gone") == "b-second"
    # The older job waits in the queue (its folder names a live process: this one): it is what a reload shows.
    update_status(first, state="queued", **own_process(os.getpid()), waiting_for="cpu")
    assert train.pick_job(str(project), None) == "a-first"
    assert list(train.job_rows(str(project))[["id", "state"]].itertuples(index=False, name=None)) == [
        ("b-second", "created"), ("a-first", "queued")]  # newest first
    assert "Waiting for cpu" in train.job_view(str(project), "a-first")["info"]
    assert train.job_view(str(project), "b-second")["state"] == "created"


def test_launch_runs_a_background_job_that_the_tab_follows_and_stops(tmp_path, tiny_llama_dir, data_file):
    project = tmp_path / "p"
    form = train.TrainForm(project=str(project), student=str(tiny_llama_dir), data=str(data_file), name="ui run",
                           settings={"max_steps": LONG, "batch_size": 1, "lora.r": 4, "lora.alpha": 8, "learning_rate": 1e-2})
    try:
        status = train.launch(form)
        job_id = status["id"]
        assert yaml.safe_load((project / "train.yaml").read_text())["train"]["max_steps"] == LONG
        assert train.pick_job(str(project), None) == job_id

        def logged():
            view = train.job_view(str(project), job_id)
            assert view["state"] not in jobs.FINAL, view["info"]
            return view if view["key"][1] >= 1 and view["state"] == "running" else None

        view = wait_until(logged, 90, "the first logged step")
        assert "state **running**" in view["info"] and "ui run" in view["info"]
        assert f"/{LONG}" in view["progress"] and "loss" in view["progress"]
        assert [t.name for t in view["plot"].data][0] == "training loss"
        row = train.job_rows(str(project)).iloc[0]
        assert row["id"] == job_id and row["state"] == "running" and row["step"].endswith(f"/{LONG}")

        assert "stop asked" in train.stop(str(project), job_id)
        final = wait_until(lambda: train.job_view(str(project), job_id)["state"] in jobs.FINAL
                      and train.job_view(str(project), job_id), 30, "the job to stop")
        assert final["state"] == "stopped", final["info"]
        assert (project / "jobs" / job_id / "adapter" / "adapter_config.json").exists()
        assert "Adapter:" in final["info"]
        with pytest.raises(KDError, match="is not running"):
            train.stop(str(project), job_id)
    finally:
        _end_live_jobs(project)


# --- in a real browser -------------------------------------------------------------------


@pytest.mark.browser
def test_a_browser_launched_job_shows_progress_and_a_reload_or_another_server_reattaches_and_stops_it(
        serve_app, browser, tmp_path, tiny_llama_dir, data_file):
    from playwright.sync_api import expect

    project = tmp_path / "project"
    url = serve_app("--project", str(project))
    page = browser.new_page()
    try:
        page.goto(url)
        page.get_by_role("tab", name="Train").click()
        info = page.locator("#train-job-info")
        expect(info).to_contain_text("No training data yet: curate and export in Curate", timeout=30_000)
        yaml_view = page.locator("#train-yaml")
        expect(yaml_view).to_contain_text("demo:gemma3-270m", timeout=30_000)
        expect(yaml_view).to_contain_text(str(project / "export" / "dataset.jsonl"))
        assert page.locator("#train-project").count() == 0 or not page.locator("#train-project").is_visible()

        # Curate's export appears; opening the project in the bar offers it in the data picker.
        export = project / "export" / "dataset.jsonl"
        export.parent.mkdir(parents=True, exist_ok=True)
        export.write_text(data_file.read_text())
        fill(page, "project-folder", str(project))
        page.locator("#project-open").click()
        offered = "curated export · dataset.jsonl · 4 rows"
        expect(page.locator("#train-data input")).to_have_value(offered, timeout=30_000)
        expect(info).to_contain_text("No job yet")

        # A file outside the project's datasets: "other (type a path)".
        choose(page, "train-data", OTHER)
        fill(page, "train-data-path", str(data_file))
        expect(yaml_view).to_contain_text(f"data: {data_file}")
        choose(page, "train-data", offered)
        expect(yaml_view).to_contain_text(f"data: {export}")

        fill(page, "train-student", str(tiny_llama_dir))
        fill(page, "train-setting-max-steps", str(BROWSER_LONG))
        fill(page, "train-setting-batch-size", "1")
        fill(page, "train-setting-lora-r", "4")
        fill(page, "train-setting-lora-alpha", "8")
        fill(page, "train-setting-kd-temperature", "1.5")  # the setting the PD experiments found decisive
        expect(yaml_view).to_contain_text(f"max_steps: {BROWSER_LONG}")
        expect(yaml_view).to_contain_text("batch_size: 1")
        expect(yaml_view).to_contain_text("kd_temperature: 1.5")
        # The rest of the settings, in the closed accordion, reach the YAML too.
        page.locator("#train-setting-advanced").get_by_text("All training settings").click()
        fill(page, "train-setting-seed", "7")
        expect(yaml_view).to_contain_text("seed: 7")
        expect(page.locator("#train-command")).to_contain_text(f"kd-studio train {project / 'train.yaml'} --project {project} --background")

        fill(page, "train-setting-learning-rate", "0")
        expect(page.locator("#train-check")).to_contain_text("learning_rate (train.learning_rate): must be > 0")
        fill(page, "train-setting-learning-rate", "0.01")
        expect(page.locator("#train-check")).to_contain_text("Settings valid")

        page.locator("#train-launch").click()
        expect(info).to_contain_text("state running", timeout=60_000)
        (job,) = jobs.list_jobs(project)
        expect(info).to_contain_text(job["id"])
        saved = yaml.safe_load((project / "train.yaml").read_text())
        assert saved["data"] == str(export) and saved["train"]["kd_temperature"] == 1.5 and saved["train"]["seed"] == 7
        progress = page.locator("#train-progress")

        def step() -> int:
            found = re.search(r"step (\d+)/" + str(BROWSER_LONG), progress.inner_text())
            return int(found.group(1)) if found else 0

        first = wait_until(step, 60, "a step count in the page")
        wait_until(lambda: step() > first, 30, "the step count to rise (the timer refreshes the page)")
        expect(page.locator("#train-loss-plot .js-plotly-plot .scatterlayer .trace").first).to_be_attached(timeout=30_000)
        expect(page.locator("#train-jobs")).to_contain_text("running")
        if os.environ.get("KD_STUDIO_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["KD_STUDIO_SCREENSHOTS"], "train.png"), full_page=True)

        # A reload (or a new session) re-attaches to the running job from its folder.
        page.reload()
        page.get_by_role("tab", name="Train").click()
        expect(info).to_contain_text(job["id"], timeout=30_000)
        expect(info).to_contain_text("state running")
        seen = wait_until(step, 30, "a step count after the reload")
        wait_until(lambda: step() > seen, 30, "the step count to rise after the reload")

        page.close()

        # Another server process (as after a restart) re-attaches too, and its Stop reaches
        # the job that the first server started.
        page = browser.new_page()
        page.goto(serve_app("--project", str(project)))
        page.get_by_role("tab", name="Train").click()
        info = page.locator("#train-job-info")
        expect(info).to_contain_text(job["id"], timeout=30_000)
        expect(info).to_contain_text("state running")
        # The form fills from the shown job's settings (this page started with the defaults).
        page.locator("#train-fill").click()
        expect(page.locator("#train-yaml")).to_contain_text("kd_temperature: 1.5")
        expect(page.locator("#train-data input")).to_have_value(offered)
        page.locator("#train-stop").click()
        try:
            expect(info).to_contain_text("state stopped", timeout=90_000)
        except AssertionError as e:
            log = Path(job["dir"]) / jobs.PROCESS_LOG
            raise AssertionError(f"{e}\njob status: {jobs.job_status(job['dir'])}\n"
                                 f"{log}:\n{log.read_text(errors='replace')[-3000:]}") from None
        assert (Path(job["dir"]) / "adapter" / "adapter_config.json").exists()
        expect(info).to_contain_text("Adapter:")
        expect(page.locator("#train-jobs")).to_contain_text("stopped")
    finally:
        page.close()
        _end_live_jobs(project)
