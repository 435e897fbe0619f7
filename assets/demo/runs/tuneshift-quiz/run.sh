#!/bin/bash
# The recorded quiz run (README.md beside this file). recipes/demo-tuneshift-quiz.yaml's first
# three rounds are recipes/demo-tuneshift.yaml's, same settings: this starts from that run's pool
# (and its teacher and before-transfer evaluations, read back as "measured before"), so only the
# quiz round, the Gemma arm's training and its evaluation run. From nothing, one command:
#   .venv/bin/kd-studio run recipes/demo-tuneshift-quiz.yaml --project $Q
set -e
cd "$(dirname "$0")/../../../.."  # the repository root
P=${1:-/tmp/ts/demo-tuneshift}        # the main run's project (assets/demo/runs/tuneshift/run.sh)
Q=${2:-/tmp/ts/demo-tuneshift-quiz}
mkdir -p $Q/eval
.venv/bin/python -c "import sqlite3, sys; s = sqlite3.connect(sys.argv[1]); d = sqlite3.connect(sys.argv[2]); s.backup(d)" \
  $P/pool.sqlite $Q/pool.sqlite
cp -r $P/eval/teacher-* $P/eval/gemma3-270m-before-* $Q/eval/
( time .venv/bin/kd-studio run recipes/demo-tuneshift-quiz.yaml --project $Q --arms gemma3-270m ) 2>&1 | grep -v -i "warn\|forward_call\|kernels"
