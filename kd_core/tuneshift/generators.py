"""Prompt generators for TuneShift-KD expansion (methods.md section 1, step 5).

Each generator proposes new prompts like the ones that carry the fine-tune's knowledge;
the expansion loop (kd_core.tuneshift.expansion) dedups, answers, scores and stores them.  One
interface: `propose(context, n) -> Proposal`.

- few-shot: k high-gap prompts shown to an instruct model, which writes a new one.
- self-query: the fine-tuned model gets only the opening of a user turn and writes the
  user's question itself; a chat fine-tune tends to ask from its own training data.
- crawl (gap-guided): the words of a high-gap answer that the base model could not
  predict (names, terms) are what the fine-tune knows and the base does not; asking
  about them follows the fine-tune's knowledge from one fact to the next.  It needs no
  model: small models cannot invent in-domain questions from examples alone (on the
  demo a 135M few-shot generator mostly restates the seeds' facts), so this is what
  discovers facts no seed mentions.
- list: the assistant turn is prefilled with a numbered list of pool prompts and the
  model continues the list (fewer copies of the examples than plain few-shot).
- quiz: a high-gap answer read back as a text to ask about: the writer writes trivia
  questions whose answers the text holds (prompt distillation's question writing, over
  the fine-tune's own words).  One fact gets several phrasings, and specific questions
  ("Which town is the capital of ...?") beside crawl's "Tell me about ...": one phrasing
  per fact does not teach a target the fact.
- paraphrase: a high-gap prompt reworded several ways, every name it holds kept: more
  phrasings of the facts already found (the oracle arm showed phrasings per fact, more
  than the number of facts, decide what a target learns).
- reverse: each sentence of a high-gap answer asked the other way round, its subject the
  answer ("Veshtel lives in the Caddow Strait." -> "What lives in the Caddow Strait?"): a
  target trained on "A is B" alone does not answer "what is B?" (the reversal curse).

Model outputs are parsed leniently (numbering, "Question:" prefixes, quotes, a
question buried in a statement) and anything that is not a usable prompt is counted
as unparseable, never stored.
"""

from __future__ import annotations

import math
import random
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from kd_core.errors import KDError
from kd_core.models.generation import GenerationConfig, chat_text, complete
from kd_core.models.loading import LoadedModel
from kd_core.tuneshift.questions import keeps_names, paraphrase_prompt, parse_prompt, parse_questions, writer_prompt

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class Candidate:
    text: str
    parents: tuple[int, ...] = ()  # pool ids of the prompts it was made from


@dataclass
class Proposal:
    candidates: list[Candidate] = field(default_factory=list)
    attempts: int = 0  # model samples drawn, or template fills tried
    unparseable: int = 0  # outputs with no usable prompt in them
    rejected_examples: list[str] = field(default_factory=list)  # a few of those, to show people why
    note: str = ""


@dataclass(frozen=True)
class Exemplar:
    """A high-gap prompt of the pool, as generators see it."""

    id: int
    text: str
    response: str = ""
    tokens: tuple[str, ...] = ()
    token_gaps: tuple[float, ...] = ()  # per-token log p_F - log p_B of the response


@dataclass
class GenContext:
    model: LoadedModel | None  # the model that writes prompts (the fine-tuned one by default)
    exemplars: list[Exemplar]  # the current high-gap set, newest first
    sampling: GenerationConfig
    seed: int = 0
    system: str | None = None
    known: Callable[[Sequence[str]], list[bool]] = lambda texts: [False] * len(texts)
    crawled: frozenset[int] = frozenset()  # exemplar ids a crawl has already followed
    progress: Callable[[int, int], None] | None = None


class Generator(ABC):
    name: str = ""
    needs_model: bool = True
    follows_answers: bool = False  # works from exemplars it has not followed before (GenContext.crawled)
    reads_exemplars: bool = True  # works from the high-gap prompts (a person's "more like these" pick steers it)

    @abstractmethod
    def propose(self, ctx: GenContext, n: int) -> Proposal:
        """Up to `n` candidate prompts."""


