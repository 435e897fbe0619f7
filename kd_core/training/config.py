"""A training run's settings: `TrainConfig` (with its `LoraSettings`) round-trips
through YAML (`to_dict` / `TrainConfig.from_dict`) and is validated before any model
loads, so a bad setting fails in a second, not minutes into a job.

Every field carries its help text as dataclass field metadata (``metadata={"help": ...}``,
the way TRL and transformers document their arguments); fields with a fixed set of
values also carry ``"choices"``.  The Train tab's form is generated from these
(``ui.train_form``), so the form, the YAML and this file cannot drift apart."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kd_core.data.config import checked_fields
from kd_core.errors import KDError

LOSSES = ("sft", "kd", "mix")
# Where training reports besides the job's log.jsonl; all of them write local files only
# (a hosted tracker would need the network, which KD Studio never reaches).
REPORTERS = ("tensorboard", "trackio", "none")
# transformers' schedulers that need no extra arguments (any SchedulerType name is passed through).
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt")
AUTO_SAVE_CAP = 500  # automatic checkpoints: about 10 a run, but at least one every this many steps


def help_text(cls: type, name: str) -> str:
    """The help text of field `name` of the config dataclass `cls`."""
    return cls.__dataclass_fields__[name].metadata.get("help", "")


@dataclass
class LoraSettings:
    r: int = field(default=16, metadata={"help": "LoRA rank: the width of each low-rank update. Higher learns more and "
                                                  "makes a larger adapter (8-64 is usual)."})
    alpha: int = field(default=32, metadata={"help": "LoRA scaling: each update is multiplied by alpha / r "
                                                      "(2 x r is a common choice)."})
    dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input during training (0 to < 1); "
                                                            "0 for tiny data sets is fine."})
    target_modules: str | list[str] = field(default="all-linear", metadata={
        "help": "Layers that get a LoRA: 'all-linear' (every linear layer but the output layer), or a list of "
                "module names such as q_proj, v_proj."})
    full_blocks: bool = field(default=False, metadata={
        "help": "Full fine-tune: train every weight of every transformer block and of the final norm; the "
                "token embedding (tied to the output layer in most small models) stays frozen, and r, alpha, "
                "dropout and target_modules are not read. Saved in the adapter as peft's modules_to_save, so "
                "chat, evaluation, merge and export read it like any adapter. It is as large as the blocks, and "
                "training holds them four more times (the frozen originals, gradients, AdamW's two moments)."})

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "lora") -> "LoraSettings":
        return cls(**checked_fields(cls, data, where))

    def validate(self, where: str = "lora") -> None:
        """peft rejects these only once the job process has loaded the model; alpha 0
        would train an adapter whose update is always scaled to nothing."""
        checks = [("r", self.r >= 1, "must be >= 1"), ("alpha", self.alpha > 0, "must be > 0"),
                  ("dropout", 0 <= self.dropout < 1, "must be >= 0 and < 1")]
        for name, ok, why in checks:
            if not ok:
                raise KDError(f"{where}.{name}: {why} (got {getattr(self, name)!r})")


@dataclass
class TrainConfig:
    output_dir: str = field(default="", metadata={
        "help": "Folder of the run (log, checkpoints, adapter); a job fills it with its own folder."})
    loss: str = field(default="sft", metadata={
        "choices": LOSSES,
        "help": "sft: cross-entropy on the response tokens; kd: forward KL from the teacher's distribution "
                "(teacher and student must share a tokenizer); mix: sft_weight x sft + kd_weight x kd."})
    epochs: float = field(default=3.0, metadata={"help": "Passes over the training data (fractions allowed); "
                                                          "ignored when max_steps > 0."})
    max_steps: int = field(default=-1, metadata={"help": "> 0: stop after this many optimizer steps (overrides epochs); "
                                                          "-1: train for epochs."})
    learning_rate: float = field(default=1e-3, metadata={"help": "Peak learning rate of AdamW (LoRA usually takes "
                                                                  "1e-4 to 2e-3)."})
    batch_size: int = field(default=16, metadata={"help": "Examples per optimizer step (times grad_accum); split "
                                                           "across processes when several train together."})
    grad_accum: int = field(default=1, metadata={"help": "Gradient accumulation: micro-batches per optimizer step. "
                                                          "Raise it to train a large batch in less memory."})
    max_length: int = field(default=384, metadata={
        "help": "Longest student sequence in tokens (prompt + response; longer ones are cut). The teacher sees "
                "its whole prompt plus the same response tokens."})
    warmup: float = field(default=0.05, metadata={"help": "Learning-rate warmup as a ratio of the total steps "
                                                           "(below 1), or a number of steps (1 and above)."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay on the LoRA weights."})
    scheduler: str = field(default="linear", metadata={
        "choices": SCHEDULERS, "help": "Learning-rate schedule after warmup (a transformers scheduler name)."})
    logging_steps: int = field(default=5, metadata={"help": "A row in log.jsonl (loss, learning rate, tokens/s, ETA) "
                                                             "every this many optimizer steps."})
    save_steps: int = field(default=-1, metadata={
        "help": "A resumable checkpoint every this many steps. -1: automatic (about 10 per run, at least every "
                f"{AUTO_SAVE_CAP} steps); 0: none. Stop-and-save always writes one."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept (the oldest are deleted; with "
                                                                "early stopping the best is kept too)."})
    seed: int = field(default=0, metadata={"help": "Seed of the LoRA's initial weights, the data order and the "
                                                    "evaluation split."})
    system: str | None = field(default=None, metadata={
        "help": "System message for every prompt; empty: the chat template's default."})
    kd_temperature: float = field(default=2.0, metadata={
        "help": "kd/mix: both distributions are softened by this temperature T and the KD loss is scaled by T^2. "
                "1 matches the teacher's own distribution; the prompt-distillation experiments found it decisive."})
    kd_weight: float = field(default=1.0, metadata={"help": "mix: weight of the KD loss (loss = sft_weight x sft + "
                                                             "kd_weight x kd)."})
    sft_weight: float = field(default=1.0, metadata={"help": "mix: weight of the cross-entropy loss."})
    kd_chunk_size: int = field(default=0, metadata={
        "help": "Response positions per output-layer chunk, for every loss (bounds memory; the name is older "
                "than sft's use of it); 0: automatic, about 16M logits a chunk."})
    teacher_cache_mb: int = field(default=1024, metadata={
        "help": "kd/mix: keep the frozen teacher's states across epochs, up to this much CPU memory in MB "
                "(0: recompute every epoch)."})
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"], metadata={
        "choices": REPORTERS,
        "help": "Where training reports besides log.jsonl: tensorboard (event files in the job's runs/ folder), "
                "trackio (its local database; `trackio show` opens it), or none. Nothing is sent over the network."})
    eval_fraction: float = field(default=0.0, metadata={
        "help": "Hold out this fraction of the training data (0 to < 1; picked with the seed) and log its loss "
                "as eval_loss. 0: no evaluation split."})
    eval_data: str = field(default="", metadata={
        "help": "A separate evaluation file (same formats as the training data) instead of eval_fraction; empty: none."})
    eval_steps: int = field(default=0, metadata={
        "help": "Evaluate every this many optimizer steps when there is an evaluation split; 0: automatic "
                "(about 10 times a run, at the checkpoints)."})
    early_stopping_patience: int = field(default=0, metadata={
        "help": "Stop when eval_loss has not improved for this many evaluations and keep the best adapter "
                "(needs eval_fraction or eval_data); 0: off."})
    lora: LoraSettings = field(default_factory=LoraSettings, metadata={"help": "The LoRA adapter's shape."})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "train") -> "TrainConfig":
        """Build from plain data (a YAML mapping), naming any unknown or mistyped field."""
        values = checked_fields(cls, data, where)
        if isinstance(values.get("lora"), dict):
            values["lora"] = LoraSettings.from_dict(values["lora"], f"{where}.lora")
        config = cls(**values)
        config.validate(where)
        return config

    def has_eval(self) -> bool:
        """Whether this run holds out (or reads) an evaluation split."""
        return self.eval_fraction > 0 or bool(self.eval_data)

    def reporters(self) -> list[str]:
        """The trackers to report to ("none" and an empty list: only log.jsonl)."""
        return [r for r in self.report_to if r != "none"]

    def validate(self, where: str = "train") -> None:
        """Reject settings that would fail (or silently misbehave) minutes into training."""
        if self.loss not in LOSSES:
            raise KDError(f"{where}.loss: '{self.loss}' is not a loss (choose one of {', '.join(LOSSES)})")
        checks = [
            ("kd_temperature", self.kd_temperature > 0, "must be > 0"),
            ("kd_weight", self.kd_weight >= 0, "must be >= 0"),
            ("sft_weight", self.sft_weight >= 0, "must be >= 0"),
            ("epochs", self.epochs > 0 or self.max_steps > 0, "must be > 0 (or set max_steps)"),
            ("learning_rate", self.learning_rate > 0, "must be > 0"),
            ("batch_size", self.batch_size >= 1, "must be >= 1"),
            ("grad_accum", self.grad_accum >= 1, "must be >= 1"),
            ("max_length", self.max_length >= 2, "must be >= 2"),
            ("logging_steps", self.logging_steps >= 1, "must be >= 1"),
            ("save_steps", self.save_steps >= -1, "must be >= 0 (or -1: automatic)"),
            ("kd_chunk_size", self.kd_chunk_size >= 0, "must be >= 0 (0: automatic)"),
            ("teacher_cache_mb", self.teacher_cache_mb >= 0, "must be >= 0 (0: no cache)"),
            ("eval_fraction", 0 <= self.eval_fraction < 1, "must be >= 0 and < 1 (0: no evaluation split)"),
            ("eval_steps", self.eval_steps >= 0, "must be >= 0 (0: automatic)"),
            ("early_stopping_patience", self.early_stopping_patience >= 0, "must be >= 0 (0: off)"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise KDError(f"{where}.{name}: {why} (got {getattr(self, name)!r})")
        if self.loss == "mix" and self.kd_weight == 0 and self.sft_weight == 0:
            raise KDError(f"{where}: loss 'mix' needs kd_weight or sft_weight above 0")
        self._validate_reports(where)
        if isinstance(self.lora, LoraSettings):
            self.lora.validate(f"{where}.lora")

    def _validate_reports(self, where: str) -> None:
        for name in self.report_to:
            if name not in REPORTERS:
                raise KDError(f"{where}.report_to: '{name}' is not a reporter KD Studio writes "
                              f"(choose from {', '.join(REPORTERS)}; each writes local files only)")
        if "none" in self.report_to and len(self.report_to) > 1:
            raise KDError(f"{where}.report_to: 'none' cannot be combined with {[r for r in self.report_to if r != 'none']}")
        if self.eval_fraction > 0 and self.eval_data:
            raise KDError(f"{where}: set eval_fraction or eval_data, not both (got {self.eval_fraction} and '{self.eval_data}')")
        if self.early_stopping_patience > 0:
            if not self.has_eval():
                raise KDError(f"{where}.early_stopping_patience: needs an evaluation split to watch "
                              f"(set {where}.eval_fraction above 0 or {where}.eval_data)")
            if self.save_steps == 0:
                raise KDError(f"{where}.early_stopping_patience: needs checkpoints (the best one is kept); "
                              f"set {where}.save_steps to -1 (automatic) or above 0")
            if self.save_steps > 0 and self.eval_steps > 0 and self.save_steps % self.eval_steps:
                raise KDError(f"{where}.save_steps ({self.save_steps}) must be a multiple of {where}.eval_steps "
                              f"({self.eval_steps}) with early stopping: each checkpoint must have its eval_loss")
