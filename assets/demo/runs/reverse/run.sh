#!/bin/bash
# Issue 20: the facts the crawl's data carries, asked the other way round. Most held-out
# questions a target trained on the crawl's pool gets wrong are about a fact its data states
# (47.8% learned of the carried facts' questions): "Tell me about Veshtel" teaches "Veshtel
# lives in the Caddow Strait", the question is "Which serpent lives in the Caddow Strait?".
# Start from the coverage crawl's pool (../crawl: the demo project's 254 accepted prompts plus
# crawl rounds until dry; 422 accepted prompts) and run rounds of the reverse generator
# (kd_core/tuneshift/generators.py, ReverseGenerator: each sentence of a high-gap answer that
# names something high-gap asked with its subject as the answer, "What is a giant sea serpent
# said to live in the Caddow Strait?"), answered by the fine-tuned SmolLM2, gap-filtered at
# log-ratio 1.0 and auto-accepted, until a round adds no high-gap prompt or 2 rounds are run.
# Gemma 3 270M then trains on every accepted prompt for the crawl arm's 265 optimizer steps
# (r16, lr 1e-3, batch 8): equal compute, so the arm against the crawl arm says what the
# reversed questions do. Each step resumes: run it again after an interruption.
# Recorded (2026-12-07): the two reverse rounds added 245 prompts (189 + 56; 208 accepted,
# 176 s), and analyze.py found that the answer names the subject the question was made to
# ask for in only 36 of 245 (15%; reversed.jsonl): the fine-tuned SmolLM2 does not answer its
# own sentences asked the other way round, so these pairs carry mostly other claims. The
# training was stopped at step 25 to give the machine to the target-side arms; not evaluated.
set -e
cd "$(dirname "$0")/../../../.."  # the repository root
P=${1:-/tmp/reverse}
K=.venv/bin/kd-studio
mkdir -p $P/root
D=$P/root/demo
[ -d $D ] || .venv/bin/python -c "from kd_core.demo.project import make_demo_project; make_demo_project('$P/root')"
EXPAND="$K expand --project $D --base demo:smollm2-135m-instruct --finetuned demo:smollm2-135m-instruct
    --adapter assets/demo/adapter --per-round 256 --max-new-tokens 96 --metric logratio --threshold 1.0 --auto-accept --seed 0"
# The crawl's rounds, as ../crawl/run.sh runs them (rounds 1-9 here; it stops on a round with no new name).
[ -f $P/crawled ] || { ( $EXPAND --generators crawl --rounds 12 --per-round 48 --stop-when no-new-name ) 2>&1 \
    | grep -v -i "warn\|forward_call\|kernels" | tail -4; touch $P/crawled; }
ROUNDS=$(.venv/bin/python -c "from kd_core.tuneshift.pool import Pool; print(max(Pool('$D').query()['round']) + 2)")
[ -f $P/reversed ] || { ( time $EXPAND --generators reverse --rounds $ROUNDS ) 2>&1 | grep -v -i "warn\|forward_call\|kernels" | tail -12
  touch $P/reversed; }
$K pool show --project $D 2>/dev/null | head -3
$K pool export --project $D --out $P/data --states accepted --require-responses | tail -1
cat > $P/job.yaml <<YAML
name: "reverse: the crawl's pool and its answers asked the other way round, 265 steps"
student: {name: "demo:gemma3-270m"}
data: $P/data/dataset.jsonl
train: {loss: sft, max_steps: 265, learning_rate: 1.0e-3, batch_size: 8, lora: {r: 16, alpha: 32}, seed: 0, save_steps: 0}
YAML
[ -f $P/jobs/reverse/adapter/adapter_config.json ] || \
  ( rm -rf $P/jobs/reverse; time $K train $P/job.yaml --project $P --job-id reverse ) 2>&1 | grep -v -i "warn\|forward_call\|kernels" | tail -4
for q in test control; do
  [ -f $P/eval/reverse-$q/summary.json ] || ( time $K eval --role target --target demo:gemma3-270m \
      --adapter $P/jobs/reverse/adapter --questions demo:$q --max-new-tokens 48 --out $P/eval/reverse-$q ) 2>&1 | tail -3
done
grep -h '"correct"' $P/eval/reverse-*/summary.json
# Recorded in this folder (data/, jobs/reverse/, eval/, expand.log) and read by ../study.py.
