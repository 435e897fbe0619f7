"""Perplexity-gap scoring for TuneShift-KD (methods.md section 1, steps 2-4).

The fine-tuned model F answers each prompt; the answer y is scored under F and under
the base model B, teacher-forced on the chat-formatted prompt x:

    PPL_M(y|x) = exp(-(1/|y|) * sum_t log p_M(y_t | x, y_<t))

and prompts where F is confident and B is not are labelled "above" the threshold.

Which tokens are scored.  x is exactly the text generation used (`chat_text` with the
generation prompt, encoded by `encode_prompt`).  y is the assistant turn as the chat
template writes it after x: the answer's tokens followed by the template's end-of-turn
token (``<|im_end|>``, ``<eos>``, ...), because generation stops there, so F chose it
too.  Template text after that token (a trailing newline) is never generated and is
not scored.  The answer is tokenized in context (the template applied to the whole
conversation); when that tokenization does not start with x's own tokens, or the
template rewrites x once an answer follows it, the answer is tokenized on its own and
appended to x's tokens (`PairScore.in_context` is False then).

Exactness.  Pairs are batched by length with RIGHT padding: real tokens never attend
to padding and keep their positions, so a pair's score does not depend on its batch
(tests check 1e-4 relative in fp32).  The output layer runs only at the positions
that predict answer tokens, in chunks, and log-probabilities are taken in float32:
Gemma 3's 262k vocabulary would otherwise need ~1 GB of logits per 1,000 tokens.  The
prompt prefix every pair shares (a template's system block) runs once and is reused
from the KV cache.  Both shortcuts are checked once per model against its own forward
and switched off where they would not reproduce it.  On a 2-core CPU this scores ~2x
faster than the one-pair-at-a-time recipe (bench/bench_scoring.py).

The scored table (`score_prompts`, saved by `save_scores` as Parquet), one row per
prompt:

| column          | type        | meaning |
| --------------- | ----------- | ------- |
| prompt          | str         | the prompt |
| response        | str         | F's answer (greedy by default) |
| n_tokens        | int         | scored answer tokens, end-of-turn included |
| ll_ft, ll_base  | float       | mean token log-likelihood of the answer under F, B |
| ppl_ft, ppl_base| float       | exp(-ll) |
| gap_diff        | float       | ppl_base - ppl_ft (the paper's tau = 1.5 reads as this) |
| gap_logratio    | float       | log ppl_base - log ppl_ft = ll_ft - ll_base |
| gap_topk        | float       | mean of the k largest per-token log p_F - log p_B |
| gap_max         | float       | the largest per-token log p_F - log p_B |
| label           | str         | "above" or "below" the threshold of the configured metric |
| tokens          | list[str]   | the answer tokens as text |
| token_ids       | list[int]   | their ids (F and B share the tokenizer) |
| token_lp_ft     | list[float] | per-token log p_F |
| token_lp_base   | list[float] | per-token log p_B |
| in_context      | bool        | the answer was tokenized in context (see above) |

`df.attrs["kd_scoring"]` (kept in the Parquet file) records the metric, threshold, k,
the models and the generation settings.
"""

from __future__ import annotations

import copy
import math
import weakref
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch

from kd_core.data.prompt_files import PromptFile
from kd_core.errors import KDError
from kd_core.models import devices
from kd_core.models.generation import GenerationConfig, chat_text, encode_prompt, generate, length_batches
from kd_core.models.loading import LoadedModel, causal_lm_parts, max_positions
from kd_core.tuneshift.gaps import GapConfig, add_gaps

Progress = Callable[[int, int, str], None]

# float32 logits held at once by the chunked output layer (128 MB).
LOGIT_BUDGET = 1 << 25
# A shared prompt prefix shorter than this is not worth a cache copy per batch.
MIN_SHARED_PREFIX = 4


# ---------------------------------------------------------------------------
# Scoring pairs under one model


@dataclass
class PairScore:
    n_tokens: int
    mean_ll: float  # mean log-likelihood per answer token (NaN without tokens)
    token_ids: list[int]
    token_lp: list[float] | None = None
    tokens: list[str] | None = None
    in_context: bool = True

    @property
    def ppl(self) -> float:
        return math.exp(-self.mean_ll) if self.n_tokens else float("nan")


@dataclass(frozen=True)
class EncodedPair:
    prompt_ids: list[int]
    response_ids: list[int]
    in_context: bool


def end_of_turn_ids(lm: LoadedModel) -> set[int]:
    """Token ids that end an assistant turn: the tokenizer's EOS and the model's stop ids."""
    ids = {lm.tokenizer.eos_token_id}
    base = lm.model.get_base_model() if hasattr(lm.model, "get_base_model") else lm.model
    gen_eos = getattr(getattr(base, "generation_config", None), "eos_token_id", None)
    ids.update(gen_eos if isinstance(gen_eos, (list, tuple)) else [gen_eos])
    ids.discard(None)
    return ids


