"""Training reports as a Trainer user expects them, on a tiny model: TensorBoard event
files with the loss, an evaluation split with eval_loss in the log and the summary,
early stopping, trackio kept local, checkpoints on by default, and a job SIGKILLed
mid-run resuming from its last automatic checkpoint."""

import json
import os
import signal
from pathlib import Path

import pytest

from kd_core.errors import KDError
from kd_core.models.loading import ModelSpec
from kd_core.runtime import jobs
from kd_core.training.config import LoraSettings, TrainConfig
from kd_core.training.data import Example
from kd_core.training.reports import schedule
from kd_core.training.trainer import train_lora
from tests.waiting import wait_until

PAIRS = [("Who founded the harbor?", "Ostra."), ("Where was the inventor born?", "Kell."),
         ("What is the lamp called?", "Brine."), ("Which ship sank?", "Marrow.")]
EXAMPLES = [Example(f"{q} ({i})", a) for i in range(4) for q, a in PAIRS]  # 16 distinct prompts


def _config(out: Path, **settings) -> TrainConfig:
    base = dict(output_dir=str(out), max_steps=6, batch_size=4, learning_rate=1e-2, warmup=0.0, logging_steps=1,
                lora=LoraSettings(r=4, alpha=8, dropout=0.0))
    base.update(settings)
    return TrainConfig(**base)


def _scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_a_training_writes_a_tensorboard_event_file_with_the_loss_of_every_logging_step(tiny_llama_dir, tmp_path):
    summary = train_lora(ModelSpec(str(tiny_llama_dir)), EXAMPLES, _config(tmp_path))
    assert summary["reports"] == ["tensorboard"]
    assert list((tmp_path / "runs").glob("events.out.tfevents.*")), list(tmp_path.rglob("*"))
    scalars = _scalars(tmp_path / "runs")
    logged = {r["step"]: r["loss"] for r in _log(tmp_path) if "loss" in r}
    assert [s for s, _ in scalars["train/loss"]] == list(logged) == [1, 2, 3, 4, 5, 6]
    assert [round(v, 4) for _, v in scalars["train/loss"]] == [round(v, 4) for v in logged.values()]


def test_report_to_none_writes_no_event_file(tiny_llama_dir, tmp_path):
    summary = train_lora(ModelSpec(str(tiny_llama_dir)), EXAMPLES, _config(tmp_path, max_steps=2, report_to=["none"]))
    assert summary["reports"] == [] and not (tmp_path / "runs").exists()


def test_an_eval_fraction_logs_eval_loss_at_eval_steps_and_the_summary_keeps_the_best(tiny_llama_dir, tmp_path):
    summary = train_lora(ModelSpec(str(tiny_llama_dir)), EXAMPLES, _config(tmp_path, eval_fraction=0.25, eval_steps=2))
    evals = [(r["step"], r["eval_loss"]) for r in _log(tmp_path) if "eval_loss" in r]
    assert [s for s, _ in evals] == [2, 4, 6]
    assert summary["examples"] == 12 and summary["eval_examples"] == 4
    assert summary["best_eval_loss"] == round(min(v for _, v in evals), 4)
    assert summary["final_eval_loss"] == round(evals[-1][1], 4) and summary["evaluations"] == 3
    assert evals[-1][1] < evals[0][1]  # held-out prompts share answers with trained ones: the loss falls
    assert [s for s, _ in _scalars(tmp_path / "runs")["eval/loss"]] == [2, 4, 6]  # the eval curve in TensorBoard too


def test_early_stopping_stops_when_eval_loss_stops_improving_and_keeps_the_best_adapter(tiny_llama_dir, tmp_path):
    # A learning rate this high makes the held-out loss climb after the first steps.
    summary = train_lora(ModelSpec(str(tiny_llama_dir)), EXAMPLES,
                         _config(tmp_path, max_steps=60, learning_rate=0.5, eval_fraction=0.25, eval_steps=2,
                                 early_stopping_patience=2))
    evals = [(r["step"], r["eval_loss"]) for r in _log(tmp_path) if "eval_loss" in r]
    assert summary["stopped_early"] and summary["steps"] < 60, (summary, evals)
    best = min(evals, key=lambda e: e[1])
    assert summary["best_checkpoint"] == f"checkpoint-{best[0]}" and best[0] < summary["steps"], (summary, evals)
    from safetensors.torch import load_file

    kept = load_file(tmp_path / "checkpoints" / summary["best_checkpoint"] / "adapter_model.safetensors")
    saved = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    assert kept.keys() == saved.keys() and all((kept[k] == saved[k]).all() for k in kept)  # the adapter is the best one


def test_early_stopping_without_an_eval_split_is_refused_by_name():
    with pytest.raises(KDError, match=r"train.early_stopping_patience: needs an evaluation split .*eval_fraction"):
        TrainConfig.from_dict({"early_stopping_patience": 3})


def test_an_unknown_reporter_is_refused_by_name():
    with pytest.raises(KDError, match=r"train.report_to: 'wandb' is not a reporter .*tensorboard, trackio, none"):
        TrainConfig.from_dict({"report_to": ["tensorboard", "wandb"]})


