#!/bin/bash
# Copy what a recipe run recorded in its project folder into the repository:
#   assets/demo/runs/collect.sh PROJECT DEST [log files...]
# config (the recipe as run), stage wall times, the report (Markdown, JSON, and the HTML when
# KEEP_HTML=1), each arm's data card and dataset (so a later experiment can train on the same
# data without the pool), each job's config, status and loss log, every evaluation
# (summary and graded answers), and the logs named after DEST.
set -e
P=$1; D=$2; shift 2
mkdir -p $D
cp $P/recipe/config.yaml $D/recipe-as-run.yaml
cp $P/recipe/stages.json $D/stages.json
cp $P/report/report.md $P/report/results.json $D/
[ "${KEEP_HTML:-0}" = 1 ] && cp $P/report/report.html $D/
for a in $P/data/*/; do n=$(basename $a); mkdir -p $D/data/$n; cp $a/data_card.md $a/data_card.json $a/dataset.jsonl $D/data/$n/; done
for j in $P/jobs/*/; do n=$(basename $j); mkdir -p $D/jobs/$n; cp $j/config.yaml $j/status.json $j/log.jsonl $D/jobs/$n/; done
for e in $P/eval/*/; do n=$(basename $e); mkdir -p $D/eval/$n; cp $e/summary.json $e/items.jsonl $D/eval/$n/; done
for f in "$@"; do grep -v -i "warn\|forward_call\|kernels" $f > $D/$(basename $f) || true; done
du -sh $D
