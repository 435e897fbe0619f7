"""Grading an answer against its gold answers, three ways.

- `is_correct` (the containment grade, the one every table reports): a normalized gold
  answer (or alias) occurs in the normalized answer as whole words.  Normalization
  (`normalize_answer`): lower case, number words to digits, thousands separators and
  ordinals normalized, punctuation and the articles a/an/the removed.  Containment rather
  than exact match because chat models answer in sentences ("Vellmar Harbor was founded
  by Ostra Quill."); whole words so "12" does not match "120".
- `exact_match` and `token_f1`: the SQuAD metrics (its official script's normalization,
  `squad_normalize`: lower case, punctuation and articles removed, whitespace collapsed;
  no number words), best over the gold answers, so figures compare with the literature's.
  They are strict: a model that answers in a sentence scores 0 on exact match and a
  partial F1 even when it is right.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Sequence

_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBER_WORDS = {w: i for i, w in enumerate(_UNITS)} | {w: 10 * i for i, w in enumerate(_TENS) if w != "_"}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}


def _words_to_numbers(text: str) -> str:
    """'twenty-one' -> '21', 'three hundred' -> '300', 'seven' -> '7' (up to the thousands)."""
    tokens = re.split(r"(\s+|-)", text)
    out: list[str] = []
    value: int | None = None
    current = 0

    def flush():
        nonlocal value, current
        if value is not None:
            out.append(str(value + current))
            value, current = None, 0

    for tok in tokens:
        w = tok.lower()
        if w in NUMBER_WORDS:
            value = value or 0
            current += NUMBER_WORDS[w]
        elif w in ("hundred", "thousand") and value is not None:
            mult = 100 if w == "hundred" else 1000
            if w == "hundred":
                current = (current or 1) * mult
            else:
                value, current = (value + (current or 1)) * mult, 0
        elif value is not None and (tok.isspace() or tok == "-" or w == "and"):
            continue  # inside a number phrase
        else:
            flush()
            out.append(tok)
    flush()
    return " ".join(t for t in out if t and not t.isspace())


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 2,350 -> 2350
    text = _words_to_numbers(text)
    text = re.sub(r"\b(" + "|".join(_ORDINALS) + r")\b", lambda m: str(_ORDINALS[m.group(1)]), text)
    text = re.sub(r"(?<=\d)(st|nd|rd|th)\b", "", text)  # 3rd -> 3
    text = "".join(" " if ch in string.punctuation or ch in "\u2018\u2019\u201c\u201d\u2013\u2014" else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def is_correct(answer: str, golds: Sequence[str]) -> bool:
    """The containment grade: a gold answer (or alias) occurs in the answer as whole words."""
    norm = f" {normalize_answer(answer)} "
    return any(f" {g} " in norm for g in (normalize_answer(x) for x in golds) if g)


_PUNCTUATION = set(string.punctuation)


def squad_normalize(text: str) -> str:
    """The SQuAD v1.1 evaluation script's normalization: lower case, punctuation removed
    (deleted, not spaced: "o'neil" -> "oneil"), articles removed, whitespace collapsed."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(answer: str, golds: Sequence[str]) -> bool:
    """SQuAD exact match: the normalized answer equals a normalized gold answer."""
    norm = squad_normalize(answer)
    return any(norm == squad_normalize(g) for g in golds)


def token_f1(answer: str, golds: Sequence[str]) -> float:
    """SQuAD token F1 (bag of normalized words; precision against the answer, recall against
    the gold), the best over the gold answers; 0.0 when either side has no word."""
    pred = squad_normalize(answer).split()
    best = 0.0
    for gold in golds:
        truth = squad_normalize(gold).split()
        common = sum((Counter(pred) & Counter(truth)).values())
        if common:
            precision, recall = common / len(pred), common / len(truth)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best
