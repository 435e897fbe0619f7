"""A TuneShift-KD recipe file: its settings (models, seeds, expansion, arms, training,
evaluation), read from YAML with every field checked, and written back; the run is
kd_core.tuneshift.recipe."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kd_core.data.config import checked_fields
from kd_core.data.files import write_atomic
from kd_core.data.references import default_model, is_reference
from kd_core.errors import InputFileError, KDError
from kd_core.training.config import LOSSES, LoraSettings, TrainConfig
from kd_core.tuneshift.expansion import ExpansionConfig

if TYPE_CHECKING:
    from kd_core.distill.config import PDConfig
    from kd_core.models.loading import ModelSpec

RECIPE_DIR = "recipe"  # <project>/recipe/: the run's status.json, process.log, run.lock, stages.json, config.yaml
REPORT_DIR = "report"
DATA_DIR = "data"
WHAT = "recipe run"
STAGES = ("expand", "data", "train", "evaluate", "report")
SELECTIONS = ("accepted", "threshold", "random", "seeds")
CURATION = ("auto", "manual")
LIVE = ("pending", "accepted", "edited")  # not rejected


@dataclass
class Arm:
    """One transfer: a selection of the pool's prompts trained into one target."""

    name: str
    target: str  # a key of TuneShiftRecipe.targets
    select: str = "accepted"  # one of SELECTIONS
    threshold: float | None = None  # select: threshold
    size: int | None = None  # select: random (None: as many as `accepted` selects)
    seed: int = 0  # select: random
    replay: int = 0  # generic prompts (the recipe's `replay` file) answered by the target itself, trained on too
    # More answers per selected prompt, sampled from the fine-tuned model at `sample_temperature`; one is
    # kept when it is new and states every high-gap name of the prompt's stored (greedy) answer: other
    # wordings of the answer, checked against the teacher's own slips (recipe.sampled_rows).
    samples: int = 0
    sample_temperature: float = 0.7
    # The arm's loss (sft, kd or mix; None: the recipe's train.loss). kd and mix learn the fine-tuned
    # model's whole next-token distribution, not only its greedy answer; they need a target that shares
    # its tokenizer (the trainer refuses another before any step). On the demo, mix into SmolLM2-135M
    # beat SFT on the same pairs and steps, 38.4% vs 27.3% (README "The transfer study").
    loss: str | None = None
    # Any other training settings this arm changes, as a part of the recipe's `train` mapping
    # (e.g. {learning_rate: 1.0e-4, lora: {full_blocks: true}}: a full fine-tune of the target).
    train: dict[str, Any] = field(default_factory=dict)

    def train_config(self, train: TrainConfig, where: str = "arm") -> TrainConfig:
        """The recipe's training settings with this arm's own (`loss`, then `train`)."""
        if not isinstance(self.train, dict) or not isinstance(self.train.get("lora") or {}, dict):
            raise KDError(f"{where}.train: expected a mapping of training settings, got {self.train!r}")
        over = {**self.train, **({"loss": self.loss} if self.loss else {})}
        if not over:
            return train
        base = train.to_dict()
        return TrainConfig.from_dict({**base, **over, "lora": {**base["lora"], **(over.get("lora") or {})}}, f"{where}.train")


@dataclass
class MoreRounds:
    """Rounds after the `expand` ones, with other generators (e.g. quiz once crawl has
    found the facts): `rounds` more, each asking `per_round` (default: expand's) of each."""

    generators: list[str]
    rounds: int = 1
    per_round: int | None = None
    stop_when: str | None = None  # expansion's stop_when for these rounds (default: expand's)


@dataclass
class RecipeEval:
    questions: str = "demo:test"  # held-out questions with answers (JSONL or demo:SPLIT)
    control: str | None = "demo:control"  # generic questions: what the transfer must not break
    max_new_tokens: int = 48
    batch_size: int = 16


def _train() -> TrainConfig:
    # What the demo transfer measured best on a 2-core CPU (assets/demo/runs/transfer-gemma-sft).
    return TrainConfig(loss="sft", epochs=4.0, learning_rate=1e-3, batch_size=8, logging_steps=5,
                       lora=LoraSettings(r=16, alpha=32))


