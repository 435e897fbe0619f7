set -x
cd /work/main
export HF_HUB_OFFLINE=1 KD_STUDIO_LOCK_DIR=/tmp/pdrun/locksC
/usr/bin/time -v .venv/bin/kd-studio train /tmp/pdrun/expC/C.yaml --project /tmp/pdrun/expC --job-id C 2>&1 | grep -v Warning
.venv/bin/python - <<'PY'
from dataclasses import replace
from kd_core.distill import pipeline as d
cfg = d.load_pd_config('/tmp/pdrun/demo-pd/pd/config.yaml')
settings = replace(cfg.eval, systems=['pd'])
res = d.evaluate_stage('/tmp/pdrun/expC', cfg.model_spec(), d.load_chunks('/tmp/pdrun/demo-pd'), settings,
                       {'pd': '/tmp/pdrun/expC/jobs/C/adapter'})
for k, v in res.items(): print(k, v['accuracy'], v['correct'], v['n'], v['wall_s'])
PY
