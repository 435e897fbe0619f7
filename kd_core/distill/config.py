"""Prompt distillation's settings (one dataclass per stage, read from YAML with every
field checked) and the names of its files in the project folder."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from kd_core.data.config import checked_fields
from kd_core.data.references import is_reference
from kd_core.errors import InputFileError, KDError
from kd_core.project import Project
from kd_core.runtime import runs
from kd_core.training.config import LoraSettings, TrainConfig

if TYPE_CHECKING:
    from kd_core.models.loading import ModelSpec

DEMO_RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "demo-prompt-distillation.yaml"
PD_DIR = "pd"  # the run's name (kd_core.runtime.runs); every path inside a project comes from kd_core.project.Project
STAGES = ("ingest", "questions", "answers", "train", "evaluate")
SYSTEMS = ("closed-book", "sft", "pd", "rag", "pd+rag")
MODES = ("kd", "sft")  # which answers: sampled for the KD student, low temperature for SFT
RUN_ACTIVE = runs.ACTIVE
WHAT = "prompt-distillation run"
LIVE = ("pending", "accepted", "edited")  # questions that are trained on: all but rejected
META_QUESTIONS = "pd.questions"  # chunk id -> writer calls done
META_QUESTION_STATS = "pd.question_stats"

Log = Callable[[str], None]



@dataclass
class QuestionSettings:
    per_call: int = 5  # the authors' code: 5 questions per call, 6 calls per paragraph
    calls: int = 6
    temperature: float = 1.5
    top_k: int = 50
    top_p: float = 1.0
    max_new_tokens: int = 256
    batch_size: int = 16
    require_name: bool = True  # keep only questions naming a name of their chunk: "What year was it built?" teaches nothing
    writer: str | None = None  # another model writes the questions (default: the model itself)


@dataclass
class TeacherSettings:
    temperature: float = 1.5  # the method's sampled answers (for KD)
    top_k: int = 50
    top_p: float = 1.0
    sft_temperature: float = 0.25  # the SFT baseline's answers
    max_new_tokens: int = 500
    batch_size: int = 16


@dataclass
class EvalSettings:
    questions: str = ""  # held-out questions: a JSONL file (question, answer[s]) or demo:test
    rag_k: int = 2  # chunks BM25 puts into the prompt
    max_new_tokens: int = 48
    batch_size: int = 16
    systems: list[str] = field(default_factory=lambda: list(SYSTEMS))


def _pd_train() -> TrainConfig:
    # The authors' defaults (methods.md): LoRA on every projection and the output layer,
    # alpha 2r, dropout 0.05, AdamW weight decay 0.1, 10% warmup then linear decay,
    # forward KL at T=2.  Rank 1024 and lr 1e-5 over 10 epochs assume 7B models on GPUs;
    # rank 16 and a higher rate are what a small model and a CPU afford (their ablation:
    # rank 16 already beats SFT).
    return TrainConfig(loss="kd", epochs=3.0, learning_rate=5e-4, batch_size=8, max_length=640, warmup=0.1,
                       weight_decay=0.1, kd_temperature=2.0, logging_steps=5, save_steps=50,
                       lora=LoraSettings(r=16, alpha=32, dropout=0.05, target_modules="all-linear"))


def _sft_train() -> TrainConfig:
    return replace(_pd_train(), loss="sft", lora=LoraSettings(r=16, alpha=32, dropout=0.05))


@dataclass
class PDConfig:
    model: Any = "demo:smollm2-135m-instruct"  # a name or a ModelSpec mapping
    documents: list[str] = field(default_factory=list)  # files (.txt, .md, .jsonl) or demo:documents
    chunk_tokens: int = 256
    system: str | None = None  # one system message for writer, teacher and student (None: the template's)
    seed: int = 0
    questions: QuestionSettings = field(default_factory=QuestionSettings)
    teacher: TeacherSettings = field(default_factory=TeacherSettings)
    train_pd: TrainConfig = field(default_factory=_pd_train)
    train_sft: TrainConfig = field(default_factory=_sft_train)
    eval: EvalSettings = field(default_factory=EvalSettings)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("train_pd", "train_sft"):
            out[key].pop("output_dir", None)  # a job fills it
        if not isinstance(self.model, str):
            out["model"] = self.model.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "pd", base_dir: Path | None = None) -> "PDConfig":
        """From a YAML mapping; an unknown or mistyped setting is named with its path."""
        values = checked_fields(cls, data or {}, where)
        nested = {"questions": QuestionSettings, "teacher": TeacherSettings, "eval": EvalSettings}
        for key, kind in nested.items():
            if isinstance(values.get(key), dict):
                values[key] = kind(**checked_fields(kind, values[key], f"{where}.{key}"))
        for key in ("train_pd", "train_sft"):
            if isinstance(values.get(key), dict):
                default = (_pd_train() if key == "train_pd" else _sft_train()).to_dict()
                merged = {**default, **values[key], "lora": {**default["lora"], **(values[key].get("lora") or {})}}
                values[key] = TrainConfig.from_dict(merged, f"{where}.{key}")
        config = cls(**values)
        if base_dir is not None:  # relative files are relative to the config file
            config.documents = [d if is_reference(d) or Path(d).is_absolute() else str(base_dir / d) for d in config.documents]
            q = config.eval.questions
            if q and not is_reference(q) and not Path(q).is_absolute():
                config.eval.questions = str(base_dir / q)
        config.validate(where)
        return config

    def validate(self, where: str = "pd") -> None:
        q, t, e = self.questions, self.teacher, self.eval
        checks = [
            ("chunk_tokens", self.chunk_tokens >= 16, self.chunk_tokens, "must be >= 16"),
            ("questions.per_call", q.per_call >= 1, q.per_call, "must be >= 1"),
            ("questions.calls", q.calls >= 1, q.calls, "must be >= 1"),
            ("questions.temperature", q.temperature > 0, q.temperature, "must be > 0"),
            ("questions.max_new_tokens", q.max_new_tokens >= 8, q.max_new_tokens, "must be >= 8"),
            ("questions.batch_size", q.batch_size >= 1, q.batch_size, "must be >= 1"),
            ("teacher.temperature", t.temperature > 0, t.temperature, "must be > 0"),
            ("teacher.sft_temperature", t.sft_temperature > 0, t.sft_temperature, "must be > 0"),
            ("teacher.max_new_tokens", t.max_new_tokens >= 1, t.max_new_tokens, "must be >= 1"),
            ("teacher.batch_size", t.batch_size >= 1, t.batch_size, "must be >= 1"),
            ("eval.rag_k", e.rag_k >= 1, e.rag_k, "must be >= 1"),
            ("eval.batch_size", e.batch_size >= 1, e.batch_size, "must be >= 1"),
        ]
        for name, ok, value, why in checks:
            if not ok:
                raise KDError(f"{where}.{name}: {why} (got {value!r})")
        unknown = [s for s in e.systems if s not in SYSTEMS]
        if unknown:
            raise KDError(f"{where}.eval.systems: '{unknown[0]}' is not a system (choose from {', '.join(SYSTEMS)})")
        if self.train_pd.loss != "kd":
            raise KDError(f"{where}.train_pd.loss: prompt distillation trains with 'kd' (got '{self.train_pd.loss}')")
        if self.train_sft.loss != "sft":
            raise KDError(f"{where}.train_sft.loss: the SFT baseline trains with 'sft' (got '{self.train_sft.loss}')")

    def model_spec(self) -> ModelSpec:
        from kd_core.runtime.jobs import model_spec_from

        return model_spec_from(self.model, "model")


def load_pd_config(path: str | Path) -> PDConfig:
    """A PDConfig from a YAML file (its settings at the top or under `pd:`); every problem
    names the file and the setting."""
    from kd_core.data.config import read_yaml

    data, path = read_yaml(path)
    try:
        return PDConfig.from_dict(data.get("pd", data) if isinstance(data, dict) else data, base_dir=path.parent)
    except KDError as e:
        raise InputFileError(f"{path}: {e}") from None


def pd_config_path(project: str | Path) -> Path:
    """Where a project keeps the settings its prompt-distillation runs read (pd/config.yaml)."""

    return Project.at(project).pd_dir / "config.yaml"


def pd_results_path(project: str | Path) -> Path:
    """The last evaluate stage's results (pd/results.json: accuracy, correct, n, wall_s per system)."""

    return Project.at(project).pd_dir / "results.json"


def save_pd_config(project: str | Path, config: PDConfig) -> Path:
    """Write `config` as the project's saved settings, atomically (a run reading it never
    sees half a file); returns its path."""
    import yaml

    from kd_core.data.files import write_atomic

    path = pd_config_path(project)
    write_atomic(path, yaml.safe_dump(config.to_dict(), sort_keys=False))
    return path

