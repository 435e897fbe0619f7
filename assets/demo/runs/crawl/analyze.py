"""The coverage crawl (run.sh beside this file): after each round, the accepted prompts, the
world's facts their pairs carry (kd_core.demo.world.facts_stated: a pair names the fact's
subject and the fine-tuned answer holds its gold answer), the facts new in that round, and
the round log's new high-gap names (kd_core.tuneshift.expansion.names_by_round).

    .venv/bin/python assets/demo/runs/crawl/analyze.py [/tmp/crawl]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))  # the repository root
from kd_core.demo.world import facts, facts_stated  # noqa: E402
from kd_core.tuneshift.expansion import round_history  # noqa: E402
from kd_core.tuneshift.pool import Pool, PoolFilter  # noqa: E402

P = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/crawl")
with Pool(P / "root/demo", create=False) as pool:
    rows = pool.query(PoolFilter(states="accepted"), order="id")
    log = {h["round"]: h for h in round_history(pool)}
total = len(facts())
print("| round | generators | accepted prompts added | accepted in all | facts carried | new facts | new high-gap names |")
print("| --- | --- | --- | --- | --- | --- | --- |")
carried: set[str] = set()
for r in sorted(rows["round"].unique()):
    part = rows[rows["round"] == r]
    new = set().union(*(facts_stated(t, a or "") for t, a in zip(part["text"], part["response"]))) - carried
    carried |= new
    h = log.get(int(r), {})
    print(f"| {r} | {', '.join(sorted(part['source'].unique()))} | {len(part)} | {int((rows['round'] <= r).sum())} | "
          f"{len(carried)}/{total} | {len(new)} | {h.get('new_names', '-')} |")
last = max(log) if log else None
if last is not None and log[last].get("new_names") == 0:
    print(f"\nstopped after round {last}: it reached no new high-gap name")
