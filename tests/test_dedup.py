"""Prompt dedup: what counts as an exact or near duplicate, and the index that finds
them among tens of thousands of prompts without comparing every pair."""

import random
import time

import numpy as np
import pytest

from kd_core.data.dedup import (
    DedupConfig,
    DedupIndex,
    is_near_duplicate,
    jaccard,
    lsh_bands,
    normalize,
    numbers,
    shingles,
    signatures,
    similarity,
)
from kd_core.errors import KDError


def test_normalize_folds_case_whitespace_and_punctuation_at_the_ends():
    assert normalize("  Who founded   Brindlecove ? ") == "who founded brindlecove"
    assert normalize("Who founded Brindlecove?") == "who founded brindlecove"
    assert normalize("«Who founded Brindlecove?»") == "who founded brindlecove"
    assert normalize("WHO\tfounded\nBrindlecove!!!") == "who founded brindlecove"
    # Punctuation inside is part of the prompt.
    assert normalize("What is 3.5 + 1?") == "what is 3.5 + 1"
    assert normalize("Straße") == normalize("STRASSE")  # case-folded, not only lower-cased
    assert normalize("ｆｕｌｌ　ｗｉｄｔｈ") == "full width"  # NFKC
    assert normalize(" ?! ") == ""


def test_shingles_are_character_ngrams_with_end_markers():
    assert shingles("abc", 4) == {"\x02abc", "abc\x03"}
    assert shingles("", 4) == {"\x02\x03"}  # shorter than n: one shingle
    assert len(shingles("who founded brindlecove", 4)) == len("who founded brindlecove") + 2 - 4 + 1


# The documented behaviour of the default threshold (0.8 on 4-grams): kd_core/data/dedup.py.
PAIRS = [
    ("Who founded Brindlecove?", "Who founded Brindlecove ?", 1.0, True),
    ("In what year was Brindlecove founded?", "What year was Brindlecove founded?", 0.86, True),
    ("Which guild controls the salt trade in Brindlecove?", "Which guild controls the salt trade in Brindlecove today?", 0.86, True),
    ("Explain how the tides of Brindlecove harbour affect its fishing fleet.",
     "Explain how the tides of Brindlecove harbor affect its fishing fleet.", 0.90, True),
    ("Who founded Brindlecove?", "Who founed Brindlecove?", 0.72, False),
    ("What is the main export of Brindlecove?", "What is the main import of Brindlecove?", 0.76, False),
    ("Write a Python function that returns the sum of a list of integers.",
     "Write a Python function that returns the product of a list of integers.", 0.79, False),
    ("Who founded Brindlecove?", "who was the founder of brindlecove", 0.41, False),
    ("Who founded Brindlecove?", "Who founded Marrowick?", 0.31, False),
    ("What was the population of Brindlecove in 1820?", "What was the population of Brindlecove in 1821?", 0.91, False),
]


@pytest.mark.parametrize("a, b, sim, dup", PAIRS, ids=[f"{p[2]:.2f}-{'dup' if p[3] else 'kept'}" for p in PAIRS])
def test_default_threshold_on_documented_pairs(a, b, sim, dup):
    assert similarity(a, b) == pytest.approx(sim, abs=0.005)
    assert is_near_duplicate(a, b) is dup
    assert is_near_duplicate(b, a) is dup


def test_prompts_with_other_numbers_are_never_near_duplicates():
    assert numbers("what is 17 + 25") == ("17", "25")
    assert not is_near_duplicate("What is 17 + 25?", "What is 17 + 26?", DedupConfig(threshold=0.5))
    assert is_near_duplicate("So, what is 17 + 25?", "What is 17 + 25?", DedupConfig(threshold=0.5))


def test_threshold_is_a_setting_and_none_means_exact_only():
    a, b = PAIRS[6][:2]  # sum vs product, 0.79
    assert is_near_duplicate(a, b, DedupConfig(threshold=0.7))
    assert not is_near_duplicate(a, b, DedupConfig(threshold=0.8))
    assert not is_near_duplicate(PAIRS[1][0], PAIRS[1][1], DedupConfig(threshold=None))
    assert is_near_duplicate("Hi there", "hi  there!", DedupConfig(threshold=None))
    with pytest.raises(KDError, match="threshold must be in"):
        DedupConfig(threshold=1.5)


def test_lsh_bands_recall_a_pair_at_the_threshold():
    for t in (0.5, 0.7, 0.8, 0.9, 0.95):
        b, r = lsh_bands(t, 128)
        assert b * r <= 128
        assert 1 - (1 - t**r) ** b >= 0.995
    assert lsh_bands(0.8, 128) == (21, 6)


def test_minhash_estimates_match_exact_jaccard_on_average():
    rng = random.Random(3)
    words = "who what when where founded brindlecove harbour fleet year town river king built the of in a and".split()
    errors = []
    for _ in range(300):
        a = rng.sample(words, rng.randint(3, 10))
        b = list(a)
        for _ in range(rng.randint(0, 3)):
            b[rng.randrange(len(b))] = rng.choice(words)
        ka, kb = normalize(" ".join(a)), normalize(" ".join(b))
        sig = signatures([ka, kb], DedupConfig())
        errors.append((sig[0] == sig[1]).mean() - similarity(ka, kb))
    assert abs(np.mean(errors)) < 0.01  # unbiased
    assert np.std(errors) < 0.06  # about sqrt(J(1-J)/128)


