"""LoRA training of a student on (prompt, response) pairs, on top of transformers.Trainer.

Trainer brings gradient accumulation, schedulers, checkpointing, mixed precision and
multi-process training (accelerate); KD Studio adds what it lacks:

- response-only losses (`training.losses`): `sft` (cross-entropy), `kd` (forward KL
  from a teacher's distribution) or a weighted `mix` of both, computed inside the
  student's forward (`StudentLM`) so multi-process wrappers see them;
- a teacher that sees its own prompt (prompt distillation: document + question for
  the teacher, the question alone for the student, the same response tokens), and
  that may be the student itself with its LoRA disabled (no second copy of weights);
- the chat formatting of each pair with the student's own template (`training.data`);
- a JSONL log of every logging step (step, epoch, loss, lr, tokens/s, ETA).

The recipe: `train_lora(model_spec, examples, TrainConfig(...), teacher=None)`;
`TrainConfig` (`training.config`) round-trips through YAML (`to_dict` / `TrainConfig.from_dict`).
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import torch
from peft import PeftModelForCausalLM
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed

from kd_core.data.cards import portable_name
from kd_core.data.files import (
    append_jsonl,
    jsonl_text,
    read_json,
    read_jsonl,
    replace_dir,
    temp_dir_beside,
    write_atomic,
    write_json,
)
from kd_core.errors import KDError
from kd_core.models import devices
from kd_core.models.loading import LoadedModel, ModelSpec, guard_4bit_cpu, load_model
from kd_core.training.cards import AdapterFacts, adapter_card, write_adapter_card
from kd_core.training.config import LoraSettings, TrainConfig
from kd_core.training.data import Example, PairDataset, collate
from kd_core.training.losses import TeacherCache, response_losses, sft_loss
from kd_core.training.reports import TRACKIO_PROJECT, eval_summary, read_log_rows, reporter_callbacks, schedule, split_eval

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def check_kd_compatible(student: LoadedModel, teacher: LoadedModel) -> None:
    """KD compares distributions id by id: both models must share one tokenizer.

    Raises a KDError naming both models when they do not (SFT has no such need: it
    trains on the teacher's text, retokenized)."""
    sv, tv = student.tokenizer.get_vocab(), teacher.tokenizer.get_vocab()
    if sv == tv:
        return
    only_s = sorted(set(sv) - set(tv))[:3]
    only_t = sorted(set(tv) - set(sv))[:3]
    moved = [t for t in sv if t in tv and sv[t] != tv[t]][:3]
    detail = (
        f"tokens only in the student: {only_s}" if only_s else f"tokens only in the teacher: {only_t}" if only_t
        else f"the same tokens under other ids: {moved}"
    )
    raise KDError(
        f"loss 'kd' needs teacher and student to share one tokenizer, but teacher {teacher.spec.label()} "
        f"({len(tv)} tokens) and student {student.spec.label()} ({len(sv)} tokens) differ ({detail}); "
        "use loss 'sft' to train on the teacher's answers across tokenizers"
    )


class StudentLM(PeftModelForCausalLM):
    """The LoRA student: a PEFT causal LM whose forward can also compute KD Studio's losses.

    Trainer hands `compute_loss` the model as wrapped for multi-process training
    (DistributedDataParallel, FSDP, DeepSpeed), and accelerate wraps its forward for
    mixed precision.  Those wrappers act only through forward: DDP arms its gradient
    all-reduce there, FSDP gathers its shards there.  A loss that reached past them to
    the decoder and output layer would leave each process training on its own gradients.
    So `forward(loss_fn=f, **batch)` returns `f(self, batch)`, computed inside the wrappers;
    without `loss_fn` it is the ordinary PEFT forward.
    """

    def forward(self, *args: Any, loss_fn: Callable[[Any, dict[str, Any]], dict[str, torch.Tensor]] | None = None, **kwargs: Any) -> Any:
        if loss_fn is None:
            return super().forward(*args, **kwargs)
        return loss_fn(self, kwargs)


def response_token_count(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Response tokens a loss averages over (positions whose next token is a label)."""
    return (batch["labels"][:, 1:] != -100).sum()


class LossTrainer(Trainer):
    """Trainer whose loss is KD Studio's response-only loss, not the model's own.

    The loss is the mean over every response token of an optimizer step, across
    gradient-accumulation micro-batches and processes, so one process with batch B and
    N processes splitting the same B take the same step."""

    # compute_loss normalizes by the whole step's token count itself.
    loss_is_scaled_for_ga = True

    def __init__(self, *args, train_config: TrainConfig | None = None, teacher=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kd_config = train_config or TrainConfig()
        self.teacher = teacher
        mb = self.kd_config.teacher_cache_mb
        self.teacher_cache = TeacherCache(mb * 2**20) if mb > 0 and self.kd_config.loss != "sft" else None
        self._parts: dict[str, list[float]] = {}
        self._step_tokens: torch.Tensor | None = None

    def get_batch_samples(self, epoch_iterator: Iterator[dict[str, torch.Tensor]], num_batches: int,
                          device: torch.device) -> tuple[list[dict[str, torch.Tensor]], torch.Tensor | int | None]:
        samples, count = super().get_batch_samples(epoch_iterator, num_batches, device)
        # Trainer counts tokens only for some model classes and label conventions; this
        # loss always needs the count, over this step's micro-batches on every process.
        tokens = sum((response_token_count(b) for b in samples), torch.tensor(0)).to(device)
        if self.accelerator.num_processes > 1:
            tokens = self.accelerator.reduce(tokens, reduction="sum")
        self._step_tokens = tokens
        return samples, count

    def _losses(self, student, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Runs inside the (wrapped) student's forward; `student` is the unwrapped StudentLM."""
        cfg = self.kd_config
        if cfg.loss == "sft":
            return {"loss": sft_loss(student, batch, cfg.kd_chunk_size)[0]}
        want = ("kd", "sft") if cfg.loss == "mix" else ("kd",)
        cache = self.teacher_cache if student.training else None  # evaluation batches are other examples
        parts = response_losses(student, batch, self.teacher, cfg.kd_temperature, cfg.kd_chunk_size, want, cache)
        loss = cfg.kd_weight * parts["kd"] + cfg.sft_weight * parts["sft"] if cfg.loss == "mix" else parts["kd"]
        return {"loss": loss, **parts}

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, torch.Tensor], return_outputs: bool = False,
                     num_items_in_batch: torch.Tensor | int | None = None) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if not isinstance(self.accelerator.unwrap_model(model), StudentLM):
            raise KDError("LossTrainer needs the student made by add_lora (a StudentLM)")
        out = model(**inputs, loss_fn=self._losses)  # through DDP/FSDP/DeepSpeed and autocast
        mean = out["loss"]
        if model.training and self._step_tokens is not None:
            # The micro-batch mean weighted by its share of the step's tokens; DDP averages
            # gradients over processes, so the share is counted per process.
            share = response_token_count(inputs).to(mean.device) * self.accelerator.num_processes / self._step_tokens.clamp(min=1)
            loss = mean * share
        elif model.training:
            loss = mean / self.args.gradient_accumulation_steps
        else:
            loss = mean  # evaluation: eval_loss is the plain mean over its batches
        if self.kd_config.loss == "mix" and model.training:
            for name in ("kd", "sft"):  # both parts in the log: which one moves is the story
                self._parts.setdefault(f"loss_{name}", []).append(float(out[name].detach()))
        return (loss, out) if return_outputs else loss

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs:
            for name, values in sorted(self._parts.items()):
                value = torch.tensor(sum(values) / len(values), device=self.args.device)
                if self.accelerator.num_processes > 1:  # every process logs at the same step
                    value = self.accelerator.reduce(value, reduction="mean")
                logs[name] = round(float(value), 4)
            self._parts = {}
        super().log(logs, *args, **kwargs)


