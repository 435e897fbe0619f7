"""Does the fine-tuned model answer its own sentences asked the other way round? For every
prompt the reverse generator added (run.sh beside this file), find the sentence of its parent
answer it was made from and that sentence's subject (a pronoun stands for the subject of the
answer's first sentence), and check whether the answer names that subject: the fact the
question was built to carry. Writes reversed.jsonl (one row a prompt) beside this file and
prints the counts.

    .venv/bin/python assets/demo/runs/reverse/analyze.py [/tmp/reverse]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))  # the repository root
from kd_core.data.files import jsonl_text, write_atomic  # noqa: E402
from kd_core.tuneshift.generators import _NAME, _SENTENCE_END, reverse_questions  # noqa: E402
from kd_core.tuneshift.pool import Pool  # noqa: E402

P = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/reverse")


def subject_of(question: str, answer: str) -> str | None:
    """The subject of the sentence of `answer` that `question` asks the other way round."""
    first = None
    for sentence in _SENTENCE_END.split(answer.strip()):
        sentence = sentence.strip().rstrip(".!").strip()
        body = sentence[4:] if sentence.startswith("The ") else sentence
        name = _NAME.match(body)
        first = first or (name.group(0) if name else None)
        for made in reverse_questions(sentence + ".", [w for w in _NAME.findall(sentence)] or [sentence]):
            if made == question:
                word = sentence.split(" ", 1)[0].lower()
                return first if word in ("he", "she", "it") else (name.group(0) if name else None)
    return None


def main() -> None:
    pool = Pool(P / "root/demo")
    rows = pool.query()
    by_id = {int(r.id): r for r in rows.itertuples()}
    out = []
    for r in rows.itertuples():
        if r.source != "reverse":
            continue
        parent = by_id[int(r.parent_ids[0])]
        subject = subject_of(r.text, parent.response or "")
        out.append({"prompt": r.text, "round": int(r.round), "accepted": r.state == "accepted",
                    "from": parent.text, "subject": subject, "answer": r.response,
                    "names_subject": bool(subject) and subject.lower() in (r.response or "").lower()})
    write_atomic(Path(__file__).with_name("reversed.jsonl"), jsonl_text(out))
    found = [o for o in out if o["subject"]]
    named = sum(o["names_subject"] for o in found)
    accepted = [o for o in found if o["accepted"]]
    print(f"{len(out)} reversed prompts; subject found for {len(found)}; the answer names it in {named} "
          f"({named / max(1, len(found)):.0%}); of the {len(accepted)} accepted, {sum(o['names_subject'] for o in accepted)}")


if __name__ == "__main__":
    main()
