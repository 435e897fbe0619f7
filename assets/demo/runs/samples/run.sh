#!/bin/bash
# Issue 20, lever 2 (phrasings per fact), the answer side: several sampled teacher answers per
# prompt. Start from the demo project (the replay run's 254 accepted prompts, answered greedily and
# scored: kd_core/demo/project.py); a recipe arm with `samples: 3` has the fine-tuned SmolLM2 sample
# 3 more answers to each prompt whose answer names something high-gap (temperature 0.7, seed 0) and
# keeps a sample only when it is new and states every high-gap name of the stored answer
# (kd_core/tuneshift/recipe.py, sampled_rows). Gemma 3 270M is trained on the 254 pairs plus the kept
# samples with the reference arm's settings (r16, lr 1e-3, batch 8) for the reference's 256
# optimizer steps (../tuneshift-quiz/replay, arm gemma3-270m: 8 epochs on the 254, 35.9% held-out):
# equal training compute, so the arm says what the wording does, not more steps.
# Each step resumes: run it again after an interruption.
set -e
cd "$(dirname "$0")/../../../.."  # the repository root
P=${1:-/tmp/samples}
K=.venv/bin/kd-studio
ROOT=$(pwd)
mkdir -p $P/root
D=$P/root/demo
[ -d $D ] || .venv/bin/python -c "from kd_core.demo.project import make_demo_project; make_demo_project('$P/root')"
cat > $P/recipe.yaml <<YAML
tuneshift:
  name: demo-samples
  base: demo:smollm2-135m-instruct
  finetuned: {name: demo:smollm2-135m-instruct, adapter: $ROOT/assets/demo/adapter}
  expand: {answer: {max_new_tokens: 96}}
  curation: auto
  targets: {gemma3-270m: demo:gemma3-270m}
  arms:
    - {name: samples, target: gemma3-270m, select: accepted, samples: ${SAMPLES:-3}, sample_temperature: 0.7}
YAML
( time $K run $P/recipe.yaml --project $D --stages data ) 2>&1 | grep -v -i "warn\|forward_call\|kernels" | tail -6
cat > $P/job.yaml <<YAML
name: "samples: 254 accepted + kept sampled answers, 256 steps"
student: {name: "demo:gemma3-270m"}
data: $D/data/samples/dataset.jsonl
train: {loss: sft, max_steps: 256, learning_rate: 1.0e-3, batch_size: 8, lora: {r: 16, alpha: 32}, seed: 0, save_steps: 0}
YAML
[ -f $P/jobs/samples/adapter/adapter_config.json ] || \
  ( rm -rf $P/jobs/samples; time $K train $P/job.yaml --project $P --job-id samples ) 2>&1 | grep -v -i "warn\|forward_call\|kernels" | tail -4
for q in test control; do
  [ -f $P/eval/samples-$q/summary.json ] || ( time $K eval --role target --target demo:gemma3-270m \
      --adapter $P/jobs/samples/adapter --questions demo:$q --max-new-tokens 48 --out $P/eval/samples-$q ) 2>&1 | tail -3
done
grep -h '"correct"' $P/eval/samples-*/summary.json
# Recorded in this folder (data/, jobs/samples/, eval/) and read by ../study.py.
