"""A lexical retriever for the RAG baseline: Okapi BM25 over chunks.

BM25 (Robertson et al.; k1 = 1.5, b = 0.75, the idf of Lucene, which is never
negative) on lower-cased word tokens with English stop words dropped.  Plain on
purpose: the baseline should be the retriever anyone would try first, and it needs
no model, no index files and no dependency.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Sequence

_WORD = re.compile(r"[a-z0-9]+")
STOP_WORDS = frozenset(
    "a an and are as at be by did do does for from had has have how i in is it its of on or that the their them "
    "there these they this to was were what when where which who whom whose why will with you your me tell name "
    "give please about known".split()
)


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


class BM25:
    """`BM25(texts).top_k(query, k)` -> indices of the k best texts, best first."""

    def __init__(self, texts: Sequence[str], k1: float = 1.5, b: float = 0.75):
        self.k1, self.b = k1, b
        self.docs = [Counter(words(t)) for t in texts]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg = sum(self.lengths) / max(1, len(self.docs))
        df = Counter(w for d in self.docs for w in d)
        n = len(self.docs)
        self.idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in df.items()}

    def scores(self, query: str) -> list[float]:
        q = words(query)
        out = []
        for doc, length in zip(self.docs, self.lengths):
            s = 0.0
            for w in q:
                f = doc.get(w)
                if f:
                    s += self.idf[w] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * length / max(self.avg, 1e-9)))
            out.append(s)
        return out

    def top_k(self, query: str, k: int) -> list[int]:
        s = self.scores(query)
        return sorted(range(len(s)), key=lambda i: (-s[i], i))[:k]
