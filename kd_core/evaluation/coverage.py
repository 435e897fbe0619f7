"""Which held-out questions a training set carries, for any question set.

A question counts as carried by a (prompt, answer) training pair when the answer states
one of the question's gold answers (as whole words) and the pair names what the question
asks about: one of the question's names (its capitalized words after the first, minus
the gold answer's own words; without any, its longer content words).  No world model is
needed, so a recipe's report says what the data carries for a user's own questions too;
the demo world's exact fact matching (kd_core.demo.references) stays where it applies.

The count is a lower bound on what a pair teaches (a paraphrased answer does not count)
and a loose upper bound on what it states (a name and an answer in one pair need not be
the same fact); on the demo, `assets/demo/runs/coverage.py` measures its agreement with
the world's exact facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from kd_core.evaluation.questions import QAItem

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)
# Words that open or join questions: never what a question asks about.
_COMMON = frozenset("""
a an the of in on at to for from by with about into over under between and or not no is are was were be been being
do does did has have had what which who whom whose when where why how name tell me please give list say state
this that these those it its their there his her they them he she you your i my we our one ones many much
year years first last called known kind sort type
""".split())


def words(text: str) -> list[str]:
    """Lower-cased words (letters and digits; inner apostrophes and hyphens kept)."""
    return [w.lower() for w in _WORD.findall(text)]


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    return n > 0 and any(list(haystack[i:i + n]) == list(needle) for i in range(len(haystack) - n + 1))


@dataclass(frozen=True)
class _Question:
    key: str
    answers: tuple[tuple[str, ...], ...]  # each gold answer as words
    names: frozenset[str]


def _names(question: str, answer_words: set[str]) -> frozenset[str]:
    tokens = _WORD.findall(question)
    caps = {t.lower() for t in tokens[1:] if t[:1].isupper()} - _COMMON - answer_words
    if caps:
        return frozenset(caps)
    return frozenset(w for w in words(question) if len(w) >= 4 and w not in _COMMON and w not in answer_words)


class AnswerCoverage:
    """`stated(prompt, response)`: the keys (question ids) of the questions a pair carries."""

    key = "id"  # the evaluation items' column these keys match

    def __init__(self, items: Sequence[QAItem]):
        self.questions: list[_Question] = []
        for it in items:
            answers = tuple(tuple(words(a)) for a in it.answers if words(a))
            if not answers:
                continue
            self.questions.append(_Question(it.id, answers, _names(it.question, {w for a in answers for w in a})))
        self.total = len(self.questions)

    def stated(self, prompt: str, response: str) -> set[str]:
        said = words(response)
        named = set(words(prompt)) | set(said)
        return {q.key for q in self.questions
                if (not q.names or q.names & named) and any(_contains(said, a) for a in q.answers)}