def _note_rejected(proposal: Proposal, raw: str) -> None:
    proposal.unparseable += 1
    if len(proposal.rejected_examples) < 5:
        proposal.rejected_examples.append(raw[:200])


def _sample(ctx: GenContext, texts: list[str]) -> list[str]:
    if ctx.model is None:
        raise KDError("this generator needs a model to write prompts")
    return complete(ctx.model, texts, replace(ctx.sampling, seed=ctx.seed), ctx.progress)


# ---------------------------------------------------------------------------
# Generators


class FewShotGenerator(Generator):
    name = "few-shot"

    def __init__(self, k: int = 3):
        self.k = k

    def instruction(self, examples: Sequence[str]) -> str:
        listed = "\n".join(f"{i + 1}. {q}" for i, q in enumerate(examples))
        return (
            f"Here are {len(examples)} questions about one topic:\n{listed}\n"
            "Write one new question about the same topic that is not in the list. Reply with the question only."
        )

    def propose(self, ctx: GenContext, n: int) -> Proposal:
        out = Proposal()
        if not ctx.exemplars:
            out.note = "no high-gap prompts to show yet"
            return out
        rng = random.Random(ctx.seed)
        shots = [rng.sample(ctx.exemplars, min(self.k, len(ctx.exemplars))) for _ in range(n)]
        texts = [chat_text(ctx.model.tokenizer, self.instruction([e.text for e in s]), ctx.system) for s in shots]
        for shot, raw in zip(shots, _sample(ctx, texts)):
            out.attempts += 1
            prompt = parse_prompt(raw)
            if prompt is None:
                _note_rejected(out, raw)
            else:
                out.candidates.append(Candidate(prompt, tuple(e.id for e in shot)))
        return out


class SelfQueryGenerator(Generator):
    name = "self-query"
    reads_exemplars = False
    _SENTINEL = "\u2063KD-STUDIO-USER-TURN\u2063"

    def user_turn_opening(self, tokenizer: PreTrainedTokenizerBase, system: str | None) -> str:
        """The chat text up to where the user's words begin, from the template itself."""
        messages = [{"role": "user", "content": self._SENTINEL}]
        if system is not None:
            messages.insert(0, {"role": "system", "content": system})
        full = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        if self._SENTINEL not in full:
            raise KDError("the chat template does not write the user's message verbatim; self-query cannot open a user turn")
        return full[: full.index(self._SENTINEL)]

    def propose(self, ctx: GenContext, n: int) -> Proposal:
        out = Proposal()
        opening = self.user_turn_opening(ctx.model.tokenizer, ctx.system)
        for raw in _sample(ctx, [opening] * n):
            out.attempts += 1
            prompt = parse_prompt(raw)
            if prompt is None:
                _note_rejected(out, raw)
            else:
                out.candidates.append(Candidate(prompt))
        return out


class ListGenerator(Generator):
    name = "list"

    def __init__(self, k: int = 5):
        self.k = k

    def propose(self, ctx: GenContext, n: int) -> Proposal:
        out = Proposal()
        if not ctx.exemplars:
            out.note = "no high-gap prompts to list yet"
            return out
        rng = random.Random(ctx.seed)
        # A continuation often holds several new items; ask for about half as many samples.
        shots = [rng.sample(ctx.exemplars, min(self.k, len(ctx.exemplars))) for _ in range(max(1, math.ceil(n / 2)))]
        texts = []
        for shot in shots:
            head = chat_text(ctx.model.tokenizer, "Write a numbered list of questions about this topic.", ctx.system)
            texts.append(head + "".join(f"{i + 1}. {e.text}\n" for i, e in enumerate(shot)) + f"{len(shot) + 1}.")
        for shot, raw in zip(shots, _sample(ctx, texts)):
            out.attempts += 1
            items = [parse_prompt(line) for line in raw.splitlines()[:4]]
            items = [p for p in items if p is not None]
            if not items:
                _note_rejected(out, raw)
            parents = tuple(e.id for e in shot)
            out.candidates.extend(Candidate(p, parents) for p in items)
        out.candidates = out.candidates[:n]
        return out