# ---------------------------------------------------------------------------
# Progress log


def jsonl_logger(path: Path, total_tokens_per_epoch: int | None = None) -> TrainerCallback:
    class JsonlLogger(TrainerCallback):
        def __init__(self):
            self.t0 = None
            self.step0 = 0
            self.epoch0 = 0.0

        def on_train_begin(self, args, state, control, **kw):
            # A resumed run starts at its checkpoint's step: rates and ETA count from there.
            self.t0 = time.perf_counter()
            self.step0, self.epoch0 = state.global_step, state.epoch or 0.0

        def on_log(self, args, state, control, logs=None, **kw):
            if not logs or self.t0 is None or not state.is_world_process_zero:  # one writer for the job folder
                return
            elapsed = time.perf_counter() - self.t0
            row = {"step": state.global_step, "max_steps": state.max_steps, "epoch": round(state.epoch or 0, 4), "elapsed_s": round(elapsed, 2)}
            row.update({k: v for k, v in logs.items() if isinstance(v, (int, float))})
            done = state.global_step - self.step0
            if done > 0:
                row["eta_s"] = round(elapsed / done * (state.max_steps - state.global_step), 1)
                if total_tokens_per_epoch:
                    row["tokens_per_s"] = round(total_tokens_per_epoch * ((state.epoch or 0) - self.epoch0) / elapsed, 1)
            append_jsonl(path, [row])

    return JsonlLogger()


