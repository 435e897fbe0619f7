set -x
cd /work/main
export HF_HUB_OFFLINE=1 KD_STUDIO_LOCK_DIR=/tmp/pdrun/locksB
/usr/bin/time -v .venv/bin/kd-studio train /tmp/pdrun/expB/B.yaml --project /tmp/pdrun/expB --job-id B 2>&1 | grep -v Warning
.venv/bin/python - <<'PY'
from dataclasses import replace
from kd_core.distill import pipeline as d
cfg = d.load_pd_config('/tmp/pdrun/demo-pd/pd/config.yaml')
settings = replace(cfg.eval, systems=['pd', 'pd+rag'])
res = d.evaluate_stage('/tmp/pdrun/expB', cfg.model_spec(), d.load_chunks('/tmp/pdrun/demo-pd'), settings,
                       {'pd': '/tmp/pdrun/expB/jobs/B/adapter'})
for k, v in res.items(): print(k, v['accuracy'], v['correct'], v['n'], v['wall_s'])
PY
