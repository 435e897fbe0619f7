"""The oracle arm's data (issue 20): the demo fine-tune's own domain training pairs (every
training phrasing of each fact -> its statement, every about-question -> its answer), the
data the method assumes is not available; and a size-matched draw of as many pairs as the
method's best arm trained on (208). Written as the chat rows `kd-studio train` reads."""

import json
import random
import sys
from pathlib import Path

from kd_core.demo import world

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
pairs = [(q, f.statement) for f in world.facts() for q in f.train]
pairs += [(q, a["answer"]) for a in world.about() for q in a["questions"]]
random.Random(0).shuffle(pairs)
rows = lambda ps: "".join(json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}) + "\n" for q, a in ps)  # noqa: E731
(out / "oracle-full.jsonl").write_text(rows(pairs))
(out / "oracle-208.jsonl").write_text(rows(random.Random(1).sample(pairs, 208)))
print(len(pairs), "pairs; 208 drawn")