def truncate_log(path: Path, last_step: int) -> None:
    """Drop log rows after `last_step`: a resumed run redoes those steps and logs them again."""
    if not path.exists():
        return
    write_atomic(path, jsonl_text(r for r in read_jsonl(path) if r.get("step", 0) <= last_step))


# ---------------------------------------------------------------------------
# The recipe


def add_lora(model: PreTrainedModel, settings: LoraSettings, seed: int = 0) -> StudentLM:
    """A new LoRA on `model`, as the StudentLM that LossTrainer trains."""
    from peft import LoraConfig

    torch.manual_seed(seed)
    if not settings.full_blocks:
        cfg = LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                         target_modules=settings.target_modules, task_type="CAUSAL_LM")
    else:
        # peft has no full fine-tune of its own: modules_to_save trains a whole copy of each
        # block and stores it in the adapter, so every reader of adapters reads this one too.
        # peft insists on one LoRA as well; it goes on the embedding and is frozen at zero (its
        # B starts at zero): the embedding is tied to the output layer, and a trained LoRA on a
        # tied weight does not merge back into the model it trained (peft issue 2777; tied or
        # not, the merge's check refused it on the tiny test model by 0.18 nats a token).
        cfg = LoraConfig(r=1, lora_alpha=1, target_modules=[module_name(model, model.get_input_embeddings())],
                         modules_to_save=block_names(model), task_type="CAUSAL_LM")
    cfg.base_model_name_or_path = model.__dict__.get("name_or_path")  # as get_peft_model records it
    with warnings.catch_warnings():
        if settings.full_blocks:  # peft warns of a trained LoRA on a tied layer; this one stays zero
            warnings.filterwarnings("ignore", message=".*tie")
        student = StudentLM(model, cfg)
    if settings.full_blocks:
        for name, p in student.named_parameters():
            if "lora_" in name:
                p.requires_grad_(False)
    return student


def module_name(model: PreTrainedModel, module: torch.nn.Module) -> str:
    """The dotted name of `module` inside `model`."""
    return next(name for name, m in model.named_modules() if m is module)


def block_names(model: PreTrainedModel) -> list[str]:
    """What a full-blocks fine-tune trains: every transformer block (the classes the model
    names as never to be split across devices) and each layer outside them that holds
    weights of its own, but the embeddings (the final norm)."""
    kinds = set(getattr(model, "_no_split_modules", None) or ())
    blocks = [name for name, m in model.named_modules() if type(m).__name__ in kinds]
    if not blocks:
        raise KDError(f"lora.full_blocks: {type(model).__name__} names no transformer block class "
                      "(_no_split_modules); train a LoRA on it instead")
    embeddings = {module_name(model, m) for m in (model.get_input_embeddings(), model.get_output_embeddings()) if m is not None}
    inside = tuple(b + "." for b in blocks)
    rest = [name for name, m in model.named_modules()
            if name and name not in embeddings and not name.startswith(inside) and name not in blocks
            and any(True for _ in m.parameters(recurse=False))]
    return blocks + rest


def resolve_teacher(student: LoadedModel, teacher: ModelSpec | LoadedModel | None, loss: str) -> LoadedModel | None:
    """The teacher model for a KD loss, checked against the student; None: the student
    with its adapter disabled (self-distillation, no second copy of the weights).

    The teacher reads sequences made with the student's tokenizer and chat template
    (one tokenizer is required anyway), so both see the very same response ids."""
    if loss == "sft" or teacher is None:
        return None
    t = teacher if isinstance(teacher, LoadedModel) else load_model(teacher)
    check_kd_compatible(student, t)
    t.model.requires_grad_(False)
    t.model.eval()
    return t


