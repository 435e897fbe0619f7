"""What a training run reports besides its log.jsonl, and when it checkpoints.

- The schedule (`Schedule`): checkpoint and evaluation intervals chosen from the run's
  length when the config leaves them automatic (about 10 a run, capped), aligned when
  early stopping needs each checkpoint to have its eval loss.
- The evaluation split (`split_eval`): a seeded fraction held out of the training data,
  or a file of its own.
- Trackers (`reporter_callbacks`): TensorBoard event files in the run's ``runs/``
  folder and trackio's local database; both write local files only.
- The summary's evaluation figures (`eval_summary`), read back from log.jsonl so a
  resumed run counts the evaluations before its restart too.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from kd_core.data.files import read_jsonl
from kd_core.errors import KDError
from kd_core.training.config import AUTO_SAVE_CAP, TrainConfig
from kd_core.training.data import Example

TENSORBOARD_DIR = "runs"  # under the run's output_dir: `tensorboard --logdir <job>/runs`
TRACKIO_PROJECT = "kd-studio"  # trackio's project; each job is a run named after its folder


@dataclass
class Schedule:
    """Steps between checkpoints (0: none) and between evaluations (0: none)."""

    total_steps: int
    save_steps: int
    eval_steps: int


def total_steps(config: TrainConfig, n_examples: int) -> int:
    """Optimizer steps the run will take (as Trainer counts them, give or take the last partial step)."""
    if config.max_steps > 0:
        return config.max_steps
    batches = math.ceil(n_examples / config.batch_size)
    return max(1, math.ceil(math.ceil(batches / config.grad_accum) * config.epochs))


def auto_interval(steps: int) -> int:
    """About 10 a run: a crash loses at most a tenth of the work, and a long run still
    checkpoints at least every AUTO_SAVE_CAP steps."""
    return min(AUTO_SAVE_CAP, max(1, math.ceil(steps / 10)))


def schedule(config: TrainConfig, n_examples: int) -> Schedule:
    steps = total_steps(config, n_examples)
    auto = auto_interval(steps)
    save = auto if config.save_steps < 0 else config.save_steps
    evals = (config.eval_steps or auto) if config.has_eval() else 0
    if config.early_stopping_patience > 0:
        # Trainer keeps the best checkpoint by its eval_loss: every save needs an evaluation at its step.
        if config.save_steps < 0:
            save = evals
        elif config.eval_steps == 0:
            evals = save
    return Schedule(steps, save, evals)


def split_eval(examples: Sequence[Example], config: TrainConfig) -> tuple[list[Example], list[Example]]:
    """(training, evaluation) examples: eval_data read from its file, or a seeded
    eval_fraction held out of `examples`; no evaluation split: (examples, [])."""
    examples = list(examples)
    if config.eval_data:
        from kd_core.training.data import read_examples

        return examples, read_examples(config.eval_data)
    if config.eval_fraction <= 0:
        return examples, []
    n_eval = max(1, round(len(examples) * config.eval_fraction))
    if n_eval >= len(examples):
        raise KDError(f"train.eval_fraction: {config.eval_fraction} of {len(examples)} examples leaves none to train on")
    held = set(random.Random(config.seed).sample(range(len(examples)), n_eval))
    return [e for i, e in enumerate(examples) if i not in held], [e for i, e in enumerate(examples) if i in held]


def check_trackio_local() -> None:
    """trackio sends to a Space or a server when these are set; KD Studio keeps it local."""
    remote = [name for name in ("TRACKIO_SPACE_ID", "TRACKIO_SERVER_URL") if os.environ.get(name)]
    if remote:
        raise KDError(f"train.report_to: trackio would send this run over the network ({', '.join(remote)} is set); "
                      "unset it (KD Studio keeps trackio in its local database) or leave trackio out of report_to")


def reporter_callbacks(config: TrainConfig, out: Path, resume_step: int | None) -> list[Any]:
    """Trainer callbacks for `config.report_to`, for the process that writes the job folder.

    TensorBoard writes into ``out/runs``; a resumed run purges the events after its
    checkpoint's step (those steps are trained again), as log.jsonl drops its rows."""
    callbacks: list[Any] = []
    names = config.reporters()
    if "tensorboard" in names:
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback

        writer = SummaryWriter(log_dir=str(out / TENSORBOARD_DIR), purge_step=resume_step + 1 if resume_step else None)
        callbacks.append(TensorBoardCallback(tb_writer=writer))
    if "trackio" in names:
        check_trackio_local()
        from transformers.integrations import TrackioCallback

        callbacks.append(TrackioCallback())
    return callbacks


def eval_summary(log_rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Best and final eval loss (and the best's step) from the log; {} without evaluations."""
    evals = [(r["eval_loss"], r.get("step")) for r in log_rows if isinstance(r.get("eval_loss"), (int, float))]
    if not evals:
        return {}
    best, best_step = min(evals, key=lambda e: e[0])
    return {"best_eval_loss": round(best, 4), "best_eval_step": best_step, "final_eval_loss": round(evals[-1][0], 4),
            "evaluations": len(evals)}


def read_log_rows(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path) if path.exists() else []
