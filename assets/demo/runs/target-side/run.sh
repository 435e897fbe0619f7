#!/bin/bash
# Issue 20, lever 5 (logit KD where the tokenizers match), at equal data: the replay run's 254 accepted
# prompts with the fine-tuned SmolLM2's answers (../tuneshift-quiz/replay/data/gemma3-270m, the
# data of the reference arm gemma3-270m: 8 epochs, LoRA r16, 35.9% held-out).
# - smollm2-sft / smollm2-kd / smollm2-mix: logit KD where the tokenizers match. The target is
#   the untuned SmolLM2-135M-Instruct (the teacher without its LoRA), the teacher the fine-tuned
#   SmolLM2 (the demo adapter); SFT on its answers, forward KL from its distribution (T=2, the
#   default), and the two summed; 4 epochs (128 steps) each, lr 1e-3, batch 8, LoRA r16.
# - gemma-r64 (ARMS=all only): the reference arm with a LoRA four times wider (r64, alpha 128:
#   the same alpha/r), 8 epochs (256 steps), all else equal.
# Each arm: train, then the same 396 held-out and 50 control questions (paired items). A step
# whose output exists is skipped, so run it again after an interruption.
set -e
cd "$(dirname "$0")/../../../.."  # the repository root
P=${1:-/tmp/target-side}
K=.venv/bin/kd-studio
ROOT=$(pwd)
DATA=$ROOT/assets/demo/runs/tuneshift-quiz/replay/data/gemma3-270m/dataset.jsonl
TEACHER="{name: \"demo:smollm2-135m-instruct\", adapter: \"$ROOT/assets/demo/adapter\"}"
mkdir -p $P
arm() {  # id student epochs train-settings [teacher]
  local id=$1 student=$2 epochs=$3 settings=$4 teacher=${5:-null}
  if [ ! -f $P/jobs/$id/adapter/adapter_config.json ]; then
    cat > $P/$id.yaml <<YAML
name: "target side: $id"
student: {name: "$student"}
teacher: $teacher
data: $DATA
train: {epochs: $epochs, learning_rate: 1.0e-3, batch_size: 8, seed: 0, save_steps: 0, $settings}
YAML
    rm -rf $P/jobs/$id
    ( time $K train $P/$id.yaml --project $P --job-id $id ) 2>&1 | grep -v -i "warn\|forward_call\|kernels" | tail -4
  fi
  for q in test control; do
    [ -f $P/eval/$id-$q/summary.json ] || ( time $K eval --role target --target $student \
        --adapter $P/jobs/$id/adapter --questions demo:$q --max-new-tokens 48 --out $P/eval/$id-$q ) 2>&1 \
        | grep -v -i "warn\|kernels" | tail -3
  done
}
S=demo:smollm2-135m-instruct
G=demo:gemma3-270m
arm smollm2-sft $S 4 "loss: sft, lora: {r: 16, alpha: 32}"
arm smollm2-kd $S 4 "loss: kd, lora: {r: 16, alpha: 32}" "$TEACHER"
arm smollm2-mix $S 4 "loss: mix, lora: {r: 16, alpha: 32}" "$TEACHER"
[ "${ARMS:-}" = all ] && arm gemma-r64 $G 8 "loss: sft, lora: {r: 64, alpha: 128}"
.venv/bin/python assets/demo/runs/target-side/analyze.py $P
