#!/bin/bash
# Held-out QA of the transferred Gemma (and the teacher, per item), then generic control.
set -e
cd "$(dirname "$0")/../../../.."  # the repository root
K=.venv/bin/kd-studio
J=/tmp/transfer/jobs/gemma-sft/adapter
( time $K eval --finetuned demo:gemma3-270m --adapter $J --role finetuned --questions demo:test --out /tmp/transfer/eval/gemma-sft-test ) 2>&1 | grep -v Warn
( time $K eval --role finetuned --questions demo:test --out /tmp/transfer/eval/teacher-test ) 2>&1 | grep -v Warn
( time $K eval --finetuned demo:gemma3-270m --adapter $J --role finetuned --questions demo:control --out /tmp/transfer/eval/gemma-sft-control ) 2>&1 | grep -v Warn
echo EVALS DONE
