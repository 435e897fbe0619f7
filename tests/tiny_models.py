"""Tiny random models with a tokenizer trained in seconds: most tests run on these.

Two architectures so that code paths that differ between them are exercised:
- Llama-style with a ChatML chat template (like SmolLM2),
- GPT-2-style without a chat template (KD Studio's default template applies).
Both are saved as real safetensors directories and loaded through kd_core.models.loading.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_WORDS = (
    "the a of to and in is was by who what where when which how many name tell me about founded born city river "
    "harbor guild island festival ship captain inventor year built called known for capital people live near "
    "north south east west old new great small bridge tower market lamp glass salt wind stone song boat"
).split()


def corpus(extra: list[str] | None = None, n: int = 3000, seed: int = 0) -> list[str]:
    """Deterministic English-like sentences, plus any text the caller adds."""
    g = torch.Generator().manual_seed(seed)
    lines = []
    for _ in range(n):
        k = int(torch.randint(4, 14, (1,), generator=g))
        idx = torch.randint(0, len(_WORDS), (k,), generator=g).tolist()
        lines.append(" ".join(_WORDS[i] for i in idx).capitalize() + "?")
    return lines + list(extra or [])


def train_tokenizer(texts: list[str], vocab_size: int = 1024, chat_template: str | None = CHATML):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(texts, trainer)
    if chat_template is not None:
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|im_end|>")
        fast.chat_template = chat_template
    else:
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")
    return fast


def build_llama(out: Path, hidden: int = 64, layers: int = 2, vocab_texts: list[str] | None = None, seed: int = 0) -> Path:
    """A tiny Llama with a ChatML template, saved to `out`. hidden must be a multiple of 64 for 4-bit."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = train_tokenizer(corpus(vocab_texts))
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    model = LlamaForCausalLM(cfg)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def build_gpt2(out: Path, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """A tiny GPT-2 without a chat template, saved to `out`."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = train_tokenizer(corpus(), chat_template=None)
    torch.manual_seed(seed)
    cfg = GPT2Config(
        vocab_size=len(tok),
        n_embd=hidden,
        n_layer=layers,
        n_head=4,
        n_positions=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    model = GPT2LMHeadModel(cfg)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def write_fake_adapter(out: Path, base_dir: Path, r: int = 4) -> Path:
    """A real PEFT LoRA adapter for the model in base_dir (random, untrained)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir)
    targets = ["q_proj", "v_proj"] if model.config.model_type == "llama" else ["c_attn"]
    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets, init_lora_weights=False))
    peft_model.save_pretrained(out)
    meta = json.loads((out / "adapter_config.json").read_text())
    assert meta["peft_type"] == "LORA"
    return out


def random_lora(model, r: int = 4, seed: int = 3):
    """A LoRA on `model` whose B is not zero (a fresh one is a no-op), in eval mode: an
    adapter that really changes the model, for tests that must tell the two apart."""
    from kd_core.training.config import LoraSettings
    from kd_core.training.trainer import add_lora

    student = add_lora(model, LoraSettings(r=r, alpha=2 * r, dropout=0.0))
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in student.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    return student.eval()
