#!/bin/bash
# The recorded more-quiz runs (README.md beside this file), from a project holding the quiz
# recipe's pool (`kd-studio run recipes/demo-tuneshift-quiz.yaml --project Q --stages expand,data
# --arms gemma3-270m` writes it): the teacher's and Gemma's before-transfer evaluations of the
# main run are read back as "measured before" (same models, same questions).
#   1. baseline.yaml on that pool: one quiz round, 8 epochs;
#   2. recipe.yaml on a copy of it: three more quiz rounds, 8 epochs, without and with replay.
set -e
cd "$(dirname "$0")/../../../../.."  # the repository root
Q=${1:-/tmp/ts/quiz}
M=${2:-/tmp/ts/more-quiz}
D=assets/demo/runs/tuneshift-quiz/more-quiz
quiet() { grep -v -i "warn\|forward_call\|kernels"; }
mkdir -p $Q/eval $M/eval
cp -r assets/demo/runs/tuneshift/eval/teacher-* assets/demo/runs/tuneshift/eval/gemma3-270m-before-* $Q/eval/
( time .venv/bin/kd-studio run $D/baseline.yaml --project $Q --arms gemma3-270m ) 2>&1 | quiet
.venv/bin/python -c "import sqlite3, sys; s = sqlite3.connect(sys.argv[1]); d = sqlite3.connect(sys.argv[2]); s.backup(d)" \
  $Q/pool.sqlite $M/pool.sqlite
cp -r $Q/eval/teacher-* $Q/eval/gemma3-270m-before-* $M/eval/
for arm in gemma3-270m gemma3-270m-replay; do
  ( time .venv/bin/kd-studio run $D/recipe.yaml --project $M --arms $arm ) 2>&1 | quiet
done
