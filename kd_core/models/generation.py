"""Batched chat-formatted generation.

Prompts are formatted with the model's chat template (or the default one), batched by
length with left padding, and decoded to the answer text only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import torch

from kd_core.models import devices
from kd_core.models.loading import DEFAULT_TEMPLATE_STOP, LoadedModel

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass
class GenerationConfig:
    max_new_tokens: int = 128
    do_sample: bool = False  # greedy by default: answers are reproducible
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    batch_size: int = 16
    seed: int = 0


def chat_text(tokenizer: PreTrainedTokenizerBase, prompt: str | list[dict], system: str | None = None, add_generation_prompt: bool = True) -> str:
    """The exact text a model sees for a user prompt (or a list of chat messages)."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    if system is not None and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def trim_to_sentence(text: str) -> str:
    """An answer cut at the token limit, trimmed to its last full sentence: training on a
    cut answer followed by end-of-turn would teach a model to stop mid-sentence."""
    cut = max(text.rfind(". "), text.rfind(".\n"), text.rfind("!"), text.rfind("?"))
    if text.rstrip().endswith((".", "!", "?")) or cut < len(text) // 3:
        return text.strip()
    return text[: cut + 1].strip()


class _StopAtText:
    """Ends each sequence once its generated text holds `text` (the next "\nQuestion:" turn
    a model without a chat template writes after its answer), and every sequence once
    `should_stop()` says so (the browser session that asked has gone)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, prompt_len: int, text: str | None,
                 should_stop: Callable[[], bool] | None = None):
        self.tokenizer, self.prompt_len, self.text, self.should_stop = tokenizer, prompt_len, text, should_stop
        # checked every step, so the last few tokens past the text's own length always hold it when it appears
        self.tail = len(tokenizer(text, add_special_tokens=False)["input_ids"]) + 4 if text else 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor | None = None, **kwargs) -> torch.BoolTensor:
        n = input_ids.shape[0]
        if self.should_stop is not None and self.should_stop():
            return torch.ones(n, dtype=torch.bool, device=input_ids.device)
        done = torch.zeros(n, dtype=torch.bool, device=input_ids.device)
        if self.text:
            start = max(self.prompt_len, input_ids.shape[1] - self.tail)  # generated tokens only
            for row in range(n):
                done[row] = self.text in self.tokenizer.decode(input_ids[row, start:], skip_special_tokens=True)
        return done


def stopping_criteria(lm: LoadedModel, prompt_len: int, should_stop: Callable[[], bool] | None = None) -> list | None:
    """The StoppingCriteriaList for `lm.model.generate` (None when nothing needs it): stop at
    the default template's next "\nQuestion:" turn, and when `should_stop()` turns true."""
    from transformers import StoppingCriteriaList

    text = DEFAULT_TEMPLATE_STOP if lm.default_template else None
    if text is None and should_stop is None:
        return None
    return StoppingCriteriaList([_StopAtText(lm.tokenizer, prompt_len, text, should_stop)])


def encode_prompt(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    # The chat template already holds any BOS the model wants; adding special tokens again doubles it.
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (less padding, same results)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def generate(
    lm: LoadedModel,
    prompts: Sequence[str | list[dict]],
    config: GenerationConfig | None = None,
    system: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Answer every prompt; returns answer texts in the prompts' order."""
    return complete(lm, [chat_text(lm.tokenizer, p, system) for p in prompts], config, progress)


@torch.inference_mode()
def complete(
    lm: LoadedModel,
    texts: Sequence[str],
    config: GenerationConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Continue already formatted texts (a chat prefix, a prefilled assistant turn);
    returns the new text only, in the texts' order."""
    config = config or GenerationConfig()
    tok = lm.tokenizer
    ids = [encode_prompt(tok, t) for t in texts]
    out: list[str] = [""] * len(texts)
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    done = 0
    for batch in length_batches([len(x) for x in ids], config.batch_size):
        width = max(len(ids[i]) for i in batch)
        pad = tok.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids[i])) + ids[i] for i in batch], device=lm.device)
        mask = torch.tensor([[0] * (width - len(ids[i])) + [1] * len(ids[i]) for i in batch], device=lm.device)
        kwargs = dict(
            max_new_tokens=config.max_new_tokens,
            do_sample=config.do_sample,
            pad_token_id=pad,
            stopping_criteria=stopping_criteria(lm, width),
        )
        if config.do_sample:
            # generate() samples from the global RNG; reseeding per batch from our own
            # generator makes sampled prompts reproducible for a seed.
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
            kwargs.update(temperature=config.temperature, top_p=config.top_p, top_k=config.top_k or None)
        with devices.compute_context(lm.device, lm.dtype):
            seqs = lm.model.generate(input_ids=input_ids, attention_mask=mask, **kwargs)
        for row, i in enumerate(batch):
            text = tok.decode(seqs[row, width:], skip_special_tokens=True)
            if lm.default_template:
                text = text.split(DEFAULT_TEMPLATE_STOP)[0]
            out[i] = text.strip()
        done += len(batch)
        if progress:
            progress(done, len(texts))
    return out
