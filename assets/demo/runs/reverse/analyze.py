"""Does the fine-tuned model answer its own sentences asked the other way round? For every
prompt the reverse generator added (run.sh beside this file), the subject it asks for is the
one the generator made it from (kd_core/tuneshift/generators.py, reverse_pairs, over the parent
answer and its high-gap names, as ReverseGenerator reads them); check whether the answer names
that subject: the fact the question was built to carry. Writes reversed.jsonl (one row a
prompt) beside this file and prints the counts.

    .venv/bin/python assets/demo/runs/reverse/analyze.py [/tmp/reverse]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))  # the repository root
from kd_core.data.files import jsonl_text, write_atomic  # noqa: E402
from kd_core.tuneshift.expansion import exemplars  # noqa: E402
from kd_core.tuneshift.generators import ReverseGenerator, gap_spans, reverse_pairs  # noqa: E402
from kd_core.tuneshift.pool import Pool  # noqa: E402

P = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/reverse")


def main() -> None:
    pool = Pool(P / "root/demo")
    min_gap = ReverseGenerator().min_gap
    subjects = {e.id: dict(reverse_pairs(e.response, [s for s, _ in gap_spans(e.tokens, e.token_gaps, min_gap)]))
                for e in exemplars(pool)}
    rows = pool.query()
    by_id = {int(r.id): r for r in rows.itertuples()}
    out = []
    for r in rows.itertuples():
        if r.source != "reverse":
            continue
        parent = int(r.parent_ids[0])
        subject = subjects.get(parent, {}).get(r.text)
        name = subject[4:] if subject and subject.startswith("The ") else subject  # answers drop the article as often as not
        out.append({"prompt": r.text, "round": int(r.round), "accepted": r.state == "accepted",
                    "from": by_id[parent].text, "subject": subject, "answer": r.response,
                    "names_subject": bool(name) and name.lower() in (r.response or "").lower()})
    write_atomic(Path(__file__).with_name("reversed.jsonl"), jsonl_text(out))
    found = [o for o in out if o["subject"]]
    named = sum(o["names_subject"] for o in found)
    accepted = [o for o in found if o["accepted"]]
    print(f"{len(out)} reversed prompts; subject found for {len(found)}; the answer names it in {named} "
          f"({named / max(1, len(found)):.0%}); of the {len(accepted)} accepted, {sum(o['names_subject'] for o in accepted)}")


if __name__ == "__main__":
    main()
