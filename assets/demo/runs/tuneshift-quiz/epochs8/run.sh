#!/bin/bash
# More epochs on the quiz run's data (../run.sh first): the same job with 8 epochs instead of 4,
# then the held-out and control sets. Figures in ../README.md.
set -e
cd "$(dirname "$0")/../../../../.."  # the repository root
Q=${1:-/tmp/ts/quiz-fp32}
D=assets/demo/runs/tuneshift-quiz/epochs8
.venv/bin/kd-studio train $D/train-8-epochs.yaml --project $Q --job-id gemma3-270m-8-epochs
for set in test control; do
  .venv/bin/kd-studio eval --target demo:gemma3-270m --adapter $Q/jobs/gemma3-270m-8-epochs/adapter --role target \
    --questions demo:$set --max-new-tokens 48 --project $Q --name gemma3-270m-8-epochs-$set
done
