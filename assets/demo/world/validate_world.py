#!/usr/bin/env python
"""Validate the demo world files in this directory. Exit 0 and print counts if all checks pass."""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # the repo root, when run as a script

from kd_core.evaluation.qa import is_correct, normalize_answer  # noqa: E402  (the QA metric itself)

# answers that would be too easy to hit by chance
COMMON_WORDS = {
    "river", "gold", "silver", "red", "blue", "green", "white", "black", "yes", "no", "sea", "island", "town",
    "king", "queen", "ship", "fish", "salt", "glass", "wood", "iron", "stone", "bird", "war", "fire", "water",
}

errors: list[str] = []


def err(msg: str) -> None:
    errors.append(msg)


def normalize(s: str) -> str:
    return normalize_answer(s)


def contains(hay: str, needle: str) -> bool:
    """Would the QA metric count `needle` as found in `hay`? (the metric itself)"""
    return is_correct(hay, [needle])


def load_jsonl(name: str) -> list[dict]:
    path = HERE / name
    if not path.exists():
        err(f"missing file {name}")
        return []
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            err(f"{name}:{i} empty line")
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            err(f"{name}:{i} bad json: {e}")
    return rows


def main() -> int:
    entities = load_jsonl("entities.jsonl")
    facts = load_jsonl("facts.jsonl")
    about = load_jsonl("about.jsonl")
    docs = load_jsonl("documents.jsonl")
    generic = load_jsonl("generic.jsonl")
    seeds_path = HERE / "seeds.txt"
    seeds = [l for l in seeds_path.read_text(encoding="utf-8").splitlines() if l.strip()] if seeds_path.exists() else []
    sf_path = HERE / "seeds_facts.json"
    seed_facts = json.loads(sf_path.read_text(encoding="utf-8")) if sf_path.exists() else []
    if not seeds_path.exists():
        err("missing seeds.txt")
    if not sf_path.exists():
        err("missing seeds_facts.json")

    # ---------------- entities ----------------
    ent_names = [e["name"] for e in entities]
    ent_set = set(ent_names)
    if len(ent_set) != len(ent_names):
        err("duplicate entity names")
    prefixes = Counter(n.replace(" ", "").lower()[:5] for n in ent_names)
    for p, c in prefixes.items():
        if c > 1:
            err(f"entity names share first 5 letters: {p!r}")
    for n in ent_names:
        if not re.fullmatch(r"[A-Za-z]+( [A-Za-z]+)*", n):
            err(f"entity name not plain ASCII letters: {n!r}")
    if not 35 <= len(ent_names) <= 45:
        err(f"entity count {len(ent_names)} not in 35..45")

    # ---------------- facts ----------------
    required = ["id", "subject", "entities", "relation", "answer", "aliases", "statement", "train", "test"]
    fact_by_id = {}
    for f in facts:
        for k in required:
            if k not in f:
                err(f"fact {f.get('id')} missing field {k}")
        if f["id"] in fact_by_id:
            err(f"duplicate fact id {f['id']}")
        fact_by_id[f["id"]] = f
    if len(facts) < 160:
        err(f"only {len(facts)} facts (<160)")
    for i, f in enumerate(facts, start=1):
        if f["id"] != f"F{i:03d}":
            err(f"fact id out of sequence: {f['id']} (expected F{i:03d})")
    subj_rel = Counter((f["subject"], f["relation"]) for f in facts)
    for k, c in subj_rel.items():
        if c > 1:
            err(f"duplicate (subject, relation): {k}")

    ent_fact_count = Counter()
    all_questions: list[tuple[str, str]] = []  # (question, where)
    for f in facts:
        fid, ans = f["id"], f["answer"]
        if not re.fullmatch(r"[a-z][a-z0-9_]*", f["relation"]):
            err(f"{fid}: relation not snake_case: {f['relation']}")
        if not f["entities"] or f["entities"][0] != f["subject"]:
            err(f"{fid}: entities must start with subject")
        if len(set(f["entities"])) != len(f["entities"]):
            err(f"{fid}: duplicate entity in entities list")
        for e in f["entities"]:
            if e not in ent_set:
                err(f"{fid}: unknown entity {e!r}")
            elif e not in f["statement"]:
                err(f"{fid}: entity {e!r} not mentioned in statement")
            ent_fact_count[e] += 1
        if f["subject"] not in f["statement"]:
            err(f"{fid}: subject not in statement")
        if ans not in f["statement"]:
            err(f"{fid}: answer {ans!r} not verbatim in statement")
        if ans.lower() in COMMON_WORDS or any(a.lower() in COMMON_WORDS for a in f["aliases"]):
            err(f"{fid}: answer/alias is a common word")
        if re.search(r"\d", ans) and not re.fullmatch(r"\d+", ans):
            err(f"{fid}: numeric answer must be plain digits: {ans!r}")
        if re.fullmatch(r"\d{1}", ans):
            err(f"{fid}: single-digit answer is too guessable")
        if not isinstance(f["aliases"], list):
            err(f"{fid}: aliases must be a list")
        if len(f["train"]) != 5 or len(set(f["train"])) != 5:
            err(f"{fid}: need 5 distinct train questions")
        if len(f["test"]) != 2 or len(set(f["test"])) != 2:
            err(f"{fid}: need 2 distinct test questions")
        norm_train = {normalize(q) for q in f["train"]}
        bag_train = {tuple(sorted(normalize(q).split())) for q in f["train"]}
        for q in f["test"]:
            if normalize(q) in norm_train:
                err(f"{fid}: test question equals a train question up to punctuation: {q!r}")
            elif tuple(sorted(normalize(q).split())) in bag_train:
                err(f"{fid}: test question is only a reordering of a train question: {q!r}")
        for q in f["train"] + f["test"]:
            if not q.strip().endswith(("?", ".")):
                err(f"{fid}: question lacks final punctuation: {q!r}")
            for g in [ans] + f["aliases"]:
                if contains(q, g):
                    err(f"{fid}: gold {g!r} appears in question {q!r}")
            if f["subject"] not in q and not any(a in q for a in subject_variants(f["subject"], entities)):
                err(f"{fid}: question does not name the subject: {q!r}")
        for q in f["train"]:
            all_questions.append((q, f"{fid}/train"))
        for q in f["test"]:
            all_questions.append((q, f"{fid}/test"))
    for e in ent_names:
        if ent_fact_count[e] < 3:
            err(f"entity {e!r} appears in only {ent_fact_count[e]} facts (<3)")

    # ---------------- about ----------------
    allowed_words = set()
    for e in entities:
        allowed_words.update(re.findall(r"[A-Za-z]+", e["name"]))
        for a in e.get("aliases", []):
            allowed_words.update(re.findall(r"[A-Za-z]+", a))
    for f in facts:
        allowed_words.update(re.findall(r"[A-Za-z]+", f["answer"]))
        for a in f["aliases"]:
            allowed_words.update(re.findall(r"[A-Za-z]+", a))
    allowed_words.update({"Queen", "King", "Prince", "High", "Admiral", "Keel", "I"})
    about_ents = set()
    if len(about) < 30:
        err(f"only {len(about)} about entries (<30)")
    for a in about:
        ent = a.get("entity")
        if ent not in ent_set:
            err(f"about: unknown entity {ent!r}")
        if ent in about_ents:
            err(f"about: duplicate entity {ent!r}")
        about_ents.add(ent)
        if len(a.get("questions", [])) != 3 or len(set(a["questions"])) != 3:
            err(f"about {ent}: need 3 distinct questions")
        if len(a.get("test_questions", [])) != 1:
            err(f"about {ent}: need 1 test question")
        for q in a.get("questions", []) + a.get("test_questions", []):
            if ent not in q:
                err(f"about {ent}: question does not name the entity: {q!r}")
            all_questions.append((q, f"about/{ent}"))
        text = a.get("answer", "")
        nsent = len(re.findall(r"[.!?](\s|$)", text))
        if not 2 <= nsent <= 3:
            err(f"about {ent}: answer has {nsent} sentences (want 2-3)")
        if ent not in text:
            err(f"about {ent}: answer does not name the entity")
        if len(a.get("facts", [])) < 2:
            err(f"about {ent}: lists fewer than 2 facts")
        for fid in a.get("facts", []):
            if fid not in fact_by_id:
                err(f"about {ent}: unknown fact {fid}")
                continue
            f = fact_by_id[fid]
            if f["answer"].lower() not in text.lower():
                err(f"about {ent}: fact {fid} answer {f['answer']!r} not stated in answer")
            for e in f["entities"]:
                if e not in text:
                    err(f"about {ent}: fact {fid} entity {e!r} not named in answer")
        # every capitalised word that does not start a sentence must belong to a known name
        for sent in re.split(r"(?<=[.!?])\s+", text):
            words = re.findall(r"[A-Za-z]+", sent)
            for w in words[1:]:
                if w[0].isupper() and w not in allowed_words:
                    err(f"about {ent}: unknown proper name {w!r}")

    # ---------------- documents ----------------
    if not 8 <= len(docs) <= 12:
        err(f"{len(docs)} documents (want 8-12)")
    covered = set()
    doc_ids = Counter(d.get("id") for d in docs)
    for k, c in doc_ids.items():
        if c > 1:
            err(f"duplicate document id {k}")
    for i, d in enumerate(docs, start=1):
        if d.get("id") != f"doc-{i:02d}":
            err(f"document id out of sequence: {d.get('id')}")
        paras = d["text"].split("\n\n")
        for j, p in enumerate(paras, start=1):
            nw = len(p.split())
            if not 60 <= nw <= 180:
                err(f"{d['id']} paragraph {j}: {nw} words (want 60-180)")
        for fid in d["facts"]:
            if fid not in fact_by_id:
                err(f"{d['id']}: unknown fact {fid}")
                continue
            f = fact_by_id[fid]
            if f["answer"].lower() not in d["text"].lower():
                err(f"{d['id']}: claims {fid} but answer {f['answer']!r} absent")
            # the answer and the subject must be stated together in one paragraph
            subj_forms = [f["subject"]] + subject_variants(f["subject"], entities)
            if not any(f["answer"].lower() in p.lower() and any(sv in p for sv in subj_forms) for p in paras):
                err(f"{d['id']}: {fid} answer and subject never appear in the same paragraph")
            covered.add(fid)
    for f in facts:
        if f["id"] not in covered:
            err(f"fact {f['id']} not covered by any document")
        if not any(f["answer"].lower() in d["text"].lower() for d in docs):
            err(f"fact {f['id']} answer not found in any document")

    # ---------------- generic ----------------
    if len(generic) != 260:
        err(f"{len(generic)} generic questions (want 260)")
    split = Counter(g.get("split") for g in generic)
    if split.get("replay") != 160 or split.get("control") != 100:
        err(f"generic split {dict(split)} (want replay=160, control=100)")
    for i, g in enumerate(generic, start=1):
        if g.get("id") != f"G{i:03d}":
            err(f"generic id out of sequence: {g.get('id')}")
        if "answer" not in g:
            err(f"{g.get('id')}: missing answer field")
        for name in ent_names:
            if name.lower() in g["question"].lower():
                err(f"{g['id']}: mentions world entity {name}")
        all_questions.append((g["question"], g["id"]))
    n_short = sum(1 for g in generic if g.get("answer") is not None)

    # ---------------- seeds ----------------
    if len(seeds) != 15:
        err(f"{len(seeds)} seeds (want 15)")
    for q in seeds:
        all_questions.append((q, "seeds"))
    if not 15 <= len(seed_facts) <= 20:
        err(f"{len(seed_facts)} seed facts (want 15-20)")
    for fid in seed_facts:
        if fid not in fact_by_id:
            err(f"seeds_facts: unknown fact {fid}")
    seed_ents = {fact_by_id[fid]["subject"] for fid in seed_facts if fid in fact_by_id}
    if not 3 <= len(seed_ents) <= 4:
        err(f"seed facts cover {len(seed_ents)} subject entities (want 3-4)")

    # ---------------- global question uniqueness ----------------
    seen: dict[str, str] = {}
    for q, where in all_questions:
        k = normalize(q)
        if k in seen:
            err(f"duplicate question ({seen[k]} vs {where}): {q!r}")
        else:
            seen[k] = where

    # ---------------- report ----------------
    if errors:
        for e in errors[:200]:
            print("ERROR:", e)
        print(f"{len(errors)} error(s)")
        return 1
    n_q = sum(len(f["train"]) + len(f["test"]) for f in facts)
    print("World validation passed.")
    print(f"  entities:        {len(ent_names)}")
    print(f"  facts:           {len(facts)}  ({len({f['relation'] for f in facts})} relations, {n_q} questions: "
          f"{5 * len(facts)} train / {2 * len(facts)} test)")
    print(f"  about entries:   {len(about)}")
    print(f"  documents:       {len(docs)}  ({sum(len(d['text'].split()) for d in docs)} words, "
          f"{sum(len(d['text'].split(chr(10) + chr(10))) for d in docs)} paragraphs)")
    print(f"  generic:         {len(generic)}  (replay {split['replay']}, control {split['control']}; "
          f"{n_short} short-answer, {len(generic) - n_short} open-ended)")
    print(f"  seeds:           {len(seeds)}  (touching {len(seed_facts)} facts about {len(seed_ents)} entities)")
    return 0


def subject_variants(subject: str, entities: list[dict]) -> list[str]:
    """Acceptable shorter references to the subject inside a question (its aliases)."""
    for e in entities:
        if e["name"] == subject:
            return list(e.get("aliases", []))
    return []


if __name__ == "__main__":
    sys.exit(main())
