"""Training jobs as real background processes on a tiny model: complete, stop-and-save,
cancel, resume, a dead process noticed, the device queue; and the CLI over them."""

import fcntl
import json
import os
import signal
import time
from pathlib import Path

import pytest
import yaml

from kd_core.errors import InputFileError, KDError
from kd_core.models.generation import GenerationConfig, generate
from kd_core.models.loading import ModelSpec, load_model
from kd_core.runtime import jobs
from kd_core.training.config import LoraSettings, TrainConfig
from tests.waiting import wait_until

pytestmark = pytest.mark.usefixtures("lock_dir")  # every job here uses a private device-lock folder

PAIRS = [("Who founded the harbor?", "Ostra."), ("Where was the inventor born?", "Kell."),
         ("What is the lamp called?", "Brine."), ("Which ship sank?", "Marrow.")]
LONG = 5000  # steps: far more than a test waits for, so the job is surely still running


@pytest.fixture
def data_file(tmp_path) -> Path:
    p = tmp_path / "data.jsonl"
    p.write_text("".join(json.dumps({"prompt": q, "response": a}) + "\n" for q, a in PAIRS))
    return p


def _config(model_dir, data, **train) -> jobs.JobConfig:
    settings = dict(max_steps=6, batch_size=4, learning_rate=1e-2, warmup=0.0, logging_steps=1, lora=LoraSettings(r=4, alpha=8, dropout=0.0))
    settings.update(train)
    return jobs.JobConfig(student=ModelSpec(str(model_dir)), data=str(data), train=TrainConfig(**settings))


def _wait_state(job_dir, states, timeout=45.0) -> dict:
    def reached():
        status = jobs.job_status(job_dir)
        return status if status["state"] in states else None

    return wait_until(reached, timeout, f"state in {states}")


def _wait_step(job_dir, step: int, timeout=45.0) -> dict:
    def seen():
        rows = jobs.read_log(job_dir)
        if jobs.job_status(job_dir)["state"] in jobs.FINAL:
            raise AssertionError(f"job ended early: {jobs.job_status(job_dir)}\n{(Path(job_dir) / 'process.log').read_text()}")
        return rows[-1] if rows and rows[-1].get("step", 0) >= step else None

    return wait_until(seen, timeout, f"log step {step}")


def _assert_generates(model_dir, adapter: Path):
    lm = load_model(ModelSpec(str(model_dir), adapter=str(adapter)))
    out = generate(lm, ["Who founded the harbor?"], GenerationConfig(max_new_tokens=4))
    assert isinstance(out[0], str)


def test_a_background_job_completes_and_its_adapter_loads(tiny_llama_dir, data_file, tmp_path):
    job = jobs.create_job(tmp_path / "project", _config(tiny_llama_dir, data_file))
    assert jobs.job_status(job)["state"] == "created"
    status = jobs.start_job(job)
    assert status["state"] == "queued"
    status = _wait_state(job, jobs.FINAL)
    assert status["state"] == "completed", (status, (job / "process.log").read_text())
    assert status["summary"]["steps"] == 6
    rows = jobs.read_log(job)
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert {"loss", "learning_rate", "epoch", "eta_s", "tokens_per_s"} <= set(rows[0])
    resolved = yaml.safe_load((job / "config.yaml").read_text())
    assert resolved["train"]["output_dir"] == str(job) and resolved["data"] == str(data_file)
    assert [j["id"] for j in jobs.list_jobs(tmp_path / "project")] == [job.name]
    _assert_generates(tiny_llama_dir, job / "adapter")


def test_stop_saves_the_adapter_and_the_process_exits_within_10_s(tiny_llama_dir, data_file, tmp_path):
    job = jobs.create_job(tmp_path / "p", _config(tiny_llama_dir, data_file, max_steps=LONG))
    jobs.start_job(job)
    _wait_step(job, 2)
    pid = jobs.job_status(job)["pid"]
    t0 = time.monotonic()
    jobs.stop_job(job)
    status = _wait_state(job, jobs.FINAL, timeout=10)
    wait_until(lambda: not jobs.pid_alive(pid), 10 - (time.monotonic() - t0), "the process to exit")
    assert time.monotonic() - t0 < 10
    assert status["state"] == "stopped", status
    step = status["summary"]["steps"]
    assert 2 <= step < LONG and status["summary"]["stopped_early"]
    assert jobs.last_checkpoint(job).name == f"checkpoint-{step}"  # resumable from the stop
    _assert_generates(tiny_llama_dir, job / "adapter")