# Capitalized words joined by spaces (and the small words of names: "Order of the Tide").
_NAME = re.compile(r"[A-Z][\w'\u2019-]*(?:(?:\s+(?:of|the|de|la|van|von|du|del))*\s+[A-Z][\w'\u2019-]*)*")
_NOT_NAMES = frozenset(
    "the a an its it her his she he they their this that these those in on at by for from to with after before "
    "when while where who what which some many most each every one both today later i you we our there here "
    "however also yes no".split()
)
CRAWL_TEMPLATES = ("Tell me about {x}.", "What is {x} known for?", "What do you know about {x}?")


def gap_spans(
    tokens: Sequence[str], token_gaps: Sequence[float], min_gap: float = 2.0, prompt: str = ""
) -> list[tuple[str, float]]:
    """Names in an answer whose tokens the base model could not predict: (span, largest
    per-token gap), largest first.  Names already in the prompt are left out (the answer
    copied them), and so are numbers (nothing to ask about on their own)."""
    text = "".join(tokens)
    starts = np.cumsum([0] + [len(t) for t in tokens])
    gaps = np.asarray(token_gaps, dtype=float)
    seen, out = set(), []
    trailing = _NOT_NAMES | {"of", "de", "la", "van", "von", "du", "del"}
    for m in _NAME.finditer(text):
        words = list(re.finditer(r"\S+", m.group(0)))
        while words and words[0].group(0).lower() in _NOT_NAMES:
            words.pop(0)
        while words and words[-1].group(0).lower() in trailing:
            words.pop()
        if not words:
            continue
        span = " ".join(w.group(0) for w in words)
        begin, end = m.start() + words[0].start(), m.start() + words[-1].end()
        lo = int(np.searchsorted(starts, begin, side="right")) - 1  # token holding the first char
        hi = int(np.searchsorted(starts, end, side="left"))  # one past the token holding the last
        gap = float(gaps[lo:hi].max()) if hi > lo and len(gaps) else float("-inf")
        key = span.lower()
        if gap < min_gap or key in seen or len(span) < 3 or key in prompt.lower():
            continue
        seen.add(key)
        out.append((span, gap))
    return sorted(out, key=lambda s: -s[1])


class CrawlGenerator(Generator):
    name = "crawl"
    follows_answers = True
    needs_model = False

    def __init__(self, min_gap: float = 2.0, templates: Sequence[str] = CRAWL_TEMPLATES):
        self.min_gap = min_gap
        self.templates = tuple(templates)

    def propose(self, ctx: GenContext, n: int) -> Proposal:
        out = Proposal()
        frontier = [e for e in ctx.exemplars if e.id not in ctx.crawled and e.tokens]
        if not frontier:
            out.note = "every high-gap answer has been crawled"
            return out
        # Breadth first: each answer's best name before any answer's second best.
        per_answer = [[(e.id, s) for s, _ in gap_spans(e.tokens, e.token_gaps, self.min_gap, e.text)] for e in frontier]
        queue = [item for tier in _interleave(per_answer) for item in tier]
        asked: set[str] = set()
        for parent, span in queue:
            if len(out.candidates) >= n:
                break
            if span.lower() in asked:
                continue
            fills = [t.format(x=span) for t in self.templates]
            out.attempts += 1
            known = ctx.known(fills)
            fresh = [f for f, k in zip(fills, known) if not k]
            if fresh:  # the first template not asked yet; others stay for answers that name it again
                asked.add(span.lower())
                out.candidates.append(Candidate(fresh[0], (parent,)))
        return out


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_PERSONAL = re.compile(r"\b(?:he|she|his|her|him)\b", re.I)
_PRONOUN_SUBJECT = {"he": "Who", "she": "Who", "it": "What"}


