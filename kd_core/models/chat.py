"""Chat compare: one prompt, two or three models answering side by side.

For demoing a transfer: the teacher (the fine-tuned model, or a model with the document
in its prompt), the student (the target plus its trained adapter) and the untrained
target answer the same prompt; their answers stream together, and each answer is then
scored by the other models' perplexity (who would have said it too).  A person's thumbs
up or down sends the prompt to the project's pool, accepted or rejected, so a good
demo question becomes training data.

Models are loaded once per process and kept (`ModelCache`, at most `max_models`, the
least recently used is dropped): every browser session shares them, under one lock, so
two sessions never load two copies of a model.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator, Sequence

from kd_core.errors import KDError
from kd_core.evaluation.qa import CONTEXT_TEMPLATE
from kd_core.limits import Limits, current as current_limits
from kd_core.models.generation import GenerationConfig, chat_text, encode_prompt
from kd_core.models.loading import LoadedModel, ModelSpec, load_model


@dataclass(frozen=True)
class Contestant:
    """One side of the comparison: a model, and optionally a document it reads first
    (the prompt-distillation teacher: the same model with the document in its prompt)."""

    label: str
    spec: ModelSpec
    context: str | None = None

    def prompt_for(self, prompt: str) -> str:
        return CONTEXT_TEMPLATE.format(context=self.context, question=prompt) if self.context else prompt


def _key(spec: ModelSpec) -> tuple:
    return tuple(sorted(asdict(spec).items()))


class ModelCache:
    """Loaded models by spec, shared by every caller in the process."""

    def __init__(self, max_models: int = 3, check_memory: bool = False):
        self.max_models = max_models
        self.check_memory = check_memory  # True: load through preflight.load_checked (a server sets it)
        self._models: OrderedDict[tuple, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec: ModelSpec) -> LoadedModel:
        with self._lock:  # one loader at a time: no two copies of one model
            key = _key(spec)
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            while len(self._models) >= self.max_models:
                self._models.popitem(last=False)
            if self.check_memory:
                from kd_core.models.preflight import load_checked

                lm = load_checked(spec)
            else:
                lm = load_model(spec)
            self._models[key] = lm
            return lm

    def loaded(self) -> list[str]:
        with self._lock:
            return [lm.spec.label() for lm in self._models.values()]

    def clear(self) -> None:
        """Unload every model: the memory goes back (to the GPU's free pool too)."""
        import gc

        import torch

        with self._lock:
            self._models.clear()
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


MODELS = ModelCache()


def answer_tokens(lm: LoadedModel, prompt_tokens: int, asked: int, limits: Limits | None = None) -> int:
    """How many new tokens an answer may have: what was asked, at most `limits.max_new_tokens`,
    and no more than the model's context leaves after the prompt; a KDError when the prompt
    alone fills the context."""
    from kd_core.models.loading import max_positions

    limits = limits or current_limits()
    n = min(int(asked), limits.max_new_tokens)
    context = max_positions(lm.model)
    if context is not None:
        if prompt_tokens >= context:
            raise KDError(f"{lm.spec.label()}: the prompt is {prompt_tokens:,} tokens, the model's whole context "
                          f"({context:,}); shorten it")
        n = min(n, context - prompt_tokens)
    return max(1, n)


def stream_answers(models: Sequence[LoadedModel], prompts: Sequence[str], config: GenerationConfig | None = None,
                   system: str | None = None, should_stop: Callable[[], bool] | None = None,
                   limits: Limits | None = None) -> Iterator[list[str]]:
    """Every model answers its prompt (greedy by default) in a thread of its own; yields the
    answers so far, one list per change, the last one complete. Answers are capped by
    `answer_tokens`; every generation ends at its next step once `should_stop()` is true
    (the UI passes its session's end), and a model without a chat template stops at the
    next "\nQuestion:" it starts (cut from its answer)."""
    import torch
    from transformers import TextIteratorStreamer

    from kd_core.models import devices
    from kd_core.models.generation import stopping_criteria
    from kd_core.models.loading import DEFAULT_TEMPLATE_STOP

    config = config or GenerationConfig(max_new_tokens=96)
    texts = [""] * len(models)
    streamers, threads, errors = [], [], [None] * len(models)
    for i, (lm, prompt) in enumerate(zip(models, prompts)):
        ids = torch.tensor([encode_prompt(lm.tokenizer, chat_text(lm.tokenizer, prompt, system))], device=lm.device)
        streamer = TextIteratorStreamer(lm.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
        kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids),
                      max_new_tokens=answer_tokens(lm, ids.shape[1], config.max_new_tokens, limits),
                      do_sample=config.do_sample, pad_token_id=lm.tokenizer.pad_token_id, streamer=streamer,
                      stopping_criteria=stopping_criteria(lm, ids.shape[1], should_stop))
        if config.do_sample:
            kwargs.update(temperature=config.temperature, top_p=config.top_p, top_k=config.top_k or None)

        def run(lm=lm, kwargs=kwargs, i=i, streamer=streamer):
            try:
                with torch.inference_mode(), devices.compute_context(lm.device, lm.dtype):
                    lm.model.generate(**kwargs)
            except Exception as e:  # shown in place of the answer; the other models go on
                errors[i] = f"{type(e).__name__}: {e}"
                streamer.end()

        threads.append(threading.Thread(target=run, daemon=True))
        streamers.append(streamer)
    for t in threads:
        t.start()
    live = set(range(len(models)))
    iterators = [iter(s) for s in streamers]
    while live:
        for i in sorted(live):
            try:
                piece = next(iterators[i])
            except StopIteration:
                live.discard(i)
                if errors[i]:
                    texts[i] = f"[error] {errors[i]}"
                continue
            texts[i] += piece
            if models[i].default_template and DEFAULT_TEMPLATE_STOP in texts[i]:
                texts[i] = texts[i].split(DEFAULT_TEMPLATE_STOP)[0]
            yield [t.strip() for t in texts]
    for t in threads:
        t.join()
    yield [t.strip() for t in texts]


