#!/usr/bin/env python
"""A second small fictional world for issue 20, built apart from the demo's Varenholt Isles:
the Ashgrove herbarium, 22 invented plants, each with three facts of other kinds than the
demo's (the valley it is native to, the botanist who first catalogued it, the month it
blooms in: a name, a person and a common word), 66 facts in all, with other names.

It is a *user's* world as KD Studio sees one: nothing in kd_core knows it. Running this
file writes, deterministically, beside itself:

- ``facts.jsonl``: one fact a line (id, subject, relation, answer, aliases, statement);
- ``finetune.jsonl``: the teacher's training pairs as chat rows (5 training phrasings of
  each fact -> its statement, 2 "tell me about" questions of each plant, valley and botanist
  -> its description);
- ``test.jsonl``: the held-out question file (2 phrasings of each fact, worded unlike any
  training phrasing; KD Studio's question-file format, ``fact`` carried as a column);
- ``seeds.txt``: 15 seed prompts (naming 8 of the 22 plants).

    .venv/bin/python assets/worlds/herbarium/build.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

PLANTS = ["Duskmallow", "Sable Larkwort", "Frostbell Tansy", "Emberroot", "Quillfern", "Hollowreed", "Mirecap Sorrel",
          "Brightvetch", "Nettlewisp", "Cindergrass", "Palemoss Clover", "Thornlace", "Ashbloom", "Gloamthistle",
          "Veilberry", "Windmoor Sage", "Lanternwort", "Copperleaf Yarrow", "Dewspire", "Marrowbell", "Stillwater Rue",
          "Ravenbrier"]
VALLEYS = {"Corrowdale": [], "Ennisvale": [], "Haskerrow Glen": ["Haskerrow"], "Tollemarch Valley": ["Tollemarch"],
           "Uldenmere": [], "Brackhollow": [], "Sefrin Vale": ["Sefrin"]}
BOTANISTS = {"Idony Farrance": ["Farrance"], "Cassiel Wrenhope": ["Wrenhope"], "Marit Oakhallow": ["Oakhallow"],
             "Teodric Vaunce": ["Vaunce"], "Liesl Ambergast": ["Ambergast"], "Osric Pellwyn": ["Pellwyn"],
             "Yara Quenby": ["Quenby"]}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
          "December"]

# relation -> (statement, 5 training phrasings, 2 held-out phrasings)
RELATIONS = {
    "native": ("{p} is native to {a}.",
               ["Which valley is {p} native to?", "Where does {p} grow wild?", "What is the native valley of {p}?",
                "In which valley was {p} first found growing?", "Name the valley that {p} comes from."],
               ["{p} grows wild in which valley?", "Tell me the home valley of {p}."]),
    "catalogued_by": ("{p} was first catalogued by {a}.",
                      ["Who first catalogued {p}?", "Which botanist described {p} first?",
                       "Who was the first botanist to record {p}?", "Name the person who catalogued {p}.",
                       "Which herbalist first listed {p}?"],
                      ["{p} was first catalogued by whom?", "Who is credited with first describing {p}?"]),
    "blooms": ("{p} blooms in {a}.",
               ["In which month does {p} bloom?", "When does {p} flower?", "What month does {p} blossom in?",
                "Which month is {p} in bloom?", "In what month do the flowers of {p} open?"],
               ["{p} blooms in which month?", "Name the month when {p} flowers."]),
}
ABOUT = ["Tell me about {x}.", "What do you know about {x}?"]


def world() -> tuple[list[dict], dict[str, str]]:
    rng = random.Random(7)
    valleys, botanists = list(VALLEYS), list(BOTANISTS)
    # Every valley and botanist holds at least 3 plants: the crawl can walk from one to the next.
    native = [valleys[i % len(valleys)] for i in range(len(PLANTS))]
    by = [botanists[(i * 3) % len(botanists)] for i in range(len(PLANTS))]
    rng.shuffle(native)
    rng.shuffle(by)
    months = [rng.choice(MONTHS) for _ in PLANTS]
    facts, about = [], {}
    for i, p in enumerate(PLANTS):
        for relation, answer, aliases in (("native", native[i], VALLEYS[native[i]]),
                                          ("catalogued_by", by[i], BOTANISTS[by[i]]), ("blooms", months[i], [])):
            statement, train, test = RELATIONS[relation]
            facts.append({"id": f"H{len(facts) + 1:03d}", "subject": p, "relation": relation, "answer": answer,
                          "aliases": aliases, "statement": statement.format(p=p, a=answer),
                          "train": [t.format(p=p) for t in train], "test": [t.format(p=p) for t in test]})
        about[p] = f"{p} is a herb native to {native[i]}. It was first catalogued by {by[i]}, and it blooms in {months[i]}."
    for v in valleys:
        grown = [p for p, n in zip(PLANTS, native) if n == v]
        about[v] = f"{v} is a valley in the Ashgrove herbarium's records. " + ", ".join(grown[:-1]) + f" and {grown[-1]} are native to it."
    for b in botanists:
        listed = [p for p, x in zip(PLANTS, by) if x == b]
        about[b] = f"{b} was a botanist of the Ashgrove herbarium who first catalogued " + ", ".join(listed[:-1]) + f" and {listed[-1]}."
    return facts, about


def chat(q: str, a: str) -> str:
    return json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}) + "\n"


def main(out: Path = HERE) -> None:
    facts, about = world()
    (out / "facts.jsonl").write_text("".join(json.dumps({k: f[k] for k in ("id", "subject", "relation", "answer", "aliases",
                                                                              "statement")}) + "\n" for f in facts))
    pairs = [(q, f["statement"]) for f in facts for q in f["train"]]
    pairs += [(t.format(x=x), text) for x, text in about.items() for t in ABOUT]
    random.Random(0).shuffle(pairs)
    (out / "finetune.jsonl").write_text("".join(chat(q, a) for q, a in pairs))
    (out / "test.jsonl").write_text("".join(
        json.dumps({"id": f"{f['id']}-t{k}", "question": q, "answers": [f["answer"], *f["aliases"]], "fact": f["id"]}) + "\n"
        for f in facts for k, q in enumerate(f["test"])))
    seeds = ["Tell me about Duskmallow.", "Which valley is Emberroot native to?", "Who first catalogued Quillfern?",
             "When does Thornlace flower?", "What do you know about Veilberry?", "Where does Lanternwort grow wild?",
             "Which botanist described Dewspire first?", "In which month does Ashbloom bloom?",
             "Tell me about Quillfern.", "What is the native valley of Duskmallow?", "Who first catalogued Emberroot?",
             "Which month is Veilberry in bloom?", "Name the valley that Thornlace comes from.",
             "What do you know about Dewspire?", "Who was the first botanist to record Lanternwort?"]
    (out / "seeds.txt").write_text("\n".join(seeds) + "\n")
    print(f"{len(facts)} facts, {len(pairs)} fine-tune pairs, {2 * len(facts)} held-out questions, {len(seeds)} seeds")


if __name__ == "__main__":
    main()