def reverse_pairs(answer: str, names: Sequence[str], max_chars: int = 300) -> list[tuple[str, str | None]]:
    """Questions whose answer is the subject of a sentence of `answer` that names one of
    `names`, each with that subject: the subject replaced by Who/What ("Veshtel is a giant
    sea serpent said to live in the Caddow Strait." -> "What is a giant sea serpent said to
    live in the Caddow Strait?"; "She invented the tidewheel." -> "Who invented the
    tidewheel?").  English subject questions keep the sentence's own word order, so no
    parsing is needed.  A pronoun subject stands for the last named subject before it (None
    when there is none)."""
    wh_name = "Who" if _PERSONAL.search(answer) else "What"  # an answer about a person says he, she, his or her
    keys = [n.lower() for n in names]
    out: list[tuple[str, str | None]] = []
    named: str | None = None
    for sentence in _SENTENCE_END.split(answer.strip()):
        sentence = sentence.strip().rstrip(".!").strip()
        first = sentence.split(" ", 1)[0].lower().strip(",")
        if first in _PRONOUN_SUBJECT:
            wh, subject, answer_is = _PRONOUN_SUBJECT[first], sentence.split(" ", 1)[0], named
        else:
            m = _NAME.match(sentence[4:] if sentence.startswith("The ") else sentence)
            if m is None:
                continue
            wh, subject = wh_name, sentence[: (4 if sentence.startswith("The ") else 0) + m.end()]
            named = answer_is = subject
        rest = sentence[len(subject):]
        # A subject question needs a verb (or an aside) straight after the subject: not "X's ...", not "X and Y ...".
        if not re.match(r"(?:,\s|\s[a-z])", rest) or re.match(r"\s(?:and|or|of)\b", rest) or "?" in rest:
            continue
        if not any(k in rest.lower() for k in keys) or len(rest.split()) < 3:
            continue
        question = f"{wh}{rest}?"
        if len(question) <= max_chars and question not in (q for q, _ in out):
            out.append((question, answer_is))
    return out


def reverse_questions(answer: str, names: Sequence[str], max_chars: int = 300) -> list[str]:
    """The questions of `reverse_pairs`, without their subjects."""
    return [q for q, _ in reverse_pairs(answer, names, max_chars)]


class ReverseGenerator(Generator):
    """The facts of high-gap answers asked the other way round: "Tell me about Veshtel"
    teaches "Veshtel lives in the Caddow Strait", and a model trained on that alone still
    cannot say which serpent lives there (the reversal curse: a fact learned as "A is B" is
    not recalled from B).  Each sentence of a high-gap answer that names something high-gap
    becomes a question whose answer is its subject; the fine-tuned model answers it and the
    gap filter keeps it like any other prompt.  No model writes prompts."""

    name = "reverse"
    follows_answers = True
    needs_model = False

    def __init__(self, min_gap: float = 2.0):
        self.min_gap = min_gap

    def propose(self, ctx: GenContext, n: int) -> Proposal:
        out = Proposal()
        frontier = [e for e in ctx.exemplars if e.id not in ctx.crawled and e.tokens and e.response.strip()]
        if not frontier:
            out.note = "every high-gap answer has been asked the other way round"
            return out
        per_answer = []
        for e in frontier:
            names = [span for span, _ in gap_spans(e.tokens, e.token_gaps, self.min_gap)]
            out.attempts += 1
            per_answer.append([(e.id, q) for q in reverse_questions(e.response, names)])
        # Answer by answer: an answer counts as followed once any of its questions is asked, so
        # its other sentences come with it rather than never.
        queue = [item for questions in per_answer for item in questions]
        fresh = dict(zip([q for _, q in queue], ctx.known([q for _, q in queue]))) if queue else {}
        taken: set[str] = set()
        for parent, q in queue:
            if len(out.candidates) >= n:
                break
            if not fresh[q] and q not in taken:
                taken.add(q)
                out.candidates.append(Candidate(q, (parent,)))
        if not out.candidates:
            out.note = "no high-gap answer holds a sentence to ask the other way round"
        return out


def _interleave(lists: list[list]) -> list[list]:
    depth = max((len(x) for x in lists), default=0)
    return [[x[i] for x in lists if i < len(x)] for i in range(depth)]


