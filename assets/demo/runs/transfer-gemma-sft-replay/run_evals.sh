#!/bin/bash
# Held-out QA and generic control of Gemma 3 270M + the replay-mixed transfer adapter.
set -e
cd "$(dirname "$0")/../../../.."  # the repository root
K=.venv/bin/kd-studio
J=/tmp/transfer/jobs/gemma-sft-replay/adapter
$K eval --finetuned demo:gemma3-270m --adapter $J --role finetuned --questions demo:test --out /tmp/transfer/eval/gemma-sft-replay-test
$K eval --finetuned demo:gemma3-270m --adapter $J --role finetuned --questions demo:control --out /tmp/transfer/eval/gemma-sft-replay-control
