#!/bin/bash
# Issue 20, lever 2 (phrasings per fact): the paraphrase generator on the quiz pool.
# Start from the demo project (the replay run's 254 accepted prompts, answered and scored:
# kd_core/demo/project.py), run one expansion round of the paraphrase generator alone (rewordings
# of the accepted prompts that keep every name, answered by the fine-tuned SmolLM2 and gap-filtered
# at the usual log-ratio 1.0, auto-accepted), export every accepted prompt, and train Gemma 3 270M
# on it with the replay run's settings (r16, lr 1e-3, batch 8) for as many epochs as give about the
# reference arm's 256 optimizer steps (its 8 epochs on 254 prompts): equal training compute
# (analyze.py prints both step counts). Each step resumes: run it again after an interruption.
# The reference: ../tuneshift-quiz/replay/, arm gemma3-270m (254 prompts, 8 epochs, 35.9% held-out);
# analyze.py pairs the two evaluations question by question (McNemar).
# --rounds counts the demo pool's 4 recorded rounds: the paraphrase round is round 5 (the run
# recorded in the README numbered it 1, before the loop counted a pool's own rounds).
set -e
cd "$(dirname "$0")/../../../.."  # the repository root
P=${1:-/tmp/paraphrase}
K=.venv/bin/kd-studio
mkdir -p $P/root
D=$P/root/demo
[ -d $D ] || .venv/bin/python -c "from kd_core.demo.project import make_demo_project; make_demo_project('$P/root')"
( time $K expand --project $D --base demo:smollm2-135m-instruct --finetuned demo:smollm2-135m-instruct \
    --adapter assets/demo/adapter --generators paraphrase --rounds 5 --per-round ${PER_ROUND:-128} \
    --max-new-tokens 96 --metric logratio --threshold 1.0 --auto-accept --seed 0 ) 2>&1 | tail -12
$K pool export --project $D --out $P/data --states accepted --require-responses | tail -3
ROWS=$(wc -l < $P/data/dataset.jsonl)
EPOCHS=${EPOCHS:-$(( (256 + (ROWS + 7) / 8 / 2) / ((ROWS + 7) / 8) ))}  # round(256 / steps per epoch)
echo "$ROWS rows, $EPOCHS epochs, $(( (ROWS + 7) / 8 * EPOCHS )) steps"
cat > $P/job.yaml <<YAML
name: "paraphrase: 254 accepted + their accepted rewordings, $EPOCHS epochs"
student: {name: "demo:gemma3-270m"}
data: $P/data/dataset.jsonl
train: {loss: sft, epochs: $EPOCHS, learning_rate: 1.0e-3, batch_size: 8, lora: {r: 16, alpha: 32}, seed: 0}
YAML
( time $K train $P/job.yaml --project $P --job-id paraphrase ) 2>&1 | tail -4
for q in test control; do
  ( time $K eval --role target --target demo:gemma3-270m --adapter $P/jobs/paraphrase/adapter --questions demo:$q \
      --max-new-tokens 48 --out $P/eval/paraphrase-$q ) 2>&1 | tail -3
done
.venv/bin/python assets/demo/runs/paraphrase/analyze.py $P