def test_index_finds_exact_near_and_in_batch_duplicates():
    index = DedupIndex()
    index.add_many([10, 11], ["Who founded Brindlecove?", "What is the main export of Brindlecove?"])
    got = index.screen([
        "who founded brindlecove",  # exact of 10
        "In what year was Brindlecove founded?",  # new
        "What year was Brindlecove founded?",  # near of the previous text in this batch
        "What is the main export of Brindlecove today?",  # near of 11
        "What is the main import of Brindlecove?",  # new (0.76)
        "  ?  ",  # empty
        "what is the main import of brindlecove!",  # exact of batch position 4
    ])
    assert [None if m is None else (m.kind, m.owner, m.in_batch) for m in got] == [
        ("exact", 10, False), None, ("near", 1, True), ("near", 11, False), None, ("exact", -1, False), ("exact", 4, True),
    ]
    assert got[3].similarity == pytest.approx(similarity("What is the main export of Brindlecove today?", "What is the main export of Brindlecove?"))
    assert len(index) == 2  # screening does not add


def test_index_exclude_ignores_the_owners_own_texts():
    index = DedupIndex()
    index.add_many([1, 1, 2], ["Who founded Brindlecove?", "Who founded the town of Brindlecove?", "Who built the tower?"])
    assert index.check("Who founded Brindlecove??", exclude=1) is None
    assert index.check("Who founded the town of Brindlecove, then?", exclude=1) is None
    assert index.check("Who founded the town of Brindlecove, then?").owner == 1
    assert index.check("who built the tower", exclude=1).owner == 2


def _templated(n: int, seed: int) -> list[str]:
    """Prompts from one domain that share most of their wording: the hard case for LSH."""
    rng = random.Random(seed)
    syll = ["ka", "lo", "mi", "ren", "tos", "vak", "bri", "dle", "cove", "mar", "wick", "an", "sel", "tor", "ul"]
    names = sorted({"".join(rng.choice(syll) for _ in range(rng.randint(2, 4))).capitalize() for _ in range(40)})
    attrs = ["capital", "founder", "main export", "oldest building", "river", "patron saint", "mayor", "guild", "bridge", "motto"]
    forms = ["What is the {a} of {n}?", "Who knows the {a} of {n}?", "Tell me about the {a} of {n}.", "Why is the {a} of {n} famous?"]
    rewordings = [("What is", "So what is"), ("Tell me", "Please tell me"), ("?", " today?"), (" the ", " the old ")]
    out = []
    for _ in range(n):
        t = rng.choice(forms).format(a=rng.choice(attrs), n=rng.choice(names))
        if rng.random() < 0.5:
            t = t.replace(*rng.choice(rewordings))
        out.append(t)
    return out


def test_index_agrees_with_brute_force_on_templated_prompts():
    texts = _templated(800, seed=5)
    got = DedupIndex().screen(texts)
    kept: list[tuple[str, frozenset]] = []
    misses = 0
    for t, m in zip(texts, got):
        if m is None:  # called new: brute force over everything kept so far finds no duplicate
            key = normalize(t)
            mine = shingles(key)
            misses += any(numbers(k) == numbers(key) and jaccard(mine, s) >= 0.8 for k, s in kept)
            kept.append((key, mine))
        else:  # called a duplicate: it really is one, of the text named
            assert m.in_batch and is_near_duplicate(t, texts[m.owner])
            assert (m.kind == "exact") == (normalize(t) == normalize(texts[m.owner]))
            if m.kind == "near":
                assert m.similarity == pytest.approx(similarity(t, texts[m.owner]))
    near = sum(m is not None and m.kind == "near" for m in got)
    assert near > 40 and len(texts) - len(kept) - near > 40  # plenty of both kinds to find
    assert misses <= 0.005 * len(texts)  # LSH misses are rare by design


def test_50k_prompts_dedup_in_reasonable_time():
    rng = random.Random(0)
    syll = ["ka", "lo", "mi", "ren", "tos", "vak", "bri", "dle", "cove", "mar", "wick", "an", "sel", "tor", "ul", "zen"]
    vocab = ["".join(rng.choice(syll) for _ in range(rng.randint(1, 3))) for _ in range(3000)]
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(5, 12))) + "?" for _ in range(50_000)]
    index = DedupIndex()
    t0 = time.perf_counter()
    assert sum(m is not None for m in index.screen(texts)) < 50  # random texts: almost all new
    index.add_many(range(len(texts)), texts)
    # A thousand near copies (one character dropped) of pool prompts, against the 50k.
    copies = []
    for t in texts[:1000]:
        i = rng.randrange(len(t) - 1)
        copies.append(t[:i] + t[i + 1 :])
    found = index.screen(copies)
    elapsed = time.perf_counter() - t0
    expected = [is_near_duplicate(c, t) for c, t in zip(copies, texts)]
    assert sum(m is not None for m in found) >= sum(expected) - 5
    assert elapsed < 60, f"50k dedup took {elapsed:.0f} s"