def test_cancel_ends_the_process_and_records_cancelled(tiny_llama_dir, data_file, tmp_path):
    job = jobs.create_job(tmp_path / "p", _config(tiny_llama_dir, data_file, max_steps=LONG))
    jobs.start_job(job)
    _wait_step(job, 1)
    pid = jobs.job_status(job)["pid"]
    t0 = time.monotonic()
    status = jobs.cancel_job(job)
    assert time.monotonic() - t0 < 10
    assert not jobs.pid_alive(pid)
    assert status["state"] == "cancelled"
    with pytest.raises(KDError, match="already ended"):
        jobs.cancel_job(job)


def test_resume_continues_from_the_checkpoint(tiny_llama_dir, data_file, tmp_path):
    job = jobs.create_job(tmp_path / "p", _config(tiny_llama_dir, data_file, max_steps=60))
    jobs.start_job(job)
    _wait_step(job, 10)
    jobs.stop_job(job, wait_s=10)
    stopped = _wait_state(job, jobs.FINAL, timeout=10)
    assert stopped["state"] == "stopped", stopped
    k = stopped["summary"]["steps"]
    status = jobs.resume_job(job)
    assert status["resumed_from"].endswith(f"checkpoint-{k}")
    status = _wait_state(job, jobs.FINAL)
    assert status["state"] == "completed", (status, (job / "process.log").read_text())
    assert status["summary"]["steps"] == 60
    loss = {r["step"]: r["loss"] for r in jobs.read_log(job) if "loss" in r}
    assert list(loss) == list(range(1, 61)), list(loss)  # no step redone from scratch, none twice
    # The trained weights came back too: the loss goes on from where it stopped.
    assert abs(loss[k + 1] - loss[k]) < 0.5 * (loss[1] - loss[k]), (loss[1], loss[k], loss[k + 1])
    with pytest.raises(KDError, match="cannot be resumed"):
        jobs.resume_job(job)


def test_a_killed_job_is_reported_failed_with_its_log_tail(tiny_llama_dir, data_file, tmp_path):
    job = jobs.create_job(tmp_path / "p", _config(tiny_llama_dir, data_file, max_steps=LONG))
    jobs.start_job(job)
    _wait_step(job, 1)
    os.killpg(jobs.job_status(job)["pid"], signal.SIGKILL)  # as the OOM killer would
    status = _wait_state(job, ("failed",), timeout=10)
    assert "is gone without a final state" in status["error"] and "process.log" in status["error"]


def test_a_job_waits_queued_while_its_device_is_busy_and_a_stop_takes_it_out(tiny_llama_dir, data_file, tmp_path, lock_dir):
    lock_dir.mkdir(parents=True)
    with open(lock_dir / "cpu.lock", "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # another job holds the device
        job, other = (jobs.create_job(tmp_path / "p", _config(tiny_llama_dir, data_file, max_steps=2)) for _ in range(2))
        jobs.start_job(job)
        jobs.start_job(other)
        for j in (job, other):
            status = wait_until(lambda: jobs.job_status(j).get("waiting_for") and jobs.job_status(j), 40, "the job to queue")
            assert status["state"] == "queued" and status["waiting_for"] == "cpu"
        jobs.stop_job(other)
        left = _wait_state(other, jobs.FINAL, timeout=10)
        assert left["state"] == "cancelled" and "queue" in left["error"]
        assert jobs.job_status(job)["state"] == "queued"
    status = _wait_state(job, jobs.FINAL)  # the device is free: it runs
    assert status["state"] == "completed"


def test_job_config_errors_name_the_file_and_the_setting(tmp_path, tiny_llama_dir, data_file):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"student: {tiny_llama_dir}\ndata: {data_file}\ntrain:\n  los: kd\n")
    with pytest.raises(InputFileError, match=r"cfg\.yaml: train\.los: unknown setting \(did you mean 'loss'\?\)"):
        jobs.load_job_config(cfg)
    cfg.write_text("student: [unclosed\n")
    with pytest.raises(InputFileError, match=r"cfg\.yaml, line \d+: not valid YAML"):
        jobs.load_job_config(cfg)
    cfg.write_text(f"student: {{name: {tiny_llama_dir}, dtyp: float32}}\ndata: data.jsonl\n")
    with pytest.raises(InputFileError, match=r"student\.dtyp: unknown setting"):
        jobs.load_job_config(cfg)
    cfg.write_text(f"student: {tiny_llama_dir}\ndata: data.jsonl\nteacher: self\ntrain: {{loss: kd, kd_temperature: 1.5}}\n")
    loaded = jobs.load_job_config(cfg)  # data relative to the config's folder
    assert loaded.data == str(data_file) and loaded.teacher is None and loaded.train.kd_temperature == 1.5