def cross_perplexities(models: Sequence[LoadedModel], prompts: Sequence[str], answers: Sequence[str]) -> list[list[float]]:
    """ppl[i][j]: the perplexity of answer j under model i, on model i's own prompt (each
    model tokenizes the text itself, so models with other tokenizers compare too)."""
    from kd_core.tuneshift.scoring import score_pairs

    out = []
    for lm, prompt in zip(models, prompts):
        row = []
        for answer in answers:
            if not answer or answer.startswith("[error]"):
                row.append(float("nan"))
                continue
            row.append(score_pairs(lm, [prompt], [answer], keep_token_logprobs=False)[0].ppl)
        out.append(row)
    return out


def compare(contestants: Sequence[Contestant], prompt: str, config: GenerationConfig | None = None,
            cache: ModelCache = MODELS, should_stop: Callable[[], bool] | None = None,
            limits: Limits | None = None) -> Iterator[dict[str, Any]]:
    """The whole comparison: yields {"answers": [...]} while streaming, then once more with
    "perplexities" (rows: the scoring model, columns: the answer). `should_stop` and
    `limits`: as `stream_answers` takes them; stopped, no perplexities are computed."""
    if not prompt or not prompt.strip():
        raise KDError("Prompt: empty (type a question for the models)")
    if not 1 <= len(contestants) <= 3:
        raise KDError(f"chat compare takes 1 to 3 models, got {len(contestants)}")
    models = [cache.get(c.spec) for c in contestants]
    prompts = [c.prompt_for(prompt.strip()) for c in contestants]
    answers: list[str] = [""] * len(models)
    for answers in stream_answers(models, prompts, config, should_stop=should_stop, limits=limits):
        yield {"answers": answers}
    if should_stop is not None and should_stop():
        return
    yield {"answers": answers, "perplexities": cross_perplexities(models, prompts, answers)}


def send_to_pool(project: str, prompt: str, vote: str, who: str = "chat") -> str:
    """A thumbs up (accepted) or down (rejected) on a compared prompt, into the project's pool."""
    from kd_core.tuneshift.pool import Pool

    if vote not in ("up", "down"):
        raise KDError(f"vote must be 'up' or 'down', got {vote!r}")
    if not prompt or not prompt.strip():
        raise KDError("Prompt: empty; nothing to send to the pool")
    with Pool(project) as pool:
        added = pool.add_prompts([prompt.strip()], source="chat")
        if added.added:
            pid = added.added[0]
        else:
            dup = (added.exact_dups or added.near_dups)[0]
            pid = dup.of_id
        (pool.accept if vote == "up" else pool.reject)(pid, who=who)
        state = pool.get(pid).state
    return f"prompt {pid} {'added to' if added.added else 'already in'} the pool, now {state}"