def train_lora(
    student: ModelSpec | LoadedModel,
    examples: Sequence[Example],
    config: TrainConfig,
    teacher: ModelSpec | LoadedModel | None = None,
    callbacks: Sequence[TrainerCallback] = (),
    resume_from_checkpoint: str | None = None,
    print_logs: bool = True,
) -> dict[str, Any]:
    """Train a LoRA on the student; save the adapter to config.output_dir/adapter.

    `teacher` is read by the `kd` and `mix` losses only; None means the student's own
    base weights (its adapter disabled), the prompt-distillation setting.  A teacher
    with another tokenizer is refused before any training.  Checkpoints go to
    output_dir/checkpoints; `resume_from_checkpoint` continues from one of them.
    `print_logs=False` silences Trainer's own printing of each log (its dicts).

    Under a multi-process launcher (`torchrun`, `accelerate launch`) every process runs
    this with the same arguments; `config.batch_size` stays the batch of one optimizer
    step, split across the processes, and only the first process writes files.

    Reports (``config.report_to``) go to TensorBoard (output_dir/runs) and/or trackio's
    local database; with an evaluation split (eval_fraction or eval_data) eval_loss is
    logged every ``eval_steps`` and early stopping may watch it.  Checkpoints are on by
    default (reports.schedule picks the interval from the run's length).

    Returns a summary: steps, wall time, tokens/s, final loss (and eval losses), adapter path and size.
    """
    config.validate()
    if not config.output_dir:
        raise KDError("train: output_dir is not set")
    set_seed(config.seed)
    if world_size() > 1 and torch.cuda.is_available():
        # One GPU per process: "cuda" (the device "auto" resolves to) must mean this process's own.
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    lm = student if isinstance(student, LoadedModel) else load_model(student)
    if lm.has_adapter:
        raise KDError("the student already has an adapter; train a new LoRA on its base model")
    teacher_lm = resolve_teacher(lm, teacher, config.loss)
    model = add_lora(lm.model, config.lora, config.seed)
    if lm.spec.load_in_4bit:
        guard_4bit_cpu(model)
    train_examples, eval_examples = split_eval(examples, config)
    data = PairDataset(lm.tokenizer, train_examples, config.max_length, config.system, with_teacher=config.loss != "sft")
    eval_data = PairDataset(lm.tokenizer, eval_examples, config.max_length, config.system,
                            with_teacher=config.loss != "sft") if eval_examples else None
    plan = schedule(config, len(data))
    early = config.early_stopping_patience > 0
    n_tokens = sum(len(x["input_ids"]) for x in data.items)
    world = world_size()
    if config.batch_size % world:
        raise KDError(f"train.batch_size ({config.batch_size}) must be a multiple of the number of processes ({world}): "
                      "each optimizer step splits one batch across them")
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "log.jsonl"

    use_bf16 = devices.autocast_dtype(lm.device, lm.dtype) == torch.bfloat16
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"),
        # batch_size is per optimizer step (times grad_accum), whatever the number of
        # processes: split_batches cuts each batch across them, so one config trains the
        # same way on 1 or N processes.
        per_device_train_batch_size=config.batch_size,
        accelerator_config={"split_batches": True},
        gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.scheduler,
        warmup_steps=config.warmup,
        logging_steps=config.logging_steps,
        save_strategy="steps" if plan.save_steps > 0 else "no",
        save_steps=plan.save_steps if plan.save_steps > 0 else 500,
        save_total_limit=config.save_total_limit,
        eval_strategy="steps" if eval_data is not None else "no",
        eval_steps=plan.eval_steps or None,
        per_device_eval_batch_size=config.batch_size,
        prediction_loss_only=True,
        label_names=["labels"],  # StudentLM's forward names no labels: without this, evaluation computes no loss
        load_best_model_at_end=early,  # the adapter saved is the best by eval_loss
        metric_for_best_model="eval_loss" if early else None,
        greater_is_better=False if early else None,
        report_to=[],  # reporter_callbacks: our own TensorBoard folder, trackio kept local
        project=TRACKIO_PROJECT,
        run_name=out.name,
        seed=config.seed,
        data_seed=config.seed,
        bf16=use_bf16,
        use_cpu=lm.device.type == "cpu",
        dataloader_num_workers=0,
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length",
        disable_tqdm=os.environ.get("KD_STUDIO_PROGRESS") != "1",
    )
    main_process = args.process_index == 0  # the job folder has one writer
    resume_step = _checkpoint_step(resume_from_checkpoint) if resume_from_checkpoint else None
    if main_process:
        if resume_from_checkpoint:
            truncate_log(log_path, resume_step)
        else:
            log_path.unlink(missing_ok=True)
    reports = reporter_callbacks(config, out, resume_step) if main_process else []
    if early:
        from transformers import EarlyStoppingCallback

        reports.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    trainer = LossTrainer(
        model=model, args=args, train_dataset=data, eval_dataset=eval_data, data_collator=collate(lm.tokenizer.pad_token_id),
        callbacks=[jsonl_logger(log_path, n_tokens), *reports, *callbacks],
        train_config=config, teacher=teacher_lm.model if teacher_lm is not None else None,
    )
    if not print_logs:  # the caller prints its own progress lines
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    if eval_data is not None and trainer.state.global_step % plan.eval_steps:
        trainer.evaluate()  # the final adapter's eval_loss, when the last step was not an evaluation step
    wall = time.perf_counter() - t0
    adapter_dir = out / "adapter"
    teacher_label = None if config.loss == "sft" else (teacher_lm.spec.label() if teacher_lm else "self (adapter disabled)")
    if main_process:
        save_adapter(model, lm.tokenizer, adapter_dir, base_name=portable_name(lm.spec.name))
        write_json(out / "train_config.json",
                   {"config": config.to_dict(), "student": lm.spec.to_dict(), "teacher": teacher_label, "processes": world})
    trainer.accelerator.wait_for_everyone()  # every process returns with the adapter on disk
    size = sum(f.stat().st_size for f in adapter_dir.glob("adapter_model*"))
    epochs_done = (trainer.state.epoch or 0.0) - (_checkpoint_epoch(resume_from_checkpoint) if resume_from_checkpoint else 0.0)
    summary = {
        "steps": result.global_step,
        "wall_s": round(wall, 1),
        "examples": len(data),
        "tokens_per_epoch": n_tokens,
        "tokens_per_s": round(n_tokens * epochs_done / wall, 1) if wall > 0 else None,
        "final_loss": _last_loss(log_path),
        **({"eval_examples": len(eval_data), **eval_summary(read_log_rows(log_path))} if eval_data is not None else {}),
        **({"best_checkpoint": Path(trainer.state.best_model_checkpoint).name} if early and trainer.state.best_model_checkpoint else {}),
        "resumed_from_step": resume_step,
        "checkpoint_every": plan.save_steps or None,
        "reports": config.reporters(),
        "train_loss": round(result.training_loss, 4),
        "loss": config.loss,
        "teacher": teacher_label,
        "stopped_early": bool(trainer.control.should_training_stop and result.global_step < trainer.state.max_steps),
        "adapter": str(adapter_dir),
        "adapter_mb": round(size / 2**20, 2),
        "processes": world,
        "compute": devices.compute_name(lm.device, lm.dtype),
        "teacher_cache": None if trainer.teacher_cache is None else {
            "hits": trainer.teacher_cache.hits, "misses": trainer.teacher_cache.misses,
            "mb": round(trainer.teacher_cache.bytes / 2**20, 1)},
    }
    if main_process:  # the card, now with the run's figures (save_adapter wrote one without them)
        write_adapter_card(adapter_dir, lm.spec.name, config, summary, examples, teacher_label)
    return summary