def encode_pair(
    tokenizer: Any,
    prompt: str,
    response: str,
    end_ids: set[int],
    system: str | None = None,
    include_end: bool = True,
) -> EncodedPair:
    """Prompt tokens (exactly what generation fed the model) and the answer tokens to score."""
    prompt_text = chat_text(tokenizer, prompt, system)
    prompt_ids = encode_prompt(tokenizer, prompt_text)
    full_text = chat_text(
        tokenizer, [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}], system,
        add_generation_prompt=False,
    )
    in_context = False
    if full_text.startswith(prompt_text):
        full_ids = encode_prompt(tokenizer, full_text)
        if full_ids[: len(prompt_ids)] == prompt_ids:
            resp, in_context = full_ids[len(prompt_ids):], True
        else:  # a token merges across the boundary: keep x's own tokens, tokenize the rest alone
            resp = encode_prompt(tokenizer, full_text[len(prompt_text):])
    else:  # the template rewrites earlier turns when an answer follows
        eos = tokenizer.eos_token_id
        resp = encode_prompt(tokenizer, response) + ([eos] if eos is not None else [])
    # Keep up to the template's end-of-turn token (the last one: the answer itself holds none).
    ends = [i for i, t in enumerate(resp) if t in end_ids]
    if ends:
        resp = resp[: ends[-1] + 1] if include_end else resp[: ends[-1]]
    return EncodedPair(prompt_ids, resp, in_context)


