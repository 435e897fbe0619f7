"""Export: a LoRA merged into a full-precision copy of its base, saved and reloaded,
gives the adapter model's log-likelihoods; a broken merge is refused."""

import json

import pytest
import torch

from kd_core.errors import KDError
from kd_core.models.loading import ModelSpec, load_model
from kd_core.training.data import Example
from kd_core.training.merge import mean_logliks, merge_adapter

PAIRS = [Example("Who founded the harbor?", "Ostra, in the north."), Example("Which ship sank?", "Marrow.")]


def test_merged_fp32_model_matches_the_adapter_model_and_keeps_the_chat_template(tiny_llama_dir, tiny_llama_adapter, tmp_path):
    out = tmp_path / "merged"
    report = merge_adapter(str(tiny_llama_dir), tiny_llama_adapter, out, dtype="float32", pairs=PAIRS)
    assert report.max_abs_diff < 1e-4, report
    assert (out / "model.safetensors").exists() and not (out / "adapter_config.json").exists()
    merged = load_model(ModelSpec(str(out)))
    assert merged.tokenizer.chat_template and "<|im_start|>" in merged.tokenizer.chat_template
    adapter = load_model(ModelSpec(str(tiny_llama_dir), adapter=str(tiny_llama_adapter)))
    base = load_model(ModelSpec(str(tiny_llama_dir)))
    ll_adapter = mean_logliks(adapter.model, adapter.tokenizer, PAIRS)
    ll_merged = mean_logliks(merged.model, merged.tokenizer, PAIRS)
    ll_base = mean_logliks(base.model, base.tokenizer, PAIRS)
    assert max(abs(a - b) for a, b in zip(ll_adapter, ll_merged)) < 1e-4
    assert max(abs(a - b) for a, b in zip(ll_adapter, ll_base)) > 1e-2  # the adapter really changes the model
    saved = json.loads((out / "kd_studio_export.json").read_text())
    assert saved["check"]["max_abs_diff"] == report.max_abs_diff


def test_bf16_export_is_16_bit_on_disk_and_within_its_tolerance(tiny_llama_dir, tiny_llama_adapter, tmp_path):
    report = merge_adapter(str(tiny_llama_dir), tiny_llama_adapter, tmp_path / "m16", dtype="bfloat16", pairs=PAIRS)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "m16" / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}
    assert report.max_abs_diff <= report.tolerance
    print("bf16 merge: max |d mean loglik| =", report.max_abs_diff)


def test_a_merge_that_does_not_match_fails_and_writes_nothing(tiny_llama_dir, tiny_llama_adapter, tmp_path):
    with pytest.raises(KDError, match="does not match the adapter model"):
        merge_adapter(str(tiny_llama_dir), tiny_llama_adapter, tmp_path / "m", dtype="bfloat16", pairs=PAIRS, tolerance=0.0)
    assert not (tmp_path / "m").exists() and not list(tmp_path.glob(".m.*"))  # no staged folder left either
    with pytest.raises(KDError, match="never a merge target"):
        merge_adapter(str(tiny_llama_dir), tiny_llama_adapter, tmp_path / "m", dtype="int4")


def test_cli_exports_a_trained_job(tiny_llama_dir, tmp_path, capsys, monkeypatch):
    import yaml

    from kd_core.cli import main
    from kd_core.runtime import jobs

    monkeypatch.setenv("KD_STUDIO_LOCK_DIR", str(tmp_path / "locks"))
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"prompt": e.prompt, "response": e.response}) + "\n" for e in PAIRS))
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"student": str(tiny_llama_dir), "data": str(data),
                                   "train": {"max_steps": 3, "batch_size": 2, "learning_rate": 1e-2, "lora": {"r": 4}}}))
    assert main(["train", str(cfg), "--project", str(tmp_path / "p"), "--job-id", "j"]) == 0
    capsys.readouterr()
    assert main(["export", "--job", "j", "--project", str(tmp_path / "p"), "--merged", str(tmp_path / "out"), "--dtype", "float32"]) == 0
    printed = capsys.readouterr().out
    assert "merged model (float32" in printed and "2 pairs" in printed
    assert (tmp_path / "out" / "model.safetensors").exists()
    assert main(["export", "--job", "j", "--project", str(tmp_path / "p"), "--merged", str(tmp_path / "out")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert jobs.job_status(tmp_path / "p" / "jobs" / "j")["state"] == "completed"