def save_adapter(model: Any, tokenizer: Any, adapter_dir: str | Path, base_name: str | None = None) -> Path:
    """Save the LoRA (and the tokenizer: the chat template used travels with the adapter)
    into `adapter_dir` durably: written whole into a folder beside it, synced, then
    swapped in (kd_core.data.files.replace_dir: an earlier adapter is renamed aside, the
    new one renamed in, the old one removed), so a kill during the save leaves the
    previous adapter or the new one, never a half-written one.

    `base_name` is what adapter_config.json and the model card name as the base (the
    Hub's way, kd_core.data.cards.portable_name), instead of the folder the weights were
    loaded from, which may be a converted GGUF in KD Studio's cache on this machine only."""
    import json
    import shutil

    adapter_dir = Path(adapter_dir)
    staged = temp_dir_beside(adapter_dir)
    try:
        model.save_pretrained(staged)
        tokenizer.save_pretrained(staged)
        if base_name:
            # Set in the saved file, not on the model: PEFT's save would look the name up
            # (on the Hub, for a hub id) to see whether the vocabulary changed.
            config = read_json(staged / "adapter_config.json")
            write_atomic(staged / "adapter_config.json", json.dumps({**config, "base_model_name_or_path": base_name}, indent=2, sort_keys=True))
            # PEFT's empty template card (naming the local folder) replaced by a filled one
            write_atomic(staged / "README.md", adapter_card(AdapterFacts(base=base_name)))
        replace_dir(staged, adapter_dir)
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # gone after the swap; a failed save leaves no staged folder
    return adapter_dir


def world_size() -> int:
    """Processes in this training run: the launcher's WORLD_SIZE (torchrun, accelerate launch), else 1."""
    return max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))


def _checkpoint_state(checkpoint: str) -> dict[str, Any]:
    return read_json(Path(checkpoint) / "trainer_state.json")


def _checkpoint_step(checkpoint: str) -> int:
    return int(_checkpoint_state(checkpoint).get("global_step", 0))


def _checkpoint_epoch(checkpoint: str) -> float:
    return float(_checkpoint_state(checkpoint).get("epoch") or 0.0)


def _last_loss(log_path: Path) -> float | None:
    losses = [r["loss"] for r in read_jsonl(log_path) if "loss" in r]
    return losses[-1] if losses else None
