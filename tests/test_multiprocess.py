"""Data-parallel training in 2 CPU processes (torchrun, gloo) on the tiny model: the
processes end with identical LoRA weights (gradients were averaged), the loss curve is
the one process's curve, and only the first process writes into the job folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kd_core.models.loading import ModelSpec
from kd_core.runtime import jobs
from kd_core.training.config import LoraSettings, TrainConfig
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parent.parent
PAIRS = [("Who founded the harbor?", "Ostra."), ("Where was the inventor born?", "Kell."),
         ("What is the lamp called?", "Brine."), ("Which ship sank?", "Marrow."),
         ("Who built the tower?", "Sella, in the north."), ("What is the river called?", "Vane.")]
STEPS = 8

pytestmark = [pytest.mark.usefixtures("lock_dir"), pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available (needed by torchrun on CPU)",
)]


def _job(project: Path, model_dir: Path, data: Path, job_id: str, **train) -> Path:
    settings = dict(max_steps=STEPS, batch_size=4, learning_rate=1e-2, warmup=0.0, logging_steps=1,
                    lora=LoraSettings(r=4, alpha=8, dropout=0.0))
    settings.update(train)
    config = jobs.JobConfig(student=ModelSpec(str(model_dir)), data=str(data), train=TrainConfig(**settings))
    return jobs.create_job(project, config, job_id=job_id)


@pytest.fixture
def data_file(tmp_path) -> Path:
    p = tmp_path / "data.jsonl"
    p.write_text("".join(json.dumps({"prompt": q, "response": a}) + "\n" for q, a in PAIRS * 2))
    return p


def _losses(job_dir: Path) -> list[float]:
    return [r["loss"] for r in jobs.read_log(job_dir) if "loss" in r]


def test_two_gloo_processes_train_identical_weights_on_the_one_process_loss_curve(tiny_llama_dir, data_file, tmp_path):
    from safetensors.torch import load_file

    two = _job(tmp_path / "p", tiny_llama_dir, data_file, "two")
    out = tmp_path / "ranks"
    out.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(REPO / "tests" / "multiprocess_entry.py"), str(two), str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    run = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    # (a) gradients were averaged: both processes hold the very same trained LoRA.
    rank0, rank1 = load_file(str(out / "rank0.safetensors")), load_file(str(out / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys() and any("lora_B" in k for k in rank0)
    for k in rank0:
        assert torch.equal(rank0[k], rank1[k]), k
    assert max(float(v.abs().max()) for k, v in rank0.items() if "lora_B" in k) > 0  # B starts at 0: it trained
    saved = load_file(str(two / "adapter" / "adapter_model.safetensors"))
    assert len(saved) == len(rank0)

    # (c) one writer: every step logged once, the status is rank 0's, nothing else appeared.
    status = jobs.job_status(two)
    assert status["state"] == "completed" and status["processes"] == 2 and status["summary"]["processes"] == 2
    assert [r["step"] for r in jobs.read_log(two) if "loss" in r] == list(range(1, STEPS + 1))
    assert {p.name for p in two.iterdir()} <= {"config.yaml", "status.json", "log.jsonl", "adapter", "train_config.json", "checkpoints", "runs"}

    # (b) the loss falls, along the curve of one process on the same config and data.
    one = _job(tmp_path / "p", tiny_llama_dir, data_file, "one")
    assert jobs.run_job(one)["state"] == "completed"
    curve1, curve2 = _losses(one), _losses(two)
    print("1 process: ", [round(x, 4) for x in curve1])
    print("2 processes:", [round(x, 4) for x in curve2])
    assert curve2[-1] < curve2[0]
    assert len(curve1) == len(curve2) == STEPS
    assert torch.allclose(torch.tensor(curve2), torch.tensor(curve1), rtol=1e-4), (curve1, curve2)


def test_a_background_job_in_two_processes_completes_and_cancel_ends_them_all(tiny_llama_dir, data_file, tmp_path):
    done = _job(tmp_path / "p", tiny_llama_dir, data_file, "bg", max_steps=4)
    status = jobs.start_job(done, processes=2)
    assert status["processes"] == 2
    status = wait_until(lambda: (s := jobs.job_status(done))["state"] in jobs.FINAL and s, 120)
    assert status["state"] == "completed", (status, (done / "process.log").read_text()[-3000:])
    assert status["pid"] == json.loads((done / "process.json").read_text())["pid"]  # the launcher, not rank 0
    assert (done / "adapter" / "adapter_model.safetensors").exists()

    long = _job(tmp_path / "p", tiny_llama_dir, data_file, "long", max_steps=5000)
    jobs.start_job(long, processes=2)
    wait_until(lambda: len(jobs.read_log(long)) >= 2, 120)
    status = jobs.cancel_job(long)
    assert status["state"] == "cancelled" and not status.get("error")
    wait_until(lambda: not _processes_running(long), 10)


def _processes_running(job_dir: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(job_dir) in cmdline and "kd_core.runtime.jobs" in cmdline:
                try:
                    if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                        found.append(int(proc.name))
                except OSError:
                    continue
    return found
