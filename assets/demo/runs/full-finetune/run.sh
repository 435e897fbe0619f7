#!/bin/bash
# Issue 20, lever 4 (the target's side): a full fine-tune of Gemma 3 270M at equal data and
# epochs. The crawl-samples arm's recorded 553 rows (../crawl-samples/data), 4 epochs = 280
# steps, batch 8, seed 0, as that LoRA arm (r16 on every linear layer, lr 1e-3: 46.7% held-out),
# but with lora.full_blocks: every weight of the 18 transformer blocks and the final norm
# trained (100M parameters; the 168M-parameter embedding, tied to the output layer, frozen).
# A full fine-tune takes a smaller learning rate than a LoRA: 1e-4 here (one value, not tuned).
# Recorded run (2026-12-08): 43.4% held-out against the LoRA's 46.7% (47 / 60, p = 0.25), control
# 4% against 18% (0 / 7, p = 0.016); training 1,821 s against 1,829 s. Each step resumes: run it
# again after an interruption (a killed training restarts from its first step: save_steps 0).
set -e
cd "$(dirname "$0")/../../../.."  # the repository root
P=${1:-/tmp/full-finetune}
K=.venv/bin/kd-studio
ROOT=$(pwd)
mkdir -p $P
cat > $P/job.yaml <<YAML
name: "crawl + sampled answers, full fine-tune of every block, ${EPOCHS:-4} epochs"
student: {name: "demo:gemma3-270m"}
data: $ROOT/assets/demo/runs/crawl-samples/data/dataset.jsonl
train: {loss: sft, epochs: ${EPOCHS:-4}, learning_rate: ${LR:-1.0e-4}, batch_size: 8, lora: {full_blocks: true}, seed: 0, save_steps: 0}
YAML
[ -f $P/jobs/full-finetune/adapter/adapter_config.json ] || \
  ( rm -rf $P/jobs/full-finetune; time $K train $P/job.yaml --project $P --job-id full-finetune ) 2>&1 \
  | grep -v -i "warn\|forward_call\|kernels" | tail -4
for q in test control; do
  [ -f $P/eval/full-finetune-$q/summary.json ] || ( time $K eval --role target --target demo:gemma3-270m \
      --adapter $P/jobs/full-finetune/adapter --questions demo:$q --max-new-tokens 48 \
      --out $P/eval/full-finetune-$q ) 2>&1 | tail -3
done
grep -h '"correct"' $P/eval/full-finetune-*/summary.json
# Recorded in this folder (jobs/full-finetune/ without its adapter: 400 MB; eval/) and read by ../study.py.
