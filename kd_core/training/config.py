"""A training run's settings: `TrainConfig` (with its `LoraSettings`) round-trips
through YAML (`to_dict` / `TrainConfig.from_dict`) and is validated before any model
loads, so a bad setting fails in a second, not minutes into a job."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kd_core.data.config import checked_fields
from kd_core.errors import KDError

LOSSES = ("sft", "kd", "mix")


@dataclass
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"

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
    output_dir: str = ""  # a job fills it with its own folder
    loss: str = "sft"  # sft | kd | mix
    epochs: float = 3.0
    max_steps: int = -1  # > 0: stop after this many optimizer steps (overrides epochs)
    learning_rate: float = 1e-3
    batch_size: int = 16
    grad_accum: int = 1
    max_length: int = 384  # student sequence; the teacher sees its whole prompt plus the same response tokens
    warmup: float = 0.05  # ratio of total steps
    weight_decay: float = 0.0
    scheduler: str = "linear"
    logging_steps: int = 5
    save_steps: int = 0  # > 0: a checkpoint every N steps (resumable); stop-and-save always writes one
    save_total_limit: int = 2
    seed: int = 0
    system: str | None = None  # system message for every prompt (None: the template's default)
    kd_temperature: float = 2.0  # both distributions softened by T; the loss is scaled by T^2
    kd_weight: float = 1.0  # mix: loss = sft_weight * sft + kd_weight * kd
    sft_weight: float = 1.0
    kd_chunk_size: int = 0  # response positions per output-layer chunk; 0: about 16M logits a chunk
    teacher_cache_mb: int = 1024  # kd/mix: keep the frozen teacher's states across epochs, up to this much CPU memory (0: off)
    lora: LoraSettings = field(default_factory=LoraSettings)

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
            ("save_steps", self.save_steps >= 0, "must be >= 0"),
            ("kd_chunk_size", self.kd_chunk_size >= 0, "must be >= 0 (0: automatic)"),
            ("teacher_cache_mb", self.teacher_cache_mb >= 0, "must be >= 0 (0: no cache)"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise KDError(f"{where}.{name}: {why} (got {getattr(self, name)!r})")
        if self.loss == "mix" and self.kd_weight == 0 and self.sft_weight == 0:
            raise KDError(f"{where}: loss 'mix' needs kd_weight or sft_weight above 0")
        if isinstance(self.lora, LoraSettings):
            self.lora.validate(f"{where}.lora")
