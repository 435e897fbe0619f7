"""The real demo models: loaded offline from their PyPI packages, with the committed adapter."""

import os
import subprocess
import sys

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
