#!/bin/bash
# Issue 20, lever 3 (coverage): keep crawling while rounds still reach new high-gap names.
# Start from the demo project (the replay run's 254 accepted prompts in rounds 0-4, 152 of the
# 198 facts carried: kd_core/demo/project.py) and run crawl rounds alone (questions about the
# names in high-gap answers that the base model could not predict; no writer model), answered by
# the fine-tuned SmolLM2, gap-filtered at log-ratio 1.0 and auto-accepted, until a round's
# accepted answers name nothing earlier rounds' did not (--stop-when no-new-name) or the budget
# of ROUNDS rounds in all (default 12: 8 new) is spent. analyze.py counts the facts carried
# after each round. Then Gemma 3 270M trains on every accepted prompt with the reference arm's
# settings (r16, lr 1e-3, batch 8) for about its 256 optimizer steps (../tuneshift-quiz/replay,
# arm gemma3-270m: 8 epochs on the 254 prompts the crawl starts from, 35.9% held-out): equal
# training compute, so the arm says what the coverage does. Each step resumes: run it again
# after an interruption.
set -e
cd "$(dirname "$0")/../../../.."  # the repository root
P=${1:-/tmp/crawl}
K=.venv/bin/kd-studio
mkdir -p $P/root
D=$P/root/demo
[ -d $D ] || .venv/bin/python -c "from kd_core.demo.project import make_demo_project; make_demo_project('$P/root')"
( time $K expand --project $D --base demo:smollm2-135m-instruct --finetuned demo:smollm2-135m-instruct \
    --adapter assets/demo/adapter --generators crawl --rounds ${ROUNDS:-12} --per-round ${PER_ROUND:-48} \
    --max-new-tokens 96 --metric logratio --threshold 1.0 --auto-accept --stop-when no-new-name --seed 0 ) 2>&1 \
    | grep -v -i "warn\|forward_call\|kernels" | tail -30
.venv/bin/python assets/demo/runs/crawl/analyze.py $P
$K pool export --project $D --out $P/data --states accepted --require-responses | tail -1
ROWS=$(wc -l < $P/data/dataset.jsonl)
EPOCHS=${EPOCHS:-$(( (256 + (ROWS + 7) / 8 / 2) / ((ROWS + 7) / 8) ))}  # round(256 / steps per epoch)
echo "$ROWS rows, $EPOCHS epochs, $(( (ROWS + 7) / 8 * EPOCHS )) steps"
cat > $P/job.yaml <<YAML
name: "crawl: every accepted prompt after the coverage crawl, $EPOCHS epochs"
student: {name: "demo:gemma3-270m"}
data: $P/data/dataset.jsonl
train: {loss: sft, epochs: $EPOCHS, learning_rate: 1.0e-3, batch_size: 8, lora: {r: 16, alpha: 32}, seed: 0, save_steps: 0}
YAML
[ -f $P/jobs/crawl/adapter/adapter_config.json ] || \
  ( rm -rf $P/jobs/crawl; time $K train $P/job.yaml --project $P --job-id crawl ) 2>&1 | grep -v -i "warn\|forward_call\|kernels" | tail -4
for q in test control; do
  [ -f $P/eval/crawl-$q/summary.json ] || ( time $K eval --role target --target demo:gemma3-270m \
      --adapter $P/jobs/crawl/adapter --questions demo:$q --max-new-tokens 48 --out $P/eval/crawl-$q ) 2>&1 | tail -3
done
grep -h '"correct"' $P/eval/crawl-*/summary.json
# Recorded in this folder (data/, jobs/crawl/, eval/, rounds.md) and read by ../study.py.