# --- CLI ---------------------------------------------------------------------


def test_cli_trains_in_the_foreground_and_lists_and_shows_the_job(tiny_llama_dir, data_file, tmp_path, capsys):
    from kd_core.cli import main

    project = tmp_path / "proj"
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"student": str(tiny_llama_dir), "data": str(data_file),
                                   "train": {"max_steps": 3, "batch_size": 4, "logging_steps": 1, "lora": {"r": 4}}}))
    assert main(["train", str(cfg), "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert "step 3/3" in out and "loss" in out and "completed" in out
    (job,) = jobs.list_jobs(project)
    assert job["state"] == "completed"
    assert main(["jobs", "list", "--project", str(project)]) == 0
    assert job["id"] in capsys.readouterr().out
    assert main(["jobs", "show", job["id"], "--project", str(project)]) == 0
    shown = capsys.readouterr().out
    assert "completed" in shown and "adapter" in shown


def test_cli_reports_bad_input_in_one_line(tiny_llama_dir, tmp_path, capsys):
    from kd_core.cli import main

    bad_data = tmp_path / "bad.jsonl"
    bad_data.write_text('{"prompt": "Q?", "response": "A."}\n{"prompt": "Q?", "answer": "A."}\n')
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"student": str(tiny_llama_dir), "data": str(bad_data)}))
    assert main(["train", str(cfg), "--project", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl, line 2" in err and "'response'" in err and len(err.strip().splitlines()) == 1
    assert main(["train", str(tmp_path / "missing.yaml"), "--project", str(tmp_path / "p")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    assert main(["jobs", "stop", "nope", "--project", str(tmp_path / "p")]) == 2
    assert "no job 'nope'" in capsys.readouterr().err


def test_a_full_disk_during_a_checkpoint_fails_the_job_plainly_and_it_resumes_to_completion(tiny_llama_dir, data_file, tmp_path, lock_dir):
    import subprocess
    import sys

    job = jobs.create_job(tmp_path / "p", _config(tiny_llama_dir, data_file, max_steps=4, save_steps=2))
    # The job process under a file-size limit (EFBIG, as a full disk gives ENOSPC): its logs fit, no checkpoint file does.
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (12000, 12000)); "
            "from kd_core.runtime.jobs import main; sys.exit(main(['run', sys.argv[1]]))")
    proc = subprocess.run([sys.executable, "-c", code, str(job)], capture_output=True, text=True, timeout=300)
    status = jobs.job_status(job)
    assert proc.returncode != 0 and status["state"] == "failed", (status, proc.stderr[-2000:])
    assert status["error"].startswith(f"the disk is full (or a file-size limit was hit) while writing into {job}")
    assert (job / "checkpoints" / "checkpoint-2").exists() and jobs.last_checkpoint(job) is None  # half-written: not taken
    assert [r["step"] for r in jobs.read_log(job) if "loss" in r] == [1, 2]  # the log is whole up to the failure
    jobs.resume_job(job)  # with room again: from the first step, the torn checkpoint overwritten
    done = _wait_state(job, jobs.FINAL, timeout=120)
    assert done["state"] == "completed", done
    assert jobs.last_checkpoint(job).name == "checkpoint-4" and (job / "adapter" / "adapter_config.json").exists()


def test_a_recorded_recipe_job_keeps_its_id_under_the_settings_added_since():
    """Reporting, evaluation-split and checkpoint settings came after these jobs were
    trained; left at their defaults they leave the id alone, so a recipe run again on
    such a project finds its finished jobs instead of training them again."""
    import yaml

    from kd_core.models.loading import ModelSpec
    from kd_core.runtime.jobs import job_id_for
    from kd_core.training.config import TrainConfig

    recorded = Path(__file__).resolve().parent.parent / "assets" / "demo" / "runs" / "tuneshift-quiz" / "replay"
    for arm, job in (("gemma3-270m", "gemma3-270m-67254fd6"), ("gemma3-270m-replay", "gemma3-270m-replay-f07d6aea")):
        config = yaml.safe_load((recorded / "jobs" / job / "config.yaml").read_text())
        train = {k: v for k, v in config["train"].items() if k != "save_steps"}  # as a recipe leaves it: the default
        spec = ModelSpec.from_file_dict(config["student"])
        assert job_id_for(arm, recorded / "data" / arm / "dataset.jsonl", spec, TrainConfig.from_dict(train)) == job
        changed = TrainConfig.from_dict({**train, "eval_fraction": 0.1})
        assert job_id_for(arm, recorded / "data" / arm / "dataset.jsonl", spec, changed) != job  # this one trains other weights
