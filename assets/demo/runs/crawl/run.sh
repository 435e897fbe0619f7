#!/bin/bash
# Issue 20, lever 3 (coverage): keep crawling while rounds still reach new high-gap names.
# Start from the demo project (the replay run's 254 accepted prompts in rounds 0-4, 152 of the
# 198 facts carried: kd_core/demo/project.py) and run crawl rounds alone (questions about the
# names in high-gap answers that the base model could not predict; no writer model), answered by
# the fine-tuned SmolLM2, gap-filtered at log-ratio 1.0 and auto-accepted, until a round's
# accepted answers name nothing earlier rounds' did not (--stop-when no-new-name) or the budget
# of ROUNDS rounds in all (default 12: 8 new) is spent. analyze.py counts the facts carried
# after each round. The expansion resumes: run it again after an interruption.
set -e
cd "$(dirname "$0")/../../../.."  # the repository root
P=${1:-/tmp/crawl}
K=.venv/bin/kd-studio
mkdir -p $P/root
D=$P/root/demo
[ -d $D ] || .venv/bin/python -c "from kd_core.demo.project import make_demo_project; make_demo_project('$P/root')"
( time $K expand --project $D --base demo:smollm2-135m-instruct --finetuned demo:smollm2-135m-instruct \
    --adapter assets/demo/adapter --generators crawl --rounds ${ROUNDS:-12} --per-round ${PER_ROUND:-48} \
    --max-new-tokens 96 --metric logratio --threshold 1.0 --auto-accept --stop-when no-new-name --seed 0 ) 2>&1 \
    | grep -v -i "warn\|forward_call\|kernels" | tail -30
.venv/bin/python assets/demo/runs/crawl/analyze.py $P
