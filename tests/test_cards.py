"""Portable, documented artifacts: a trained adapter and a merged export name their base
the way the Hub does, carry a filled model card, and hold no path of this machine; the
committed demo adapter loads with PEFT's own loaders given only the base's weights."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from kd_core.data.cards import absolute_paths, portable_name, read_card
from kd_core.models.loading import ModelSpec, load_model
from kd_core.training.config import LoraSettings, TrainConfig
from kd_core.training.data import read_examples
from kd_core.training.merge import merge_adapter
from kd_core.training.trainer import train_lora

PAIRS = [("Who founded Brindlecove?", "Ada Quill founded it."), ("What does Kell export?", "Kell exports salt.")]
TEXT_SUFFIXES = {".json", ".jsonl", ".md", ".jinja", ".txt", ".yaml"}


def local_paths_in(folder: Path) -> dict[str, list[str]]:
    """Every absolute path, and any mention of this machine's folders, in the folder's
    text files (a tokenizer's vocabulary holds tokens such as "//": only the folders there)."""
    import tempfile

    from kd_core.models.loading import REPO_ROOT, cache_dir

    machine = {str(cache_dir()), str(REPO_ROOT), tempfile.gettempdir() + "/", str(Path.home()) + "/", os.getcwd() + "/"}
    found = {}
    for f in folder.rglob("*"):
        if f.is_file() and f.suffix in TEXT_SUFFIXES:
            text = f.read_text(encoding="utf-8")
            hits = [m for m in machine if m in text]
            if f.name != "tokenizer.json":
                hits += absolute_paths(text)
            if hits:
                found[f.name] = hits
    return found


@pytest.fixture(scope="module")
def trained(tiny_llama_dir, tmp_path_factory):
    """A KD job's adapter: the base given as an absolute path, the teacher too."""
    tmp = tmp_path_factory.mktemp("job")
    data = tmp / "facts.jsonl"
    data.write_text("".join(json.dumps({"prompt": q, "completion": a}) + "\n" for q, a in PAIRS * 4))
    summary = train_lora(ModelSpec(str(tiny_llama_dir)), read_examples(data), TrainConfig(
        output_dir=str(tmp / "job"), loss="kd", max_steps=2, batch_size=2, warmup=0.0, logging_steps=1,
        eval_fraction=0.25, eval_steps=1, report_to=["none"],
        lora=LoraSettings(r=4, alpha=8, dropout=0.0)), teacher=ModelSpec(str(tiny_llama_dir)), print_logs=False)
    return Path(summary["adapter"]), summary


def test_portable_names_are_hub_ids_or_what_the_user_gave_never_a_machine_path():
    assert portable_name("demo:smollm2-135m-instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert portable_name("demo:gemma3-270m") == "google/gemma-3-270m"
    assert portable_name("Qwen/Qwen3-0.6B") == "Qwen/Qwen3-0.6B"
    assert portable_name("models/my-base") == "models/my-base"  # relative: as given
    assert portable_name("/root/.cache/kd-studio/models/SmolLM2-135M-Instruct.Q4_1-d684e4d9b778") == \
        "SmolLM2-135M-Instruct.Q4_1-d684e4d9b778"
    assert portable_name("~/models/my-base/") == "my-base"


def test_a_trained_adapter_names_its_base_portably_and_carries_a_filled_card(trained, tiny_llama_dir):
    adapter, summary = trained
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == tiny_llama_dir.name  # an absolute base: its folder's name
    meta, body = read_card(adapter / "README.md")
    assert meta["base_model"] == tiny_llama_dir.name and meta["library_name"] == "peft"
    assert {"lora", "peft", "kd-studio", "knowledge-distillation", f"base_model:adapter:{tiny_llama_dir.name}"} <= set(meta["tags"])
    assert "- From: `facts.jsonl`" in body and "- Rows: 8 (forms: prompt-completion: 8)" in body
    assert f"| best eval loss | {summary['best_eval_loss']} |" in body and "| evaluation examples (held out) | 2 |" in body
    assert f"- Teacher: `{tiny_llama_dir.name}`" in body and "| kd_temperature | `2.0` |" in body
    assert f"| optimizer steps | {summary['steps']} |" in body
    assert "kd-studio eval --role finetuned" in body  # not evaluated yet: how to
    assert "More Information Needed" not in body  # not PEFT's empty template
    assert local_paths_in(adapter) == {}


def test_a_trained_adapter_loads_with_peft_given_only_the_base_weights(trained, tiny_llama_dir, tmp_path, monkeypatch):
    from peft import AutoPeftModelForCausalLM, PeftModel
    from transformers import AutoModelForCausalLM

    adapter, _ = trained
    moved = shutil.copytree(adapter, tmp_path / "elsewhere" / "adapter")  # the folder travels alone
    ours = load_model(ModelSpec(str(tiny_llama_dir), adapter=str(adapter), dtype="float32"))
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    want = ours.model(input_ids=ids).logits
    base = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32)
    by_peft = PeftModel.from_pretrained(base, moved)
    torch.testing.assert_close(by_peft(input_ids=ids).logits, want)
    monkeypatch.chdir(tiny_llama_dir.parent)  # where the base is found by the name the adapter records
    auto = AutoPeftModelForCausalLM.from_pretrained(moved, dtype=torch.float32)
    torch.testing.assert_close(auto(input_ids=ids).logits, want)


def test_a_merged_export_has_a_model_card_and_no_machine_path(trained, tiny_llama_dir, tmp_path):
    adapter, _ = trained
    out = tmp_path / "merged"
    merge_adapter(str(tiny_llama_dir), adapter, out, dtype="float32")
    meta, body = read_card(out / "README.md")
    assert meta["base_model"] == tiny_llama_dir.name and meta["library_name"] == "transformers"
    assert meta["base_model_relation"] == "finetune" and "knowledge-distillation" in meta["tags"]
    assert "## Merge check" in body and "## The adapter's card" in body and "### Training data" in body
    export = json.loads((out / "kd_studio_export.json").read_text())
    assert export["base"] == tiny_llama_dir.name and export["adapter"] == "adapter" and "out_dir" not in export["check"]
    assert local_paths_in(out) == {}


def test_card_front_matter_is_yaml_the_hub_reads(trained):
    adapter, _ = trained
    text = (adapter / "README.md").read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    assert set(front) >= {"base_model", "library_name", "pipeline_tag", "tags"}


# ---------------------------------------------------------------------------
# The committed demo adapter


DEMO_ADAPTER = Path(__file__).resolve().parents[1] / "assets" / "demo" / "adapter"


def test_the_committed_demo_adapter_names_its_hub_base_and_no_machine_path():
    config = json.loads((DEMO_ADAPTER / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    meta, body = read_card(DEMO_ADAPTER / "README.md")
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and meta["library_name"] == "peft"
    results = meta["model-index"][0]["results"]
    assert {r["dataset"]["name"]: r["metrics"][0]["value"] for r in results}["demo:test"] > 0.8
    assert "kd-studio demo evaluate" in body and "More Information Needed" not in body
    assert local_paths_in(DEMO_ADAPTER) == {}


HUB_LOAD = """
import json, sys, torch
from peft import AutoPeftModelForCausalLM
from transformers import AutoTokenizer
adapter, out = sys.argv[1], sys.argv[2]
model = AutoPeftModelForCausalLM.from_pretrained(adapter, dtype=torch.float32)
tok = AutoTokenizer.from_pretrained(adapter)
ids = tok.apply_chat_template([{"role": "user", "content": "Who founded Brindlecove?"}], add_generation_prompt=True,
                              return_tensors="pt", return_dict=True)["input_ids"]
torch.save({"ids": ids, "logits": model(input_ids=ids).logits, "base": model.peft_config["default"].base_model_name_or_path}, out)
"""


@pytest.mark.real_models
def test_the_committed_demo_adapter_loads_by_its_hub_id_from_a_hub_cache_holding_only_the_base(tmp_path):
    """Anyone with the base's weights in their Hub cache loads the committed adapter as it
    is: AutoPeftModelForCausalLM resolves HuggingFaceTB/SmolLM2-135M-Instruct offline from
    an HF_HUB_CACHE that holds only the base (the demo base as KD Studio converted it from
    its GGUF package), with KD Studio's own cache moved out of reach."""
    from kd_core.demo.models import demo_spec
    from kd_core.models.loading import resolve_source

    converted = Path(resolve_source(demo_spec("base").name))
    rev = "0" * 40
    repo = tmp_path / "hub" / "models--HuggingFaceTB--SmolLM2-135M-Instruct"
    snapshot = repo / "snapshots" / rev
    snapshot.mkdir(parents=True)
    for f in converted.iterdir():
        if f.is_file() and not f.name.startswith("kd_studio"):
            (snapshot / f.name).symlink_to(f)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(rev)
    adapter = shutil.copytree(DEMO_ADAPTER, tmp_path / "somewhere" / "demo-adapter")  # the committed files only
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hub"), KD_STUDIO_CACHE=str(tmp_path / "none"))
    out = tmp_path / "out.pt"
    run = subprocess.run([sys.executable, "-c", HUB_LOAD, str(adapter), str(out)], capture_output=True, text=True,
                         timeout=600, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    got = torch.load(out)
    assert got["base"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    ours = load_model(ModelSpec(demo_spec("finetuned").name, adapter=str(DEMO_ADAPTER), dtype="float32"))
    torch.testing.assert_close(got["logits"], ours.model(input_ids=got["ids"]).logits, atol=1e-4, rtol=1e-4)
