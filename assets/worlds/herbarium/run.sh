#!/bin/bash
# Issue 20: the demo's best TuneShift recipe, unchanged, on a second world (the Ashgrove herbarium,
# built by build.py beside this file: 66 facts of other kinds and names than the demo's).
# 1. The teacher: SmolLM2-135M-Instruct + a LoRA trained the way the demo's adapter was
#    (finetune.jsonl + the demo's 160 replay rows, 4 epochs, lr 1.5e-3, batch 16, r16/alpha 32),
#    then graded on the 132 held-out questions (test.jsonl) with and without its LoRA.
# 2. The recipe: recipes/demo-tuneshift-quiz.yaml with only the world's inputs swapped (this
#    teacher, seeds.txt, test.jsonl) and its best recorded arm's epochs (8; the arm the README's
#    study table calls the previous best). The report counts carried questions by the rule for any
#    question set (kd_core/evaluation/coverage.py): no code here knows this world.
# Each step resumes: run it again after an interruption. About 90 minutes on 2 CPU cores.
set -e
cd "$(dirname "$0")/../../.."  # the repository root
P=${1:-/tmp/herbarium}
K=.venv/bin/kd-studio
W=$(pwd)/assets/worlds/herbarium
mkdir -p $P
.venv/bin/python - "$P" <<'PY'
import json, sys
from pathlib import Path
rows = Path("assets/worlds/herbarium/finetune.jsonl").read_text().splitlines()
for line in Path("assets/demo/replay.jsonl").read_text().splitlines():
    r = json.loads(line)
    rows.append(json.dumps({"messages": [{"role": "user", "content": r["prompt"]},
                                         {"role": "assistant", "content": r["response"]}]}))
Path(sys.argv[1], "teacher.jsonl").write_text("\n".join(rows) + "\n")
PY
cat > $P/teacher.yaml <<YAML
name: "herbarium teacher: finetune.jsonl + demo replay, 4 epochs"
student: {name: "demo:smollm2-135m-instruct"}
data: $P/teacher.jsonl
train: {loss: sft, epochs: 4, learning_rate: 1.5e-3, batch_size: 16, lora: {r: 16, alpha: 32}, seed: 0, save_steps: 0}
YAML
[ -f $P/jobs/teacher/adapter/adapter_config.json ] || \
  ( rm -rf $P/jobs/teacher; time $K train $P/teacher.yaml --project $P --job-id teacher ) 2>&1 | grep -v -i "warn\|forward_call\|kernels" | tail -4
for role in teacher base; do
  ADAPTER=$([ $role = teacher ] && echo "--adapter $P/jobs/teacher/adapter" || true)
  [ -f $P/eval/$role-test/summary.json ] || ( time $K eval --role target --target demo:smollm2-135m-instruct $ADAPTER \
      --questions $W/test.jsonl --max-new-tokens 48 --out $P/eval/$role-test ) 2>&1 | tail -3
done
sed -e "s#name: demo-tuneshift-quiz#name: herbarium-tuneshift-quiz#" \
    -e "s#adapter: ../assets/demo/adapter#adapter: $P/jobs/teacher/adapter#" \
    -e "s#seeds: demo:seeds .*#seeds: $W/seeds.txt#" \
    -e "s#questions: demo:test .*#questions: $W/test.jsonl#" \
    -e "s#    epochs: 4#    epochs: 8#" \
    -e "/smollm2-135m: demo:smollm2-135m-instruct/d" -e "/name: smollm2-135m, target/d" \
    recipes/demo-tuneshift-quiz.yaml > $P/recipe.yaml
diff recipes/demo-tuneshift-quiz.yaml $P/recipe.yaml || true  # what changed: the world's inputs and the epochs
( time $K run $P/recipe.yaml --project $P/tuneshift ) 2>&1 | grep -v -i "warn\|forward_call\|kernels" | tail -20
grep -h '"correct"' $P/eval/*/summary.json $P/tuneshift/eval/*/summary.json 2>/dev/null || true
