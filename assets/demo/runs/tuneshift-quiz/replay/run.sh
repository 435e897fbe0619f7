#!/bin/bash
# The recorded replay runs (README.md beside this file), in a project holding the quiz recipe's
# pool: `kd-studio run recipes/demo-tuneshift-quiz.yaml --project Q --stages expand,data --arms
# gemma3-270m` writes it (1,591 s here). The teacher's and Gemma's before-transfer evaluations of
# the main run are read back as "measured before" (same models, same questions). Then each arm:
# its data, 8 epochs of training, its evaluations, the report.
set -e
cd "$(dirname "$0")/../../../../.."  # the repository root
Q=${1:-/tmp/ts/quiz}
D=assets/demo/runs/tuneshift-quiz/replay
mkdir -p $Q/eval
cp -r assets/demo/runs/tuneshift/eval/teacher-* assets/demo/runs/tuneshift/eval/gemma3-270m-before-* $Q/eval/
for arm in gemma3-270m gemma3-270m-replay; do
  ( time .venv/bin/kd-studio run $D/recipe.yaml --project $Q --arms $arm ) 2>&1 | grep -v -i "warn\|forward_call\|kernels"
done
