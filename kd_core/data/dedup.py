"""Exact and near-duplicate detection for prompts (methods.md section 1, step 5).

Two prompts are

- exact duplicates when their `normalize`d forms are equal: Unicode NFKC, case-folded,
  whitespace runs collapsed to one space, punctuation and spaces stripped at both
  ends ("Who founded Brindlecove?" == "who founded  brindlecove ?");
- near duplicates when they hold the same numbers, in the same order, and the Jaccard
  similarity of their sets of character 4-grams (of the normalized forms, with start
  and end markers) is at least `DedupConfig.threshold`, 0.8 by default.

How 0.8 on 4-grams reads on prompts (tests/test_dedup.py pins each of these):

| pair                                                                    | similarity | at 0.8 |
| ----------------------------------------------------------------------- | ---------: | ------ |
| "Who founded Brindlecove?" / "Who founded Brindlecove ?"                 | exact      | dup    |
| "In what year was Brindlecove founded?" / "What year was ..."           | 0.86       | dup    |
| "Which guild controls the salt trade in Brindlecove?" / "... today?"   | 0.86       | dup    |
| "Explain how the tides of Brindlecove harbour ..." / "... harbor ..."  | 0.90       | dup    |
| "Who founded Brindlecove?" / "Who founed Brindlecove?" (typo)           | 0.72       | kept   |
| "What is the main export of Brindlecove?" / "... import ..."           | 0.76       | kept   |
| "Write a Python function that returns the sum ..." / "... product ..." | 0.79       | kept   |
| "Who founded Brindlecove?" / "who was the founder of brindlecove"       | 0.41       | kept   |
| "What was the population of Brindlecove in 1820?" / "... 1821?"         | 0.91       | kept (numbers differ) |

So: reworded questions, an added or dropped short word, spelling variants and typos in
prompts of ordinary length are duplicates; paraphrases, changed names or numbers, and
one-word changes that change the task are kept.  A short prompt's single typo changes
about 4 of its ~25 n-grams and is kept; lower the threshold (0.7) to thin harder, at the
price of calling "sum" vs "product" the same task.  Character overlap cannot tell
meaning; catching paraphrases would need an embedding model, which dedup avoids.

Finding near duplicates among 50k prompts must not compare all pairs.  `DedupIndex`
keeps a 128-permutation MinHash signature per prompt and LSH bands over it; prompts
that share a band are candidates, thinned by their signatures' estimate of the
similarity, and the rest are checked by their exact Jaccard similarity, so a reported
similarity is exact and the threshold means what it says.  The band width is chosen
for the threshold so that a pair right at it becomes a candidate with probability
>= 0.995 (more above it): LSH may miss a rare borderline pair, never reports a false one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class DedupConfig:
    threshold: float | None = 0.8  # near-duplicate Jaccard threshold; None: exact duplicates only
    ngram: int = 4  # character n-gram length of the shingles
    num_perm: int = 128  # MinHash permutations
    seed: int = 0  # the MinHash permutations (any fixed value gives the same decisions bar LSH misses)

    def __post_init__(self):
        from kd_core.errors import KDError

        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise KDError(f"near-duplicate threshold must be in (0, 1], got {self.threshold}")
        if not 1 <= self.ngram <= 16:
            raise KDError(f"dedup n-gram length must be 1..16, got {self.ngram}")
        if self.num_perm < 16:
            raise KDError(f"dedup needs at least 16 MinHash permutations, got {self.num_perm}")


@dataclass(frozen=True)
class Match:
    """Why a text is a duplicate: of which owner (a prompt id, or a batch position when
    `in_batch`), exact or near, and the similarity (1.0 for exact)."""

    kind: str  # "exact" | "near"
    owner: int
    similarity: float
    in_batch: bool = False


# ---------------------------------------------------------------------------
# Pure functions


def _strippable(c: str) -> bool:
    return c.isspace() or unicodedata.category(c).startswith("P")


def normalize(text: str) -> str:
    """The exact-duplicate key: NFKC, case-folded, whitespace collapsed, punctuation stripped at the ends."""
    t = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    start, end = 0, len(t)
    while start < end and _strippable(t[start]):
        start += 1
    while end > start and _strippable(t[end - 1]):
        end -= 1
    return t[start:end]


def _marked(key: str) -> str:
    # Start and end markers put the first and last characters in as many n-grams as
    # the others: without them a changed last word barely moves the similarity.
    return f"\x02{key}\x03"


def shingles(key: str, n: int = 4) -> frozenset[str]:
    """Character n-grams of a normalized text (with start/end markers); a text shorter
    than n is its own single shingle."""
    s = _marked(key)
    if len(s) <= n:
        return frozenset([s])
    return frozenset(s[i : i + n] for i in range(len(s) - n + 1))


def numbers(key: str) -> tuple[str, ...]:
    """The digit runs of a text, in order: prompts that differ in them ask different things."""
    return tuple(_DIGITS.findall(key))


def jaccard(a: frozenset | set, b: frozenset | set) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def similarity(a: str, b: str, n: int = 4) -> float:
    """Jaccard similarity of two texts' character n-gram sets, after `normalize`."""
    return jaccard(shingles(normalize(a), n), shingles(normalize(b), n))