@dataclass
class TuneShiftRecipe:
    name: str = "tuneshift"
    base: Any = "demo:smollm2-135m-instruct"  # a model name or a ModelSpec mapping
    finetuned: Any = field(default_factory=lambda: default_model("finetuned"))  # the demo's: its SmolLM2 + LoRA
    seeds: str = "demo:seeds"  # a prompt file (any kd_core.data.prompt_files format) or demo:seeds
    expand: ExpansionConfig = field(default_factory=ExpansionConfig)
    more_rounds: list[MoreRounds] = field(default_factory=list)
    curation: str = "auto"
    targets: dict[str, Any] = field(default_factory=lambda: {"gemma3-270m": "demo:gemma3-270m"})
    arms: list[Arm] = field(default_factory=list)  # none: one `accepted` arm per target
    replay: str = "demo:replay"  # generic prompts for the arms' `replay` (a prompt file, or the demo's 160)
    train: TrainConfig = field(default_factory=_train)
    eval: RecipeEval = field(default_factory=RecipeEval)

    def __post_init__(self) -> None:
        if not self.arms:
            self.arms = [Arm(name=t, target=t) for t in self.targets]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["train"].pop("output_dir", None)
        for key in ("base", "finetuned"):
            if not isinstance(getattr(self, key), (str, dict)):
                out[key] = getattr(self, key).to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "tuneshift", base_dir: Path | None = None) -> "TuneShiftRecipe":
        """From a YAML mapping; an unknown or mistyped setting is named with its path."""
        values = checked_fields(cls, data or {}, where)
        if isinstance(values.get("expand"), dict):
            values["expand"] = ExpansionConfig.from_dict(values["expand"], f"{where}.expand")
        if isinstance(values.get("eval"), dict):
            values["eval"] = RecipeEval(**checked_fields(RecipeEval, values["eval"], f"{where}.eval"))
        if isinstance(values.get("train"), dict):
            default = _train().to_dict()
            merged = {**default, **values["train"], "lora": {**default["lora"], **(values["train"].get("lora") or {})}}
            values["train"] = TrainConfig.from_dict(merged, f"{where}.train")
        if "arms" in values:
            if not isinstance(values["arms"], list):
                raise KDError(f"{where}.arms: expected a list of arms, got {type(values['arms']).__name__}")
            values["arms"] = [Arm(**checked_fields(Arm, a, f"{where}.arms[{i}]")) for i, a in enumerate(values["arms"])]
        if isinstance(values.get("more_rounds"), list):
            values["more_rounds"] = [MoreRounds(**checked_fields(MoreRounds, m, f"{where}.more_rounds[{i}]"))
                                     for i, m in enumerate(values["more_rounds"])]
        if "targets" in values and not isinstance(values["targets"], dict):
            raise KDError(f"{where}.targets: expected a mapping of name: model, got {type(values['targets']).__name__}")
        recipe = cls(**values)
        if base_dir is not None:  # relative files are relative to the recipe file
            recipe.seeds = _relative(recipe.seeds, base_dir)
            recipe.replay = _relative(recipe.replay, base_dir)
            recipe.eval.questions = _relative(recipe.eval.questions, base_dir)
            recipe.eval.control = _relative(recipe.eval.control, base_dir)
            recipe.base, recipe.finetuned = (_relative_model(m, base_dir) for m in (recipe.base, recipe.finetuned))
            recipe.targets = {k: _relative_model(m, base_dir) for k, m in recipe.targets.items()}
        recipe.validate(where)
        return recipe

    def validate(self, where: str = "tuneshift") -> None:
        if self.curation not in CURATION:
            raise KDError(f"{where}.curation: '{self.curation}' is not a policy (choose from {', '.join(CURATION)})")
        if not self.targets:
            raise KDError(f"{where}.targets: name at least one target model")
        try:
            self.expansion_plan()
        except KDError as e:
            raise KDError(f"{where}.more_rounds: {e}") from None
        names = [a.name for a in self.arms]
        for i, arm in enumerate(self.arms):
            at = f"{where}.arms[{i}]"
            if not arm.name or not all(c.isalnum() or c in "-_." for c in arm.name):
                raise KDError(f"{at}.name: '{arm.name}' must be letters, digits, '-', '_' or '.' (it names folders)")
            if names.count(arm.name) > 1:
                raise KDError(f"{at}.name: '{arm.name}' names two arms")
            if arm.target not in self.targets:
                raise KDError(f"{at}.target: '{arm.target}' is not one of the targets ({', '.join(self.targets)})")
            if arm.select not in SELECTIONS:
                raise KDError(f"{at}.select: '{arm.select}' is not a selection (choose from {', '.join(SELECTIONS)})")
            if arm.select == "threshold" and arm.threshold is None:
                raise KDError(f"{at}.threshold: select 'threshold' needs a gap threshold")
            if arm.size is not None and arm.size < 1:
                raise KDError(f"{at}.size: must be >= 1 (got {arm.size})")
            if not isinstance(arm.replay, int) or arm.replay < 0:
                raise KDError(f"{at}.replay: a number of generic prompts >= 0 (got {arm.replay!r})")
            if not isinstance(arm.samples, int) or isinstance(arm.samples, bool) or arm.samples < 0:
                raise KDError(f"{at}.samples: a number of sampled answers per prompt >= 0 (got {arm.samples!r})")
            if not isinstance(arm.sample_temperature, (int, float)) or not arm.sample_temperature > 0:
                raise KDError(f"{at}.sample_temperature: a temperature > 0 (got {arm.sample_temperature!r})")
            if arm.loss is not None and arm.loss not in LOSSES:
                raise KDError(f"{at}.loss: '{arm.loss}' is not a loss (choose one of {', '.join(LOSSES)})")
            arm.train_config(self.train, at)  # names a bad setting now, not when the arm trains
        for key in ("base", "finetuned"):
            self.model_spec(key)
        for name in self.targets:
            self.target_spec(name)

    def expansion_plan(self) -> list[ExpansionConfig]:
        """The expansion configs run one after the other: `expand`, then each of
        `more_rounds` as a config whose `rounds` counts every round before it too
        (run_expansion resumes from the rounds done)."""
        plan = [replace(self.expand, auto_accept=self.curation == "auto")]
        for m in self.more_rounds:
            if m.rounds < 1:
                raise KDError(f"rounds must be >= 1 (got {m.rounds})")
            plan.append(replace(plan[-1], rounds=plan[-1].rounds + m.rounds, generators=tuple(m.generators),
                                per_round=m.per_round or self.expand.per_round, stop_when=m.stop_when or self.expand.stop_when))
        return plan

    def model_spec(self, role: str) -> ModelSpec:
        from kd_core.runtime.jobs import model_spec_from

        return model_spec_from(getattr(self, role), role)

    def target_spec(self, name: str) -> ModelSpec:
        from kd_core.runtime.jobs import model_spec_from

        return model_spec_from(self.targets[name], f"targets.{name}")


