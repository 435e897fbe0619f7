"""Entry point for tests/test_multiprocess.py, started once per process by a launcher:
runs a job folder like `python -m kd_core.runtime.jobs run`, and also saves this process's
trained LoRA weights to OUT/rank<N>.safetensors, so the test can compare processes."""

import os
import sys
from pathlib import Path

from transformers import TrainerCallback

from kd_core.runtime import jobs


class SaveOwnLora(TrainerCallback):
    def __init__(self, out: Path):
        self.out = out

    def on_train_end(self, args, state, control, model=None, **kw):
        from safetensors.torch import save_file

        lora = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items() if "lora_" in k}
        save_file(lora, str(self.out / f"rank{os.environ.get('RANK', '0')}.safetensors"))


if __name__ == "__main__":
    job_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    status = jobs.run_job(job_dir, callbacks=[SaveOwnLora(out)])
    sys.exit(0 if status.get("state") == "completed" else 1)
