"""The KD training file of experiment B: the SFT answers (sampled at T=0.25) with the
teacher prompts (chunk + question) of the same questions from the recorded run.

    python make_data.py /tmp/pdrun/demo-pd /tmp/pdrun/expB/train-kd-on-sft-answers.jsonl
"""
import json
import sys
from pathlib import Path

project, out = Path(sys.argv[1]), Path(sys.argv[2])
kd = [json.loads(line) for line in (project / "pd" / "train-kd.jsonl").read_text().splitlines()]
sft = [json.loads(line) for line in (project / "pd" / "train-sft.jsonl").read_text().splitlines()]
teacher = {r["prompt"]: r["teacher_prompt"] for r in kd}
out.parent.mkdir(parents=True, exist_ok=True)
with open(out, "w") as f:
    for r in sft:
        f.write(json.dumps({**r, "teacher_prompt": teacher[r["prompt"]]}) + "\n")