def _relative(ref: str | None, base_dir: Path) -> str | None:
    if not ref or is_reference(ref) or Path(ref).expanduser().is_absolute():
        return ref
    return str((base_dir / ref).resolve())


def _relative_model(value: Any, base_dir: Path) -> Any:
    if isinstance(value, dict) and isinstance(value.get("adapter"), str):
        return {**value, "adapter": _relative(value["adapter"], base_dir)}
    return value


def load_recipe(path: str | Path) -> TuneShiftRecipe | PDConfig:
    """A TuneShiftRecipe (settings at the top or under ``tuneshift:``), or a PDConfig for a
    file with a ``pd:`` mapping; every problem names the file and the setting."""
    from kd_core.data.config import read_yaml
    from kd_core.distill.config import PDConfig

    data, path = read_yaml(path)
    try:
        if isinstance(data, dict) and "pd" in data:
            return PDConfig.from_dict(data["pd"], base_dir=path.parent)
        return TuneShiftRecipe.from_dict(data.get("tuneshift", data) if isinstance(data, dict) else data, base_dir=path.parent)
    except KDError as e:
        raise InputFileError(f"{path}: {e}") from None


def recipe_yaml(recipe: TuneShiftRecipe, comment: str = "") -> str:
    """The recipe as the YAML `load_recipe` reads back (the UI's "Save as recipe")."""
    import yaml

    head = "".join(f"# {line}\n" for line in comment.splitlines())
    return head + yaml.safe_dump({"tuneshift": recipe.to_dict()}, sort_keys=False)


def recipe_from_settings(config: ExpansionConfig, seeds: str | None, base: str | None = None, finetuned: str | None = None,
                         adapter: str | None = None, target: str | None = None, name: str = "tuneshift") -> TuneShiftRecipe:
    """A recipe of the Expand tab's settings (models left empty: the demo's), curation
    `auto` when the tab accepts above the threshold, else `manual`."""
    default = TuneShiftRecipe()
    base = (base or "").strip() or default.base
    finetuned, adapter, target = ((x or "").strip() for x in (finetuned, adapter, target))
    ft: Any = {"name": finetuned or base, "adapter": adapter} if adapter else finetuned or default.finetuned
    targets = {_slug(target): target} if target else default.targets
    recipe = TuneShiftRecipe(name=name, base=base, finetuned=ft, seeds=seeds or default.seeds, expand=replace(config),
                             curation="auto" if config.auto_accept else "manual", targets=targets)
    recipe.validate()
    return recipe


def _slug(model: str) -> str:
    tail = model.rstrip("/").split("/")[-1].split(":")[-1]
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in tail) or "target"


def save_recipe(project: str | Path, recipe: TuneShiftRecipe, comment: str = "") -> Path:
    """``<project>/recipe.yaml``; an earlier, different recipe there is kept (the new one
    takes a dated name)."""
    root = Path(project).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    text = recipe_yaml(recipe, comment)
    path = root / "recipe.yaml"
    if path.exists() and path.read_text() != text:
        path = root / f"recipe-{time.strftime('%Y%m%d-%H%M%S')}.yaml"
    write_atomic(path, text)
    return path