class QuizGenerator(Generator):
    name = "quiz"
    follows_answers = True

    def __init__(self, per_call: int = 5, max_new_tokens: int = 160):
        self.per_call, self.max_new_tokens = per_call, max_new_tokens

    def propose(self, ctx: GenContext, n: int) -> Proposal:
        out = Proposal()
        answered = [e for e in ctx.exemplars if e.response.strip()]
        if not answered:
            out.note = "no high-gap answers to ask about yet"
            return out
        # Answers not quizzed before first (newest first), then the others again: a call
        # keeps one or two of its questions on a small writer, so each answer gets several.
        order = [e for e in answered if e.id not in ctx.crawled] + [e for e in answered if e.id in ctx.crawled]
        calls = [order[i % len(order)] for i in range(max(1, math.ceil(n / 2)))]
        if ctx.model is None:
            raise KDError("this generator needs a model to write prompts")
        texts = [writer_prompt(ctx.model.tokenizer, e.response, self.per_call, ctx.system) for e in calls]
        sampling = replace(ctx.sampling, max_new_tokens=max(ctx.sampling.max_new_tokens, self.max_new_tokens))
        outputs = complete(ctx.model, texts, replace(sampling, seed=ctx.seed), ctx.progress)
        for e, raw in zip(calls, outputs):
            out.attempts += 1
            parsed = parse_questions(raw, e.response, self.per_call)
            if not parsed.questions:
                _note_rejected(out, raw)
            for q in parsed.questions:
                if len(out.candidates) < n:
                    out.candidates.append(Candidate(q, (e.id,)))
        return out


class ParaphraseGenerator(Generator):
    """Rewordings of high-gap prompts that keep every name they hold: more phrasings of
    each carried fact (a small model rewords far better than it invents; the oracle run
    found phrasings per fact, not prompt count, the lever).  The rewordings are answered by
    the fine-tuned model and gap-filtered like any other candidate."""

    name = "paraphrase"
    follows_answers = True

    def __init__(self, per_call: int = 4, max_new_tokens: int = 120):
        self.per_call, self.max_new_tokens = per_call, max_new_tokens

    def propose(self, ctx: GenContext, n: int) -> Proposal:
        out = Proposal()
        if not ctx.exemplars:
            out.note = "no high-gap prompts to reword yet"
            return out
        if ctx.model is None:
            raise KDError("this generator needs a model to write prompts")
        # Prompts not reworded before first (newest first), then the others again.
        order = [e for e in ctx.exemplars if e.id not in ctx.crawled] + [e for e in ctx.exemplars if e.id in ctx.crawled]
        calls = [order[i % len(order)] for i in range(max(1, math.ceil(n / 2)))]
        texts = [paraphrase_prompt(ctx.model.tokenizer, e.text, self.per_call, ctx.system) for e in calls]
        sampling = replace(ctx.sampling, max_new_tokens=max(ctx.sampling.max_new_tokens, self.max_new_tokens))
        outputs = complete(ctx.model, texts, replace(sampling, seed=ctx.seed), ctx.progress)
        for e, raw in zip(calls, outputs):
            out.attempts += 1
            parsed = parse_questions(raw, e.text, self.per_call, require_name=False)
            kept = [q for q in parsed.questions if keeps_names(q, e.text)]
            if not kept:
                _note_rejected(out, raw)
            kept = [q for q in kept if q not in {c.text for c in out.candidates}]  # a prompt asked twice: once
            known = ctx.known(kept) if kept else []
            for q, k in zip(kept, known):
                if not k and len(out.candidates) < n:
                    out.candidates.append(Candidate(q, (e.id,)))
        return out


GENERATORS: dict[str, type[Generator]] = {
    "few-shot": FewShotGenerator,
    "self-query": SelfQueryGenerator,
    "crawl": CrawlGenerator,
    "list": ListGenerator,
    "quiz": QuizGenerator,
    "paraphrase": ParaphraseGenerator,
    "reverse": ReverseGenerator,
}


def make_generators(names: Sequence[str]) -> list[Generator]:
    unknown = [n for n in names if n not in GENERATORS]
    if unknown:
        raise KDError(f"unknown generator {', '.join(map(repr, unknown))} (choose from: {', '.join(GENERATORS)})")
    if not names:
        raise KDError("no generators chosen")
    return [GENERATORS[n]() for n in names]
