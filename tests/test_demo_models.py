"""The real demo models: loaded offline from their PyPI packages, with the committed adapter."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kd_core.demo import world as demo
from kd_core.demo.models import demo_spec
from kd_core.evaluation.qa import evaluate_qa
from kd_core.models.generation import GenerationConfig
from kd_core.models.loading import ModelSpec, load_model

pytestmark = pytest.mark.real_models


def test_models_check_loads_base_finetuned_and_target():
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-m", "kd_core.cli", "models", "check"], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert text.count("LlamaForCausalLM") == 2 and "Gemma3ForCausalLM" in text
    assert "134,515,008" in text and "268,098,176" in text
    base_section = text.split("[finetuned]")[0]
    assert "Paris" in base_section  # SmolLM2 knows the capital of France, greedy


def test_demo_finetune_knows_facts_the_base_does_not():
    items = demo.qa_items("test")[:24]
    gen = GenerationConfig(max_new_tokens=40)
    ft = evaluate_qa(load_model(demo_spec("finetuned")), items, gen).summary["accuracy"]
    base = evaluate_qa(load_model(demo_spec("base")), items, gen).summary["accuracy"]
    assert ft >= 0.6 and base <= 0.1, (ft, base)


def test_4bit_demo_base_loads_and_answers():
    lm = load_model(ModelSpec(demo_spec("base").name, load_in_4bit=True))
    assert "4-bit" in lm.info()["dtype"]
    from kd_core.models.generation import generate

    assert "Paris" in generate(lm, ["What is the capital of France?"], GenerationConfig(max_new_tokens=16))[0]


def test_two_processes_converting_the_same_gguf_both_succeed(tmp_path):
    """A server and a job starting on one demo model at once: one converts, the other waits
    for it and loads the result (they used to race on the cache folder's rename)."""
    from kd_core.demo.models import demo_gguf

    gguf = demo_gguf("smollm2-135m-instruct")
    env = dict(os.environ, HF_HUB_OFFLINE="1", KD_STUDIO_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    code = f"from kd_core.models.loading import convert_gguf; print(convert_gguf({str(gguf)!r}))"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    folders = {o[0].strip().splitlines()[-1] for o in outs}
    assert len(folders) == 1 and (tmp_path / "cache" / "models").is_dir()
    (folder,) = folders
    leftovers = [p.name for p in Path(folder).parent.iterdir() if p.name.endswith((".tmp", ".old"))]
    assert (Path(folder) / "config.json").is_file() and leftovers == []  # no staged or aside folder left


def test_the_untrained_gemma_answers_a_demo_question_and_stops_at_its_answer():
    """Gemma 3 270M has no chat template: KD Studio's "Question: / Answer:" one is used, and
    generation ends where the model starts a new "Question:" turn instead of inventing pairs."""
    from kd_core.models.chat import Contestant, compare

    question = demo.qa_items("test")[0].question
    events = list(compare([Contestant("target", demo_spec("target"))], question, GenerationConfig(max_new_tokens=96)))
    answer = events[-1]["answers"][0]
    assert answer.strip() and "Question:" not in answer and "Answer:" not in answer, answer
