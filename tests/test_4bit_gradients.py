"""LoRA gradients through a 4-bit model must equal those through the same weights dequantized.

bitsandbytes on AVX-512-bf16 CPUs repacks 4-bit weights on a no-grad eval forward into
a layout with no backward (environment.md); kd_core.models.loading.guard_4bit_cpu prevents it.
"""


import pytest
import torch

from kd_core.models.loading import ModelSpec, guard_4bit_cpu, load_model

bnb = pytest.importorskip("bitsandbytes")

TOLERANCE = 1e-4  # relative L2 error per LoRA gradient tensor, fp32 compute


def _lora(model):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, init_lora_weights=False,
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    return get_peft_model(model, cfg)


def _grads(model, ids):
    model.train()
    model.zero_grad()
    model(input_ids=ids, labels=ids).loss.backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _dequantized_reference(q_peft, model_dir):
    """The same model in fp32 with every 4-bit weight replaced by its dequantized value."""
    from transformers import AutoModelForCausalLM

    ref = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    for name, module in q_peft.get_base_model().named_modules():
        if isinstance(module, bnb.nn.Linear4bit):
            w = bnb.functional.dequantize_4bit(module.weight.data, module.weight.quant_state).float()
            target = ref.get_submodule(name.removesuffix(".base_layer"))
            target.weight.data.copy_(w.reshape(target.weight.shape))
    ref = _lora(ref)
    lora_state = {n: p.detach().clone() for n, p in q_peft.named_parameters() if "lora_" in n}
    for n, p in ref.named_parameters():
        if "lora_" in n:
            p.data.copy_(lora_state[n])
    return ref


def _max_rel_error(a, b):
    return max(float((a[k] - b[k]).norm() / b[k].norm().clamp_min(1e-12)) for k in b)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from tests.tiny_models import build_llama

    return build_llama(tmp_path_factory.mktemp("tiny-llama-4bit"), hidden=128)


def test_4bit_lora_gradients_match_dequantized_after_eval_forward(model_dir):
    lm = load_model(ModelSpec(str(model_dir), load_in_4bit=True, dtype="float32"))
    n4 = sum(isinstance(m, bnb.nn.Linear4bit) for m in lm.model.modules())
    assert n4 == 14  # 7 projections x 2 layers
    q = _lora(lm.model)
    guard_4bit_cpu(q)
    ids = torch.randint(10, q.config.vocab_size, (2, 24), generator=torch.Generator().manual_seed(1))
    q.eval()
    with torch.no_grad():  # the forward that repacks weights when unguarded
        q(input_ids=ids)
    ref = _dequantized_reference(q, model_dir)
    got, want = _grads(q, ids), _grads(ref, ids)
    assert set(got) == set(want) and len(got) == 28
    err = _max_rel_error(got, want)
    assert err < TOLERANCE, f"4-bit LoRA gradients differ from dequantized reference: max relative error {err:.2e}"


def _cpu_has_avx512bf16() -> bool:
    try:
        return "avx512_bf16" in open("/proc/cpuinfo").read()
    except OSError:
        return False


@pytest.mark.skipif(not _cpu_has_avx512bf16(), reason="the repacking trap exists only on CPUs with AVX-512 bf16")
def test_without_the_guard_this_cpu_gives_wrong_gradients_or_fails(model_dir):
    """Proves the guard above is needed (and that the comparison can fail)."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    model = AutoModelForCausalLM.from_pretrained(
        model_dir, quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                          bnb_4bit_compute_dtype=torch.float32), device_map={"": "cpu"})
    q = _lora(model)
    ref = _dequantized_reference(q, model_dir)
    ids = torch.randint(10, q.config.vocab_size, (2, 24), generator=torch.Generator().manual_seed(1))
    q.eval()
    with torch.no_grad():
        q(input_ids=ids)
    try:
        got = _grads(q, ids)
    except RuntimeError:
        return  # the loud failure mode
    assert _max_rel_error(got, _grads(ref, ids)) > 10 * TOLERANCE