def is_near_duplicate(a: str, b: str, config: DedupConfig = DedupConfig()) -> bool:
    """True when a and b are exact duplicates, or near ones: the same numbers, and an
    n-gram similarity at least the threshold."""
    ka, kb = normalize(a), normalize(b)
    if ka == kb:
        return True
    if config.threshold is None or numbers(ka) != numbers(kb):
        return False
    return jaccard(shingles(ka, config.ngram), shingles(kb, config.ngram)) >= config.threshold


def lsh_bands(threshold: float, num_perm: int, min_recall: float = 0.995) -> tuple[int, int]:
    """(bands, rows per band) with the fewest false candidates whose probability of making a
    pair of Jaccard `threshold` a candidate, 1 - (1 - t^r)^b, is at least `min_recall`."""
    best = (num_perm, 1)
    for r in range(1, num_perm + 1):
        b = num_perm // r
        if b < 1:
            break
        if 1.0 - (1.0 - threshold**r) ** b >= min_recall:
            best = (b, r)  # wider bands are more selective; keep the widest that still recalls
    return best


# ---------------------------------------------------------------------------
# MinHash signatures, vectorized over a batch of normalized texts


@lru_cache(maxsize=8)
def _hash_params(ngram: int, num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mix = rng.integers(1, 2**63, size=ngram, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    a = (rng.integers(0, 2**31, size=(num_perm, 1), dtype=np.uint32) << np.uint32(1)) | np.uint32(1)
    b = rng.integers(0, 2**32, size=(num_perm, 1), dtype=np.uint32)
    return mix, a, b


def _window_hashes(marked: Sequence[str], n: int, mix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every n-character window of every text, and each text's first window index."""
    padded = [k if len(k) >= n else k + "\0" * (n - len(k)) for k in marked]
    lengths = np.fromiter((len(k) for k in padded), dtype=np.int64, count=len(padded))
    cps = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    n_win = lengths - n + 1
    first = np.concatenate(([0], np.cumsum(n_win)[:-1]))
    # Window i of text j starts at starts[j] + i; a window never crosses into the next text.
    win_starts = np.repeat(starts - first, n_win) + np.arange(n_win.sum())
    h = np.zeros(len(win_starts), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h += cps[win_starts + k] * mix[k]
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
    return h, first


# Windows hashed per step: num_perm x this many 32-bit values stay in cache (4 MB).
_WINDOWS_PER_STEP = 8192


def sketches(keys: Sequence[str], config: DedupConfig) -> tuple[np.ndarray, list[np.ndarray]]:
    """MinHash signatures (len(keys) x num_perm, uint32) of normalized texts, and each
    text's n-gram set as sorted 64-bit hashes (equal to `shingles` bar hash collisions,
    at odds of about 1 in 2^50 per pair of texts)."""
    mix, a, b = _hash_params(config.ngram, config.num_perm, config.seed)
    sigs = np.empty((len(keys), config.num_perm), dtype=np.uint32)
    sets: list[np.ndarray] = []
    i = 0
    while i < len(keys):
        j, windows = i, 0
        while j < len(keys) and (windows == 0 or windows + len(keys[j]) <= _WINDOWS_PER_STEP):
            windows += max(len(keys[j]) + 3 - config.ngram, 1)
            j += 1
        h, first = _window_hashes([_marked(k) for k in keys[i:j]], config.ngram, mix)
        # A cheap family of hash functions (32-bit multiply-add, then an xor-shift to mix
        # the high bits down); tests check its Jaccard estimates against exact values.
        perm = a * h.astype(np.uint32)[None, :]
        perm += b
        perm ^= perm >> np.uint32(15)
        sigs[i:j] = np.minimum.reduceat(perm, first, axis=1).T
        # Each text's distinct window hashes, sorted: one lexsort for the whole step.
        text = np.repeat(np.arange(j - i), np.diff(np.append(first, len(h))))
        order = np.lexsort((h, text))
        h, text = h[order], text[order]
        distinct = np.ones(len(h), dtype=bool)
        distinct[1:] = (h[1:] != h[:-1]) | (text[1:] != text[:-1])
        h, text = h[distinct], text[distinct]
        sets.extend(np.split(h, np.searchsorted(text, np.arange(1, j - i))))
        i = j
    return sigs, sets


def signatures(keys: Sequence[str], config: DedupConfig) -> np.ndarray:
    """MinHash signatures (len(keys) x num_perm, uint32) of normalized texts."""
    return sketches(keys, config)[0]


def _band_hashes(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit hash per (signature, band)."""
    used = sigs[:, : bands * rows].astype(np.uint64).reshape(len(sigs), bands, rows)
    h = np.zeros((len(sigs), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            h = (h ^ used[:, :, r]) * np.uint64(0x100000001B3)
            h ^= h >> np.uint64(31)
    return h


# ---------------------------------------------------------------------------
# The index


class _Grow:
    """A numpy array that grows by doubling (appends are amortized O(1))."""

    def __init__(self, dtype, initial: Sequence = ()):
        self._a = np.empty(max(len(initial), 1024), dtype=dtype)
        self._n = len(initial)
        self._a[: self._n] = initial

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=self._a.dtype)
        need = self._n + len(values)
        if need > len(self._a):
            grown = np.empty(max(need, 2 * len(self._a)), dtype=self._a.dtype)
            grown[: self._n] = self._a[: self._n]
            self._a = grown
        self._a[self._n : need] = values
        self._n = need

    @property
    def view(self) -> np.ndarray:
        return self._a[: self._n]

    def __len__(self) -> int:
        return self._n


class DedupIndex:
    """Every text ever seen by a pool, for exact and near-duplicate lookups.

    Owners are ints (prompt ids); one owner may have several texts (an edited prompt
    keeps its original).  Per text: its MinHash signature, its n-gram set as sorted
    hashes, and one hash per LSH band, the band hashes sorted per band so that a batch
    of lookups is a few `searchsorted` calls.  Texts accepted one at a time inside
    `screen` wait in a small dict-based tail until the step ends.  About 1 kB per text.

    Prompts from one domain share much of their wording, so LSH candidates can be many
    (a pair at Jaccard 0.5 shares a band 28% of the time at the default setting).
    Candidates are first thinned by their signature's estimate of the similarity
    (dropped when it is below threshold - `_ESTIMATE_MARGIN`, over 4 standard
    deviations below at 128 permutations); the rest get the exact check, vectorized.
    """

    _STEP = 4096  # texts looked up together; also the largest tail
    _ESTIMATE_MARGIN = 0.15
    _PAIRS_PER_BLOCK = 1 << 16  # candidate pairs compared at once (x num_perm bytes)

    def __init__(self, config: DedupConfig = DedupConfig()):
        self.config = config
        self._keys: dict[str, int] = {}  # exact key -> first owner
        # Per entry (one text of one owner), for near duplicates:
        self._owner = _Grow(np.int64)
        self._numbers = _Grow(np.int64)  # hash of the text's numbers
        self._set_start = _Grow(np.int64, [0])  # entry e's n-gram hashes: _set_flat[start[e]:start[e+1]]
        self._set_flat = _Grow(np.uint64)
        self.bands, self.rows = lsh_bands(config.threshold, config.num_perm) if config.threshold is not None else (0, 0)
        self._sig = np.empty((0, config.num_perm), dtype=np.uint32)  # merged entries 0.._merged-1
        self._sorted_hash = np.empty((self.bands, 0), dtype=np.uint64)
        self._sorted_entry = np.empty((self.bands, 0), dtype=np.int64)
        self._tail_sigs = np.empty((self._STEP, config.num_perm), dtype=np.uint32)
        self._tail_bands: list[np.ndarray] = []
        self._tail: list[dict[int, list[int]]] = [{} for _ in range(self.bands)]

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def near(self) -> bool:
        return self.config.threshold is not None

    @property
    def _merged(self) -> int:
        return len(self._sig)

    @property
    def _floor_agreements(self) -> float:
        """Signature slots two texts must share to be checked exactly."""
        return (self.config.threshold - self._ESTIMATE_MARGIN) * self.config.num_perm

    # -- adding ------------------------------------------------------------

    def add_many(self, owners: Sequence[int], texts: Sequence[str]) -> None:
        """Register texts without checking them (loading a pool, or after `screen`)."""
        fresh: dict[str, int] = {}
        for o, t in zip(owners, texts):
            k = normalize(t)
            if k and k not in self._keys and k not in fresh:
                fresh[k] = o
        self._keys.update(fresh)
        keep = [(o, k) for k, o in fresh.items()]
        if not keep or not self.near:
            return
        self._merge_tail()
        keys = [k for _, k in keep]
        sigs, sets = sketches(keys, self.config)
        self._add_entries([o for o, _ in keep], keys, sets)
        self._merge(sigs, _band_hashes(sigs, self.bands, self.rows))

    def add(self, owner: int, text: str) -> None:
        self.add_many([owner], [text])

    def _add_entries(self, owners: Sequence[int], keys: Sequence[str], sets: Sequence[np.ndarray]) -> None:
        self._owner.extend(owners)
        self._numbers.extend([hash(numbers(k)) for k in keys])
        self._set_start.extend(self._set_start.view[-1] + np.cumsum([len(x) for x in sets]))
        self._set_flat.extend(np.concatenate(sets))

    def _append(self, owner: int, key: str, sig: np.ndarray, shingle_set: np.ndarray, band_row: np.ndarray) -> None:
        """One entry into the tail (cheap one at a time; merged at the end of a step)."""
        e = len(self._owner)
        self._keys[key] = owner
        self._add_entries([owner], [key], [shingle_set])
        self._tail_sigs[len(self._tail_bands)] = sig
        self._tail_bands.append(band_row)
        for j, h in enumerate(band_row.tolist()):
            self._tail[j].setdefault(h, []).append(e)

    def _merge(self, sigs: np.ndarray, bh: np.ndarray) -> None:
        entries = np.broadcast_to(np.arange(self._merged, self._merged + len(sigs), dtype=np.int64), (self.bands, len(sigs)))
        h = np.concatenate([self._sorted_hash, bh.T], axis=1)
        e = np.concatenate([self._sorted_entry, entries], axis=1)
        order = np.argsort(h, axis=1, kind="stable")
        self._sorted_hash = np.take_along_axis(h, order, axis=1)
        self._sorted_entry = np.take_along_axis(e, order, axis=1)
        self._sig = np.concatenate([self._sig, sigs])

    def _merge_tail(self) -> None:
        if self._tail_bands:
            self._merge(self._tail_sigs[: len(self._tail_bands)].copy(), np.stack(self._tail_bands))
            self._tail_bands = []
            self._tail = [{} for _ in range(self.bands)]

    # -- looking up --------------------------------------------------------

    def _merged_candidates(self, sigs: np.ndarray, bh: np.ndarray) -> list[np.ndarray]:
        """For each query, the merged entries that share a band with it and whose
        estimated similarity is within the margin of the threshold."""
        n, q = self._merged, len(sigs)
        if n == 0:
            return [np.empty(0, dtype=np.int64)] * q
        lo = np.empty((q, self.bands), dtype=np.int64)
        hi = np.empty((q, self.bands), dtype=np.int64)
        for j in range(self.bands):
            lo[:, j] = np.searchsorted(self._sorted_hash[j], bh[:, j], side="left") + j * n
            hi[:, j] = np.searchsorted(self._sorted_hash[j], bh[:, j], side="right") + j * n
        counts = (hi - lo).ravel()
        query = np.repeat(np.repeat(np.arange(q), self.bands), counts)
        entry = self._sorted_entry.ravel()[_ranges(lo.ravel(), counts)]
        pair = np.sort(query * n + entry)
        distinct = np.ones(len(pair), dtype=bool)
        distinct[1:] = pair[1:] != pair[:-1]
        pair = pair[distinct]  # once per (query, entry), however many bands matched
        query, entry = pair // n, pair % n
        keep = np.empty(len(pair), dtype=bool)
        floor = self._floor_agreements
        for b0 in range(0, len(pair), self._PAIRS_PER_BLOCK):
            sl = slice(b0, b0 + self._PAIRS_PER_BLOCK)
            keep[sl] = (sigs[query[sl]] == self._sig[entry[sl]]).sum(axis=1) >= floor
        query, entry = query[keep], entry[keep]
        bounds = np.searchsorted(query, np.arange(q + 1))
        return [entry[bounds[i] : bounds[i + 1]] for i in range(q)]

    def _tail_candidates(self, sig: np.ndarray, band_row: np.ndarray) -> np.ndarray:
        """Tail entries sharing a band with sig, estimated within the margin of the threshold."""
        found: set[int] = set()
        if self._tail_bands:
            for j, h in enumerate(band_row.tolist()):
                hit = self._tail[j].get(h)
                if hit:
                    found.update(hit)
        entries = np.fromiter(found, dtype=np.int64, count=len(found))
        if not found:
            return entries
        return entries[(self._tail_sigs[entries - self._merged] == sig).sum(axis=1) >= self._floor_agreements]

    def _best_near(self, shingle_set: np.ndarray, nums: int, entries: np.ndarray, exclude: int | None) -> tuple[int, float] | None:
        """The most similar candidate owner at or above the threshold, if any."""
        if not len(entries):
            return None
        owners = self._owner.view[entries]
        entries = entries[(self._numbers.view[entries] == nums) & (owners != (-2 if exclude is None else exclude))]
        if not len(entries):
            return None
        start = self._set_start.view
        lengths = start[entries + 1] - start[entries]
        theirs = self._set_flat.view[_ranges(start[entries], lengths)]
        at = np.minimum(np.searchsorted(shingle_set, theirs), len(shingle_set) - 1)
        inter = np.add.reduceat(shingle_set[at] == theirs, np.cumsum(lengths) - lengths)
        sim = inter / (lengths + len(shingle_set) - inter)
        k = int(np.argmax(sim))
        return (int(self._owner.view[entries[k]]), float(sim[k])) if sim[k] >= self.config.threshold else None

    def screen(self, texts: Sequence[str], exclude: int | None = None) -> list[Match | None]:
        """For each text, the duplicate it would be (of the index, or of an earlier text of
        the same batch, then `in_batch` with the batch position as owner), or None when it
        is new.  `exclude` ignores one owner (a prompt compared with its own texts).  The
        index itself is not changed.  Empty texts come back as an exact match of owner -1."""
        batch = DedupIndex(self.config)
        results: list[Match | None] = []
        for i0 in range(0, len(texts), self._STEP):
            keys = [normalize(t) for t in texts[i0 : i0 + self._STEP]]
            if self.near:
                sigs, sets = sketches(keys, self.config)
                bh = _band_hashes(sigs, self.bands, self.rows)
                main = self._merged_candidates(sigs, bh)
                batch_main = batch._merged_candidates(sigs, bh)
            for i, key in enumerate(keys):
                pos = i0 + i
                if not key:
                    results.append(Match("exact", -1, 1.0))
                    continue
                owner = self._keys.get(key)
                if owner is not None and owner != exclude:
                    results.append(Match("exact", owner, 1.0))
                    continue
                if key in batch._keys:
                    results.append(Match("exact", batch._keys[key], 1.0, in_batch=True))
                    continue
                if not self.near:
                    batch._keys[key] = pos
                    results.append(None)
                    continue
                nums = hash(numbers(key))
                hit = self._best_near(sets[i], nums, main[i], exclude)
                if hit is not None:
                    results.append(Match("near", hit[0], hit[1]))
                    continue
                in_batch = np.concatenate([batch_main[i], batch._tail_candidates(sigs[i], bh[i])])
                hit = batch._best_near(sets[i], nums, in_batch, None)
                if hit is not None:
                    results.append(Match("near", hit[0], hit[1], in_batch=True))
                    continue
                batch._append(pos, key, sigs[i], sets[i], bh[i])
                results.append(None)
            batch._merge_tail()
        return results

    def check(self, text: str, exclude: int | None = None) -> Match | None:
        return self.screen([text], exclude=exclude)[0]


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated aranges: starts[i], starts[i]+1, ..., starts[i]+counts[i]-1 for each i."""
    total = int(counts.sum())
    return np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
