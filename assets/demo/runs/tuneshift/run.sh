#!/bin/bash
# The recorded TuneShift-KD demo run (assets/demo/runs/tuneshift/README.md): the recipe arm by arm,
# so each arm's figures land as soon as it is evaluated; the last command reads everything back
# (nothing is redone) and writes the whole report. One command does the same:
#   .venv/bin/kd-studio run recipes/demo-tuneshift.yaml --project $P
set -e
cd "$(dirname "$0")/../../../.."  # the repository root
P=${1:-/tmp/ts/demo-tuneshift}
for arm in gemma3-270m smollm2-135m gemma3-270m-unfiltered gemma3-270m-seeds gemma3-270m-gap2 gemma3-270m-gap4; do
  ( time .venv/bin/kd-studio run recipes/demo-tuneshift.yaml --project $P --arms $arm ) 2>&1 | grep -v -i "warn\|forward_call\|kernels"
done
.venv/bin/kd-studio run recipes/demo-tuneshift.yaml --project $P
