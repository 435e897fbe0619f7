"""Loading models for the three roles, and the clear errors bad input gets."""

import subprocess
import sys

import pytest
import torch

from kd_core.errors import ModelLoadError
from kd_core.models.generation import GenerationConfig, generate
from kd_core.models.loading import DEFAULT_CHAT_TEMPLATE, ModelSpec, load_model


def test_local_directory_loads_with_its_tokenizer_and_template(tiny_llama_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    info = lm.info()
    assert info["class"] == "LlamaForCausalLM"
    assert info["device"] == "cpu" and info["dtype"] == "float32"
    assert info["chat_template"] == "model's own"
    assert lm.parameter_count() == sum(p.numel() for p in lm.model.parameters()) > 0
    assert not lm.model.training


def test_model_without_chat_template_gets_the_default_and_says_so(tiny_gpt2_dir):
    lm = load_model(ModelSpec(str(tiny_gpt2_dir)))
    assert lm.tokenizer.chat_template == DEFAULT_CHAT_TEMPLATE
    assert lm.default_template and any("default" in n for n in lm.notes)
    text = lm.tokenizer.apply_chat_template([{"role": "user", "content": "Hi?"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|endoftext|>Question: Hi?\nAnswer:"
    # A random model never writes the next question into an answer we return.
    out = generate(lm, ["Hi?"], GenerationConfig(max_new_tokens=30))
    assert "\nQuestion:" not in out[0]


def test_base_plus_adapter_changes_the_output(tiny_llama_dir, tiny_llama_adapter):
    base = load_model(ModelSpec(str(tiny_llama_dir)))
    ft = load_model(ModelSpec(str(tiny_llama_dir), adapter=str(tiny_llama_adapter)))
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        a = base.model(input_ids=ids).logits
        b = ft.model(input_ids=ids).logits
    assert ft.has_adapter and ft.info()["class"] == "LlamaForCausalLM"
    assert not torch.allclose(a, b)


def test_dtype_option_is_applied(tiny_llama_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir), dtype="bfloat16"))
    assert next(lm.model.parameters()).dtype == torch.bfloat16


@pytest.mark.parametrize(
    "make_name, expected",
    [
        (lambda tmp, **_: str(tmp / "nope"), "does not exist"),
        (lambda tmp, **_: str(tmp), "not a model directory"),
        (lambda tmp, **_: _write(tmp / "x.gguf", b"PK\x03\x04zipfile"), "not a GGUF model file"),
        (lambda tmp, **_: _write(tmp / "notes.txt", b"hello"), "is a file, not a model"),
        (lambda tmp, **_: "nobody/no-such-model-kd", "not in the Hugging Face cache"),
    ],
    ids=["missing-path", "dir-not-model", "gguf-not-model", "plain-file", "hub-id-offline"],
)
def test_bad_model_names_get_one_clear_line(tmp_path, make_name, expected):
    with pytest.raises(ModelLoadError) as e:
        load_model(ModelSpec(make_name(tmp_path)))
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


def test_adapter_for_another_base_is_refused_by_name(other_llama_dir, tiny_llama_adapter):
    with pytest.raises(ModelLoadError) as e:
        load_model(ModelSpec(str(other_llama_dir), adapter=str(tiny_llama_adapter)))
    assert "does not fit this base model" in str(e.value) and "q_proj" in str(e.value)


def test_adapter_dir_that_is_not_an_adapter(tiny_llama_dir, tmp_path):
    with pytest.raises(ModelLoadError, match="not a PEFT adapter"):
        load_model(ModelSpec(str(tiny_llama_dir), adapter=str(tmp_path)))


def test_pickle_only_checkpoints_are_refused_unless_allowed(tiny_llama_dir, tmp_path):
    from safetensors.torch import load_file

    # A checkpoint as older tools wrote it: config + tokenizer + pytorch_model.bin (pickle).
    for f in tiny_llama_dir.iterdir():
        if not f.name.endswith(".safetensors"):
            (tmp_path / f.name).write_bytes(f.read_bytes())
    torch.save(load_file(tiny_llama_dir / "model.safetensors"), tmp_path / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="pickle"):
        load_model(ModelSpec(str(tmp_path)))
    allowed = load_model(ModelSpec(str(tmp_path), allow_pickle=True))
    assert allowed.parameter_count() == load_model(ModelSpec(str(tiny_llama_dir))).parameter_count()


def test_4bit_without_bitsandbytes_is_a_clear_error(tiny_llama_dir):
    # A machine where bitsandbytes cannot load: the import itself fails in a fresh process.
    code = (
        "import sys; sys.modules['bitsandbytes'] = None\n"
        "from kd_core.models.loading import ModelSpec, load_model\n"
        "from kd_core.errors import ModelLoadError\n"
        f"try:\n    load_model(ModelSpec({str(tiny_llama_dir)!r}, load_in_4bit=True))\n"
        "except ModelLoadError as e:\n    print('ERR', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "ERR 4-bit loading needs bitsandbytes, which cannot load here" in out.stdout, out.stderr[-2000:]


def _write(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)