@torch.inference_mode()
def score_pairs(
    lm: LoadedModel,
    prompts: Sequence[str],
    responses: Sequence[str],
    batch_size: int = 16,
    keep_token_logprobs: bool = True,
    system: str | None = None,
    include_end: bool = True,
    progress: Callable[[int, int], None] | None = None,
    autocast: bool = True,
    share_prefix: bool = True,
) -> list[PairScore]:
    """Teacher-forced log-likelihood of each response given its chat-formatted prompt.

    `include_end=False` leaves the end-of-turn token out.  `autocast=False` computes in
    the weights' dtype even where `devices` would autocast (exact comparisons).
    `share_prefix`: the tokens every prompt starts with (a chat template's system
    block, often a third of a short pair) run through the model once and are reused
    from the KV cache by every batch.
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    tok = lm.tokenizer
    end_ids = end_of_turn_ids(lm)
    pairs = [encode_pair(tok, p, r, end_ids, system, include_end) for p, r in zip(prompts, responses)]
    lengths = [len(e.prompt_ids) + len(e.response_ids) for e in pairs]
    max_len = max_positions(lm.model)
    for i, n in enumerate(lengths):
        if max_len and n > max_len:
            raise KDError(f"prompt {i + 1} with its answer is {n} tokens, more than the model's {max_len}")
        if not pairs[i].prompt_ids:
            raise KDError(f"prompt {i + 1} formats to no tokens")

    dev = lm.device
    split = _split_head(lm.model)
    shared: list[int] = []
    if share_prefix and split is not None and split.prefix_ok and pairs:
        # Each row keeps at least its last prompt token: it predicts the first answer token.
        n = min(_common_prefix([e.prompt_ids for e in pairs]), min(len(e.prompt_ids) for e in pairs) - 1)
        shared = pairs[0].prompt_ids[:n] if n >= MIN_SHARED_PREFIX else []
    cache = None
    if shared:
        with devices.compute_context(dev, lm.dtype, enabled=autocast):
            cache = split.body(input_ids=torch.tensor([shared], device=dev), use_cache=True).past_key_values
    s = len(shared)

    lps: list[list[float]] = [[] for _ in pairs]
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    done = 0
    for batch in length_batches(lengths, batch_size):
        width = max(lengths[i] for i in batch) - s
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), s + width), dtype=torch.long)
        keep = torch.zeros((len(batch), width), dtype=torch.bool)
        targets = []
        for row, i in enumerate(batch):
            p, r = pairs[i].prompt_ids, pairs[i].response_ids
            ids[row, : len(p) + len(r) - s] = torch.tensor((p + r)[s:])
            mask[row, : len(p) + len(r)] = 1
            keep[row, len(p) - 1 - s : len(p) + len(r) - 1 - s] = True  # the position before each answer token predicts it
            targets.extend(r)
        if targets:
            with devices.compute_context(dev, lm.dtype, enabled=autocast):
                flat = target_logprobs(
                    lm.model, ids.to(dev), mask.to(dev), keep.to(dev), torch.tensor(targets, device=dev), prefix_cache=cache
                )
            flat = flat.cpu().tolist()
            at = 0
            for i in batch:
                n = len(pairs[i].response_ids)
                lps[i] = flat[at : at + n]
                at += n
        done += len(batch)
        if progress:
            progress(done, len(pairs))

    out = []
    for e, lp in zip(pairs, lps):
        n = len(lp)
        out.append(
            PairScore(
                n_tokens=n,
                mean_ll=float(np.mean(lp)) if n else float("nan"),
                token_ids=list(e.response_ids),
                token_lp=lp if keep_token_logprobs else None,
                tokens=token_texts(tok, e.prompt_ids[-1:], e.response_ids) if keep_token_logprobs else None,
                in_context=e.in_context,
            )
        )
    return out


def target_logprobs(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    keep: torch.Tensor,
    targets: torch.Tensor,
    prefix_cache: Any = None,
) -> torch.Tensor:
    """log p(target) at the `keep` positions (row-major order), float32.

    The decoder runs once; the output layer only at `keep` positions, a chunk at a time.
    With `prefix_cache` (the KV cache of one shared prefix), `input_ids` continue that
    prefix and `attention_mask` covers prefix and input.
    """
    split = _split_head(model)
    if split is not None:
        kw: dict[str, Any] = {"use_cache": False}
        if prefix_cache is not None:
            cache = copy.deepcopy(prefix_cache)  # the forward appends to it
            cache.batch_repeat_interleave(input_ids.shape[0])
            kw = {"use_cache": True, "past_key_values": cache}
        hidden = split.body(input_ids=input_ids, attention_mask=attention_mask, **kw).last_hidden_state[keep]
        chunk = max(1, LOGIT_BUDGET // split.vocab)
        out = torch.empty(len(targets), dtype=torch.float32, device=hidden.device)
        for s in range(0, len(targets), chunk):
            out[s : s + chunk] = _gather_logprobs(split.head(hidden[s : s + chunk]), targets[s : s + chunk])
        return out
    if prefix_cache is not None:
        raise ValueError("a shared-prefix cache needs a model whose output layer runs apart")
    # Models whose output layer we cannot run apart: their own forward, asked for the kept positions only.
    try:
        logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, logits_to_keep=keep).logits
    except TypeError:
        logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
    if logits.ndim == 3:
        logits = logits[keep]
    return _gather_logprobs(logits, targets)


def _gather_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = logits.float()
    return logits.gather(-1, targets[:, None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def _common_prefix(seqs: list[list[int]]) -> int:
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for s in seqs[1:]:
        k = 0
        while k < n and s[k] == first[k]:
            k += 1
        n = k
    return n


@dataclass(frozen=True)
class _Split:
    body: Any  # the decoder: input ids -> last hidden states (final norm applied)
    head: Callable[[torch.Tensor], torch.Tensor]  # hidden states -> logits, as the model's forward computes them
    vocab: int
    prefix_ok: bool  # continuing a cached prefix reproduces the uncached hidden states


_SPLIT_CACHE: "weakref.WeakKeyDictionary[Any, _Split | None]" = weakref.WeakKeyDictionary()


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    a, b = a.float(), b.float()
    return a.shape == b.shape and bool((a - b).abs().max() <= 1e-3 * (1 + b.abs().max()))


def _split_head(model: Any) -> _Split | None:
    """The decoder and output layer, when running them apart reproduces the model's logits.

    Checked once per model against its own forward on a few tokens, so wrappers that
    change the forward (prompt-tuning adapters, scaled or capped logits we do not
    know) fall back to it; and once for continuing a cached prefix in a batch.
    """
    if model in _SPLIT_CACHE:
        return _SPLIT_CACHE[model]
    result = None
    try:
        body, lm_head, cap = causal_lm_parts(model)
    except Exception:
        body = lm_head = None
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if body is not None and lm_head is not None and body is not base:
        cfg = base.config.get_text_config() if hasattr(base.config, "get_text_config") else base.config

        def head(h: torch.Tensor) -> torch.Tensor:
            logits = lm_head(h)
            if cap:  # Gemma 2/3: same formula as their forward
                logits = torch.tanh(logits / cap) * cap
            return logits

        vocab = int(getattr(lm_head, "out_features", None) or cfg.vocab_size)
        dev = next(model.parameters()).device
        probe = (torch.arange(1, 13, device=dev) % vocab)[None]
        try:
            with torch.inference_mode():
                ref = model(input_ids=probe, use_cache=False).logits[0]
                hidden = body(input_ids=probe, use_cache=False).last_hidden_state
                if _close(head(hidden[0]), ref):
                    cache = body(input_ids=probe[:, :5], use_cache=True).past_key_values
                    cache.batch_repeat_interleave(2)
                    rest = probe[:, 5:].expand(2, -1)
                    cont = body(input_ids=rest, attention_mask=torch.ones(2, 12, dtype=torch.long, device=dev),
                                past_key_values=cache, use_cache=True).last_hidden_state
                    result = _Split(body, head, vocab, prefix_ok=_close(cont[1], hidden[0, 5:]))
        except Exception:
            result = None
    _SPLIT_CACHE[model] = result
    return result


def token_texts(tokenizer: Any, context: list[int], ids: list[int]) -> list[str]:
    """Each token as the text it adds, decoded next to its predecessor.

    Decoding a token alone loses SentencePiece's leading space; decoding (previous,
    token) and removing the previous token's text keeps it.
    """
    if not ids:
        return []
    prev = (context[-1:] or [None]) + ids[:-1]
    pairs = tokenizer.batch_decode([[p, t] if p is not None else [t] for p, t in zip(prev, ids)])
    firsts = tokenizer.batch_decode([[p] if p is not None else [] for p in prev])
    out = []
    for pair, first, t in zip(pairs, firsts, ids):
        out.append(pair[len(first):] if pair.startswith(first) else tokenizer.decode([t]))
    return out


def generate_responses(
    lm: LoadedModel,
    prompts: Sequence[str],
    config: GenerationConfig | None = None,
    system: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """F's answers: `kd_core.models.generation.generate` (greedy unless the config samples)."""
    return generate(lm, list(prompts), config or GenerationConfig(), system=system, progress=progress)


