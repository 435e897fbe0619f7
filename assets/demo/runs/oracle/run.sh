#!/bin/bash
# The oracle ceiling (issue 20): the recipe's target (Gemma 3 270M) with the recipe's training
# settings (SFT, 4 epochs, lr 1e-3, batch 8, LoRA r16/a32, all-linear), trained on the demo
# fine-tune's own training data: all 1,116 domain pairs, and 208 of them (as many as the best arm).
# Evaluated on the same held-out questions and control as the arms (paired items).
set -e
cd "$(dirname "$0")/../../../.."  # the repository root
P=${1:-/tmp/oracle}
K=.venv/bin/kd-studio
mkdir -p $P
.venv/bin/python assets/demo/runs/oracle/make_data.py $P/data
for arm in oracle-208 oracle-full; do
  cat > $P/$arm.yaml <<YAML
name: "oracle: $arm"
student: {name: "demo:gemma3-270m"}
data: $P/data/$arm.jsonl
train: {loss: sft, epochs: 4, learning_rate: 1.0e-3, batch_size: 8, logging_steps: 5, seed: 0, lora: {r: 16, alpha: 32}}
YAML
  ( time $K train $P/$arm.yaml --project $P --job-id $arm ) 2>&1 | grep -v -i "warn\|forward_call\|kernels" | tail -5
  for q in test control; do
    ( time $K eval --role target --target demo:gemma3-270m --adapter $P/jobs/$arm/adapter --questions demo:$q --project $P --name $arm-$q ) 2>&1 | grep -v -i "warn\|kernels" | tail -4
  done
done
echo ORACLE DONE
