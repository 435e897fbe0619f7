#!/bin/bash
# The demo project's transferred student (kd_core/demo/project.py): Gemma 3 270M trained 8 epochs
# on the replay arm's recorded data (../runs/tuneshift-quiz/replay/: 254 accepted prompts with the
# fine-tuned SmolLM2's answers + 80 generic prompts answered by the untrained Gemma), with that
# arm's settings, then evaluated on the paired held-out (demo:test) and control (demo:control) sets.
# Then record.py copies the job, its adapter (base named by its Hub id, with a model card) and the
# evaluations here.
set -e
cd "$(dirname "$0")/../../.."  # the repository root
P=${1:-/tmp/student}
R=$PWD/assets/demo/runs/tuneshift-quiz/replay
K=.venv/bin/kd-studio
mkdir -p $P
cat > $P/job.yaml <<YAML
name: "demo student: gemma3-270m-replay, 8 epochs"
student: {name: "demo:gemma3-270m"}
data: $R/data/gemma3-270m-replay/dataset.jsonl
train: {loss: sft, epochs: 8, learning_rate: 1.0e-3, batch_size: 8, max_length: 384, warmup: 0.05, logging_steps: 5, seed: 0, lora: {r: 16, alpha: 32, dropout: 0.05, target_modules: all-linear}}
YAML
( time $K train $P/job.yaml --project $P --job-id student ) 2>&1 | tail -5
for q in test control; do
  ( time $K eval --role target --target demo:gemma3-270m --adapter $P/jobs/student/adapter --questions demo:$q \
      --max-new-tokens 48 --project $P --name student-$q ) 2>&1 | tail -4
done
.venv/bin/python assets/demo/student/record.py $P