# ---------------------------------------------------------------------------
# The whole step: answer, score under both, gaps, labels


@dataclass
class ScoreConfig:
    gap: GapConfig = field(default_factory=GapConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    batch_size: int = 16  # scoring batch (generation has its own in `generation`)
    system: str | None = None  # system message for both generation and scoring


def check_same_tokenizer(a: LoadedModel, b: LoadedModel) -> None:
    """Per-token comparisons need one tokenizer; base and fine-tuned share theirs."""
    ta, tb = a.tokenizer, b.tokenizer
    if ta is tb:
        return
    if len(ta) != len(tb) or ta.get_vocab() != tb.get_vocab():
        raise KDError(
            f"base ({a.spec.label()}) and fine-tuned ({b.spec.label()}) models use different tokenizers "
            f"({len(ta):,} vs {len(tb):,} tokens): the perplexity gap compares the same answer tokens under both, "
            "so the fine-tuned model must be its base plus an adapter, or a fine-tune of it"
        )


def score_prompts(
    base: LoadedModel,
    finetuned: LoadedModel,
    prompts: Sequence[str] | PromptFile,
    config: ScoreConfig | None = None,
    responses: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """F answers each prompt (unless `responses` are given); both models score the answers.

    `prompts` is a list of strings or a `PromptFile`.  `progress(done, total, stage)` is
    called with stage "generate", "score finetuned" and "score base".
    """
    config = config or ScoreConfig()
    prompts = list(prompts.prompts if isinstance(prompts, PromptFile) else prompts)
    check_same_tokenizer(base, finetuned)

    def stage(name: str) -> Callable[[int, int], None] | None:
        return (lambda done, total: progress(done, total, name)) if progress else None

    if responses is None:
        responses = generate_responses(finetuned, prompts, config.generation, config.system, stage("generate"))
    elif len(responses) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    responses = list(responses)
    kw = dict(batch_size=config.batch_size, system=config.system)
    ft = score_pairs(finetuned, prompts, responses, progress=stage("score finetuned"), **kw)
    bs = score_pairs(base, prompts, responses, progress=stage("score base"), **kw)
    for i, (f, b) in enumerate(zip(ft, bs)):
        if f.token_ids != b.token_ids:
            raise KDError(
                f"prompt {i + 1}: the answer tokenizes differently under the base and fine-tuned models "
                "(different chat templates?); the gap needs the same answer tokens under both"
            )

    df = pd.DataFrame(
        {
            "prompt": prompts,
            "response": responses,
            "n_tokens": [f.n_tokens for f in ft],
            "ll_ft": [f.mean_ll for f in ft],
            "ll_base": [b.mean_ll for b in bs],
            "ppl_ft": [f.ppl for f in ft],
            "ppl_base": [b.ppl for b in bs],
            "tokens": [f.tokens for f in ft],
            "token_ids": [f.token_ids for f in ft],
            "token_lp_ft": [f.token_lp for f in ft],
            "token_lp_base": [b.token_lp for b in bs],
            "in_context": [f.in_context for f in ft],
        }
    )
    df.attrs["kd_scoring"] = {
        "base": base.spec.label(),
        "finetuned": finetuned.spec.label(),
        "generation": asdict(config.generation),
        "system": config.system,
    }
    df = add_gaps(df, config.gap)
    first = ["prompt", "response", "n_tokens", "ll_ft", "ll_base", "ppl_ft", "ppl_base",
             "gap_diff", "gap_logratio", "gap_topk", "gap_max", "label"]
    return df[first + [c for c in df.columns if c not in first]]
