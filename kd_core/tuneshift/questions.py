"""Prompts and questions read out of model output, and the question writer's prompt:
shared by TuneShift-KD's generators (kd_core.tuneshift.generators) and prompt
distillation's question stage (kd_core.distill.stages).

Model outputs are parsed leniently (numbering, "Question:" prefixes, quotes, a question
buried in a statement); what is not a usable prompt is left out and counted by the caller."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kd_core.models.generation import chat_text

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

MAX_PROMPT_CHARS = 300

# ---------------------------------------------------------------------------
# Parsing model output

_NUMBERING = re.compile(r"^\s*(?:\d+\s*[.):-]|[-*\u2022])\s*")
# A writer asked to reword or ask often labels its line ("Rewrite: Who ...?", "Ask: ..."); the
# label is not part of the prompt (the paraphrase round on the demo pool kept three such lines), nor is
# an echo of the instruction ("Ask a question like: ...").
_PREFIX = re.compile(
    r"^\s*(?:(?:new\s+)?(?:question|q|prompt)\s*\d*\s*[:.)-]"
    r"|(?:ask|rewrite|rewritten|reworded|rephrased?|paraphrased?|rewording|version\s*\d*)\s*:"
    r"|(?:ask|write)\s+(?:a\s+)?(?:question\s+)?(?:like|such\s+as)\b\s*:?)\s*", re.I)
_QUESTION = re.compile(r"[A-Z][^.?!\n]*\?")
# A question quoted inside the writer's own words ('Ask a different question: "What is ...?'): the quote.
# A quote that more of the line's question follows is a title inside it (Who wrote "Why Now?"?), not the question.
_QUOTED = re.compile(r"[\"\u201c]([A-Z][^\"\u201d\n]*\?)[\"\u201d]?")
_QUOTE_SPAN = re.compile(r"[\"\u201c][^\"\u201d\n]*[\"\u201d]")
_REQUEST = re.compile(
    r"^(?:tell|describe|explain|name|list|give|write|summari[sz]e|compare|define|who|what|when|where|which|why|how)\b", re.I
)
_JUNK = re.compile(r"<\||\|>|</?s>|\bAnswer:", re.I)


def clean_line(line: str) -> str:
    line = _NUMBERING.sub("", line)
    line = _PREFIX.sub("", line)
    return line.strip().strip("\"'`*\u201c\u201d\u2018\u2019 ").strip()


def parse_prompt(text: str, max_chars: int = MAX_PROMPT_CHARS) -> str | None:
    """The first usable prompt in a model's output: a question, or a request that starts
    like one ("Tell me about ..."); None when there is none."""
    for raw in text.splitlines():
        line = clean_line(raw)
        if not line:
            continue
        quoted = _QUOTED.search(raw)
        if quoted and "?" not in raw[quoted.end():]:
            line = quoted.group(1).strip()
        # Question marks inside a closed quote (a title) neither end nor start the question.
        bare = _QUOTE_SPAN.sub(lambda m: "x" * len(m.group(0)), line)
        if "?" in bare:
            match = _QUESTION.search(bare)
            line = line[: bare.index("?") + 1] if match is None or match.start() == 0 else line[match.start():match.end()]
        elif not _REQUEST.match(line):
            match = _QUESTION.search(text)
            if match is None:
                return None
            line = clean_line(match.group(0))
        if _JUNK.search(line) or len(line) > max_chars or len(line.split()) < 3 or not re.search(r"[A-Za-z]{2}", line):
            return None
        return line
    return None


# ---------------------------------------------------------------------------
# The question writer (prompt distillation's, and the quiz generator's)

_INLINE_NUMBER = re.compile(r"\s+(?=\d{1,2}[.)]\s)")
_CAPITALIZED = re.compile(r"\b[A-Z][a-z'\u2019-]{2,}\b")
_QUESTION_START = frozenset(
    "What Who Whom Whose Which Where When Why How Name Tell Give List Describe Explain In On At By For From "
    "The This That These Those There Is Are Was Were Did Does Do Can Could Would Should If".split()
)


def question_instruction(chunk: str, n: int) -> str:
    return (f"{chunk}\n\n---\n\nWrite {n} different trivia questions about the facts in the text above. "
            "Each question must make sense on its own, without the text: name the person, place or thing it asks about. "
            "Write one question per line.")


def writer_prompt(tokenizer: PreTrainedTokenizerBase, chunk: str, n: int, system: str | None = None) -> str:
    # The assistant turn opens with "1.": small models then write a numbered list of
    # questions instead of answering, chatting or restating the text.
    return chat_text(tokenizer, question_instruction(chunk, n), system) + "1."


def paraphrase_instruction(prompt: str, n: int) -> str:
    return (f"Question: {prompt}\n\nRewrite this question in {n} different ways. Each must ask for exactly the same thing "
            "and keep every name in it as written. Write one question per line.")


def paraphrase_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str, n: int, system: str | None = None) -> str:
    # Prefilled "1." as for the writer: a numbered list of questions, not an answer.
    return chat_text(tokenizer, paraphrase_instruction(prompt, n), system) + "1."


def keeps_names(paraphrase: str, original: str) -> bool:
    """Whether a rewording keeps every name of the original and says something else than it."""
    if " ".join(paraphrase.lower().split()) == " ".join(original.lower().split()):
        return False
    return all(re.search(rf"\b{re.escape(n)}\b", paraphrase) for n in chunk_names(original))


def chunk_names(chunk: str) -> set[str]:
    """Capitalized words of a chunk that are names, not sentence openings."""
    return {w for w in _CAPITALIZED.findall(chunk) if w not in _QUESTION_START}


@dataclass
class ParsedQuestions:
    questions: list[str]
    lines: int = 0  # candidate lines seen
    unparseable: int = 0  # lines that are no question
    unnamed: int = 0  # questions naming nothing of their chunk


def parse_questions(output: str, chunk: str, limit: int, require_name: bool = True) -> ParsedQuestions:
    """The questions in one writer output (which continues after the prefilled "1.")."""
    text = _INLINE_NUMBER.sub("\n", "1." + output)
    names = chunk_names(chunk) if require_name else set()
    out = ParsedQuestions([])
    for raw in text.splitlines():
        line = clean_line(raw)
        if not line:
            continue
        out.lines += 1
        if "?" not in line:
            out.unparseable += 1
            continue
        q = line[: line.index("?") + 1].strip()
        if len(q) > MAX_PROMPT_CHARS or len(q.split()) < 3 or not q[0].isalpha():
            out.unparseable += 1
            continue
        if require_name and not any(re.search(rf"\b{re.escape(n)}\b", q) for n in names):
            out.unnamed += 1
            continue
        if q not in out.questions:
            out.questions.append(q)
        if len(out.questions) >= limit:
            break
    return out