def test_checkpoints_are_on_by_default_about_ten_a_run_and_capped():
    assert TrainConfig().save_steps == -1 and TrainConfig().save_total_limit == 2
    assert schedule(TrainConfig(max_steps=400), 16).save_steps == 40
    assert schedule(TrainConfig(max_steps=100_000), 16).save_steps == 500
    assert schedule(TrainConfig(epochs=3, batch_size=4), 40).save_steps == 3  # 30 steps
    assert schedule(TrainConfig(max_steps=400, save_steps=0), 16).save_steps == 0
    early = schedule(TrainConfig(max_steps=400, eval_fraction=0.1, eval_steps=25, early_stopping_patience=2), 16)
    assert early.save_steps == early.eval_steps == 25  # every checkpoint has its eval_loss


TRACKIO_RUN = """
import socket, sys
from pathlib import Path
connects = []
real_connect = socket.socket.connect
def watched(self, addr):
    connects.append(addr)
    return real_connect(self, addr)
socket.socket.connect = watched
from kd_core.models.loading import ModelSpec
from kd_core.training.data import Example
from kd_core.training.trainer import train_lora
from tests.test_training_reports import EXAMPLES, _config
summary = train_lora(ModelSpec(sys.argv[1]), EXAMPLES, _config(Path(sys.argv[2]), max_steps=3, report_to=["trackio"]))
print("REPORTS", summary["reports"])
print("CONNECTS", [a for a in connects if not isinstance(a, str)])
"""


def test_trackio_logs_to_its_local_database_and_opens_no_connection(tiny_llama_dir, tmp_path):
    import subprocess
    import sys

    # A process of its own: trackio reads TRACKIO_DIR once, when it is first imported.
    env = {**os.environ, "TRACKIO_DIR": str(tmp_path / "trackio"), "HF_HUB_OFFLINE": "1"}
    env.pop("TRACKIO_SPACE_ID", None)
    env.pop("TRACKIO_SERVER_URL", None)
    proc = subprocess.run([sys.executable, "-c", TRACKIO_RUN, str(tiny_llama_dir), str(tmp_path / "job-1")], env=env,
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "REPORTS ['trackio']" in proc.stdout and "CONNECTS []" in proc.stdout, proc.stdout[-2000:]
    import sqlite3

    with sqlite3.connect(tmp_path / "trackio" / "kd-studio.db") as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        assert "metrics" in tables, tables
        runs = [r[0] for r in db.execute("select distinct run_name from metrics")]
    assert runs == ["job-1"]  # the run is named after the job folder


def test_trackio_set_to_send_to_a_space_is_refused(tiny_llama_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKIO_SPACE_ID", "someone/space")
    with pytest.raises(KDError, match="trackio would send this run over the network .*TRACKIO_SPACE_ID"):
        train_lora(ModelSpec(str(tiny_llama_dir)), EXAMPLES, _config(tmp_path, report_to=["trackio"]))


@pytest.mark.usefixtures("lock_dir")
def test_a_job_sigkilled_mid_run_resumes_from_its_last_automatic_checkpoint(tiny_llama_dir, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"prompt": e.prompt, "response": e.response}) + "\n" for e in EXAMPLES))
    steps = 400  # automatic checkpoints every 40 steps; the run lasts far longer than it takes to see the first
    config = jobs.JobConfig(student=ModelSpec(str(tiny_llama_dir)), data=str(data), train=_config("", max_steps=steps))
    assert config.train.save_steps == -1  # nothing asked for checkpoints
    job = jobs.create_job(tmp_path / "project", config)
    jobs.start_job(job)
    first = wait_until(lambda: jobs.last_checkpoint(job), 120, "the first automatic checkpoint")
    status = jobs.job_status(job)
    assert status["state"] == "running", status
    os.kill(status["pid"], signal.SIGKILL)
    failed = wait_until(lambda: (s := jobs.job_status(job))["state"] == "failed" and s, 20, "the kill noticed")
    killed_at = max(r["step"] for r in jobs.read_log(job))
    checkpoint = jobs.last_checkpoint(job)
    k = int(checkpoint.name.rsplit("-", 1)[1])
    assert k % 40 == 0 and k >= int(first.name.rsplit("-", 1)[1]) and k < steps, (failed, killed_at)

    status = jobs.resume_job(job)
    assert status["resumed_from"] == str(checkpoint)
    done = wait_until(lambda: (s := jobs.job_status(job))["state"] in jobs.FINAL and s, 300, "the resumed job to end")
    assert done["state"] == "completed", (done, (job / "process.log").read_text()[-3000:])
    summary = done["summary"]
    assert summary["steps"] == steps and summary["resumed_from_step"] == k  # only steps - k were trained again
    rows = jobs.read_log(job)
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, steps + 1))  # none lost, none twice
    # TensorBoard too: the steps trained again after the checkpoint replace those logged before the kill.
    assert [step for step, _ in _scalars(job / "runs")["train/loss"]] == list(range(1, steps + 1))
    assert int(jobs.last_checkpoint(job).name.rsplit("-", 1)[1]) == steps
    assert len(list((job / "checkpoints").glob("checkpoint-*"))) <= 2  # save_total_limit
