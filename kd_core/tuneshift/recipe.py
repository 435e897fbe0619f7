"""TuneShift-KD as one recipe file, run headless: ``kd-studio run RECIPE.yaml --project P``.

The stages, each writing into the project folder and skipping what an earlier run
already wrote (kill it anywhere, run it again, it goes on):

1. expand    seeds -> the pool (``pool.sqlite``), round by round (kd_core.tuneshift.expansion);
             curation ``auto`` accepts what lands above the gap threshold; ``manual``
             stops here until a person has accepted prompts (the Curate tab).
2. data      one dataset per arm (``data/<arm>/dataset.jsonl`` and its data card): an
             arm names a target and a selection of the pool's prompts:
             ``accepted`` (what curation accepted), ``threshold`` (every answered
             prompt whose gap is at least `threshold`), ``random`` (as many prompts as
             ``accepted`` has, drawn without looking at the gap: the filter's
             ablation) or ``seeds`` (the seed prompts alone).
3. train     ``jobs/<arm>-<digest>``: a LoRA on the target from the fine-tuned model's
             answers (kd_core.runtime.jobs; the digest is of data, model and settings).
4. evaluate  held-out questions and the generic control set, greedy: the teacher, each
             target before transfer and each arm after (``eval/<name>/``: the
             Evaluate tab's table).
5. report    ``report/results.json``, ``report/report.md`` and a self-contained
             ``report/report.html`` (the pool's gap scatter, the rounds table, the
             training curves, the evaluation table).

A YAML file with a ``pd:`` mapping is a prompt-distillation recipe (kd_core.distill.pipeline);
`kd-studio run` runs either kind.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from kd_core.runtime import runs
from kd_core.errors import InputFileError, KDError
from kd_core.tuneshift.expansion import ExpansionConfig
from kd_core.models.generation import GenerationConfig
from kd_core.models.loading import DEMO_ADAPTER_DIR
from kd_core.tuneshift.pool import ACCEPTED, Pool, PoolFilter
from kd_core.data.config import checked_fields
from kd_core.training.config import LoraSettings, TrainConfig

Log = Callable[[str], None]

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


@dataclass
class MoreRounds:
    """Rounds after the `expand` ones, with other generators (e.g. quiz once crawl has
    found the facts): `rounds` more, each asking `per_round` (default: expand's) of each."""

    generators: list[str]
    rounds: int = 1
    per_round: int | None = None


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
    finetuned: Any = field(default_factory=lambda: {"name": "demo:smollm2-135m-instruct", "adapter": str(DEMO_ADAPTER_DIR)})
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
                                per_round=m.per_round or self.expand.per_round))
        return plan

    def model_spec(self, role: str):
        from kd_core.runtime.jobs import model_spec_from

        return model_spec_from(getattr(self, role), role)

    def target_spec(self, name: str):
        from kd_core.runtime.jobs import model_spec_from

        return model_spec_from(self.targets[name], f"targets.{name}")


def _relative(ref: str | None, base_dir: Path) -> str | None:
    if not ref or ref.startswith("demo:") or Path(ref).expanduser().is_absolute():
        return ref
    return str((base_dir / ref).resolve())


def _relative_model(value: Any, base_dir: Path) -> Any:
    if isinstance(value, dict) and isinstance(value.get("adapter"), str):
        return {**value, "adapter": _relative(value["adapter"], base_dir)}
    return value


def load_recipe(path: str | Path):
    """A TuneShiftRecipe (settings at the top or under ``tuneshift:``), or a PDConfig for a
    file with a ``pd:`` mapping; every problem names the file and the setting."""
    from kd_core.distill.pipeline import PDConfig
    from kd_core.data.config import read_yaml

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
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------
# Selections of the pool


def _selection(arm: Arm) -> PoolFilter:
    if arm.select == "accepted":
        return replace(ACCEPTED, has_response=True)
    if arm.select == "threshold":
        return PoolFilter(states=LIVE, min_gap=float(arm.threshold), has_response=True)
    if arm.select == "seeds":
        return PoolFilter(states=LIVE, sources="seed", has_response=True)
    return PoolFilter(states=LIVE, has_response=True)


def _answered(pool, where: PoolFilter) -> tuple[list[int], int]:
    """Ids matching `where` whose answer is not blank, and how many were blank: an
    empty answer teaches nothing (and the trainer refuses it)."""
    frame = pool.query(where)
    keep = [int(r.id) for r in frame.itertuples() if (r.response or "").strip()]
    return keep, len(frame) - len(keep)


def _select(pool, arm: Arm) -> tuple[list[int], int]:
    """(the ids an arm trains on, how many of its selection were left out for a blank answer)."""
    ids, blank = _answered(pool, _selection(arm))
    if arm.select != "random":
        return ids, blank
    size = arm.size or len(_answered(pool, _selection(replace(arm, select="accepted")))[0])
    if size > len(ids):
        raise KDError(f"arm {arm.name}: {size} prompts asked, the pool has {len(ids)} answered ones")
    return sorted(random.Random(arm.seed).sample(ids, size)), 0  # random draws among the rest


def selected_ids(pool, arm: Arm, recipe: TuneShiftRecipe) -> list[int]:
    """The pool's prompt ids an arm trains on (answered, never a rejected one)."""
    return _select(pool, arm)[0]


def write_arm_data(pool, project: Path, arm: Arm, recipe: TuneShiftRecipe, folder: Path | None = None,
                   log: Log = print) -> tuple[Path, int, int]:
    """``data/<arm>/dataset.jsonl`` (and its data card) of the arm's selection, then its
    replay; returns the file, its rows, and how many prompts the selection left out for
    a blank answer."""
    from kd_core.tuneshift.pool_export import export_dataset

    ids, blank = _select(pool, arm)
    if not ids:
        raise KDError(f"arm {arm.name}: the selection '{arm.select}' holds no answered prompt"
                      + (" (has curation accepted any? see the Curate tab)" if arm.select == "accepted" else ""))
    replay = replay_rows(recipe, project, arm, folder, log)
    card = {"source": "replay", "prompts": recipe.replay, "answered_by": recipe.target_spec(arm.target).label()} if replay else None
    result = export_dataset(pool, project / DATA_DIR / arm.name, PoolFilter(ids=ids), extra=replay, extra_card=card)
    return result.files["dataset.jsonl"], result.rows, blank


REPLAY_FILE = "replay.jsonl"  # data/<arm>/replay.jsonl: the target's own answers, read back by later runs


def _replay_prompts(ref: str) -> list[str]:
    from kd_core.demo.world import generic_questions
    from kd_core.data.prompt_files import read_prompts

    return generic_questions("replay") if ref == "demo:replay" else read_prompts(ref).prompts


def replay_rows(recipe: TuneShiftRecipe, project: Path, arm: Arm, folder: Path | None = None, log: Log = print) -> list[dict]:
    """The arm's replay as dataset rows: the first `arm.replay` prompts of `recipe.replay`,
    answered greedily by the untrained target. Trained on beside the teacher's answers,
    they hold the target to what it did before on generic prompts, which domain answers
    alone wear away (control accuracy falls as epochs rise). Kept in
    ``data/<arm>/replay.jsonl`` and read back while target, prompts and settings match."""
    if not arm.replay:
        return []
    from kd_core.distill.pipeline import jsonl_text, read_jsonl, write_atomic
    from kd_core.models.generation import generate, trim_to_sentence
    from kd_core.models.loading import load_model

    prompts = _replay_prompts(recipe.replay)[: arm.replay]
    spec = recipe.target_spec(arm.target)
    answer = replace(recipe.expand.answer, do_sample=False)
    key = {"target": spec.label(), "system": recipe.expand.system, "max_new_tokens": answer.max_new_tokens}
    path = project / DATA_DIR / arm.name / REPLAY_FILE
    cached = read_jsonl(path)
    if [c.get("prompt") for c in cached] != prompts or any({k: c.get(k) for k in key} != key for c in cached):
        log(f"data {arm.name}: the target answers {len(prompts)} replay prompts")
        with runs.DeviceHold(folder, spec.device, log) if folder else contextlib.nullcontext():
            lm = load_model(spec)
            answers = generate(lm, prompts, answer, system=recipe.expand.system)
            del lm
        cached = [{"prompt": p, "response": trim_to_sentence(a), **key} for p, a in zip(prompts, answers)]
        write_atomic(path, jsonl_text(cached))
    blank = sum(not c["response"].strip() for c in cached)
    if blank:
        log(f"data {arm.name}: {blank} replay answers left out: the target's answer is blank")
    return [{"messages": [{"role": "user", "content": c["prompt"]}, {"role": "assistant", "content": c["response"]}],
             "id": None, "source": "replay", "round": None, "gap": None} for c in cached if c["response"].strip()]


# ---------------------------------------------------------------------------
# The run


def run_recipe(recipe: TuneShiftRecipe, project: str | Path, stages: Sequence[str] = STAGES, arms: Sequence[str] | None = None,
               log: Log = print) -> dict[str, Any]:
    """Run the recipe's stages into `project` (see the module docstring); one run per
    project at a time, recorded in ``recipe/`` for the UI. Returns the report."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise KDError(f"unknown stage '{unknown[0]}' (stages: {', '.join(STAGES)})")
    recipe.validate()
    chosen = [a for a in recipe.arms if arms is None or a.name in arms]
    missing = sorted(set(arms or ()) - {a.name for a in recipe.arms})
    if missing:
        raise KDError(f"no arm named '{missing[0]}' (arms: {', '.join(a.name for a in recipe.arms)})")
    _check_inputs(recipe, stages)  # bad seed or question files fail before any model loads
    project = Path(project).expanduser()
    project.mkdir(parents=True, exist_ok=True)
    with Pool(project) as pool, runs.recorded(project, RECIPE_DIR, WHAT, stages=list(stages), stage=None) as folder:
        (folder / "config.yaml").write_text(recipe_yaml(recipe))
        return _run(recipe, project, pool, folder, stages, chosen, log)


def _check_inputs(recipe: TuneShiftRecipe, stages: Sequence[str]) -> None:
    from kd_core.evaluation.qa import question_set

    if "expand" in stages and recipe.seeds:
        _read_seeds(recipe.seeds)
    if "data" in stages and any(a.replay for a in recipe.arms):
        have = len(_replay_prompts(recipe.replay))
        for i, arm in enumerate(recipe.arms):
            if arm.replay > have:
                raise KDError(f"tuneshift.arms[{i}].replay: {arm.replay} replay prompts asked, {recipe.replay} holds {have}")
    if "evaluate" in stages:
        question_set(recipe.eval.questions, "eval.questions")
        if recipe.eval.control:
            question_set(recipe.eval.control, "eval.control")


def _read_seeds(ref: str):
    from kd_core.demo.world import seeds_path
    from kd_core.data.prompt_files import read_prompts

    return read_prompts(str(seeds_path()) if ref == "demo:seeds" else ref)


def _run(recipe: TuneShiftRecipe, project: Path, pool, folder: Path, stages: Sequence[str], arms: list[Arm], log: Log) -> dict[str, Any]:
    from kd_core.runtime import jobs

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        runs.update(folder, stage=name)
        t0 = time.perf_counter()
        out = fn()
        runs.add_time(folder, name, time.perf_counter() - t0)
        return out

    if "expand" in stages:
        timed("expand", lambda: expand_stage(recipe, pool, folder, log))
    if recipe.curation == "manual" and not pool.count(replace(ACCEPTED, has_response=True)):
        waiting = pool.count(PoolFilter(states="pending", has_response=True))
        log(f"curation is manual and nothing is accepted yet: review the {waiting} pending prompts (the Curate tab), "
            "then run the same command again")
        runs.update(folder, stage="waiting for curation")
        return {"waiting_for_curation": waiting}
    for arm in arms:
        if "data" in stages:
            path, rows, blank = timed(f"data {arm.name}", lambda: write_arm_data(pool, project, arm, recipe, folder, log))
            log(f"data {arm.name}: {rows} prompts ({arm.select}{f' + {arm.replay} replay' if arm.replay else ''}) -> {path}"
                + (f"; {blank} left out: the teacher's answer is blank" if blank else ""))
    train = replace(recipe.train, system=recipe.expand.system)
    if "train" in stages:
        for arm in arms:
            job = arm_job(recipe, project, arm, train)
            if job:
                timed(f"train {arm.name}", lambda: jobs.train_to_completion(
                    project, recipe.target_spec(arm.target), job[0], train, job[1], f"TuneShift-KD {recipe.name}: {arm.name}", log))
    adapters = trained_adapters(recipe, project, train)  # every arm's, for the report: one run may do only some
    if "evaluate" in stages:
        with runs.DeviceHold(folder, recipe.model_spec("finetuned").device, log):
            timed("evaluate", lambda: evaluate_stage(recipe, project, arms, adapters, log))
    report = build_report(recipe, project, pool, recipe.arms, adapters)
    report["stage_wall_s"] = runs.stage_times(folder)
    if "report" in stages:
        runs.update(folder, stage="report")
        log(f"report: {write_report(project, report, pool, recipe)}")
    return report


def arm_job(recipe: TuneShiftRecipe, project: Path, arm: Arm, train: TrainConfig) -> tuple[Path, str] | None:
    """The arm's dataset and the id of the job that trains it: a digest of the data, the
    target and the settings, so a changed arm trains anew and an unchanged one resumes.
    None before the data stage wrote the arm's data."""
    from kd_core.runtime import jobs

    data = project / DATA_DIR / arm.name / "dataset.jsonl"
    return (data, jobs.job_id_for(arm.name, data, recipe.target_spec(arm.target), train)) if data.exists() else None


def trained_adapters(recipe: TuneShiftRecipe, project: Path, train: TrainConfig) -> dict[str, str]:
    """arm name -> the adapter of the job that trained the arm's current data with the
    recipe's settings (an arm whose data or settings changed since has none)."""
    from kd_core.runtime import jobs

    out = {}
    for arm in recipe.arms:
        job = arm_job(recipe, project, arm, train)
        adapter = jobs.jobs_dir(project) / job[1] / "adapter" if job else None
        if adapter and (adapter / "adapter_config.json").exists():
            out[arm.name] = str(adapter)
    return out


def expand_stage(recipe: TuneShiftRecipe, pool, folder: Path, log: Log) -> list[dict]:
    """Seeds into an empty pool, then the rounds not done yet (kd_core.tuneshift.expansion)."""
    from kd_core.tuneshift.expansion import META_CURRENT, add_seeds, run_expansion
    from kd_core.models.loading import load_model

    plan = recipe.expansion_plan()
    done = len(pool.get_meta("expansion.rounds", []))
    current = pool.get_meta(META_CURRENT)
    if done >= plan[-1].rounds and current is None and pool.count():
        log(f"expand: {done} rounds done before")
        return pool.get_meta("expansion.rounds", [])
    with runs.DeviceHold(folder, recipe.model_spec("finetuned").device, log):
        base, ft = load_model(recipe.model_spec("base")), load_model(recipe.model_spec("finetuned"))
        if pool.count() == 0:
            seeds = _read_seeds(recipe.seeds)
            log(f"seeds: {add_seeds(pool, seeds.prompts, ft, plan[0], name=seeds.path).summary()}")
        last = {"t": 0.0}

        def progress(done: int, total: int, stage: str) -> None:  # the UI's status line follows the round
            if done == total or time.perf_counter() - last["t"] > 5:
                runs.update(folder, stage=f"expand · {stage}: {done}/{total}")
                last["t"] = time.perf_counter()

        # Each config runs its own rounds: an interrupted round resumes under the config
        # (and generators) that started it, not under the first one in the plan.
        next_round = current["round"] if current else done + 1
        history: list[dict] = pool.get_meta("expansion.rounds", [])
        for config in plan:
            if config.rounds >= next_round:
                history = run_expansion(pool, base, ft, config, progress=progress, log=log)
        return history


def _eval_plan(recipe: TuneShiftRecipe, arms: list[Arm], adapters: dict[str, str]) -> list[tuple[str, Any, str, str]]:
    """(evaluation name, model spec, question set, what it measures) for every evaluation."""
    sets = [("test", recipe.eval.questions)] + ([("control", recipe.eval.control)] if recipe.eval.control else [])
    models = [("teacher", recipe.model_spec("finetuned"), "teacher")]
    for t in dict.fromkeys(a.target for a in arms):
        models.append((f"{t}-before", recipe.target_spec(t), f"{t} before transfer"))
    for a in arms:
        if a.name in adapters:
            models.append((a.name, replace(recipe.target_spec(a.target), adapter=adapters[a.name]), f"{a.target} after ({a.select})"))
    return [(f"{m}-{s}", spec, ref, what) for m, spec, what in models for s, ref in sets]


def evaluate_stage(recipe: TuneShiftRecipe, project: Path, arms: list[Arm], adapters: dict[str, str], log: Log) -> dict[str, dict]:
    """Every evaluation of `_eval_plan` into ``eval/<name>/``; one already measured (same
    model, questions and settings) is read back, not rerun."""
    from kd_core.evaluation.qa import EVAL_DIR, EvalResult, evaluate_qa, measured_before, question_set
    from kd_core.models.loading import load_model

    config = GenerationConfig(max_new_tokens=recipe.eval.max_new_tokens, batch_size=recipe.eval.batch_size)
    results = {}
    for name, spec, ref, what in _eval_plan(recipe, arms, adapters):
        out = project / EVAL_DIR / name
        items = question_set(ref)
        summary = measured_before(out, model=spec.label(), n=len(items), questions=ref, max_new_tokens=config.max_new_tokens)
        if summary:
            log(f"evaluate {name}: {summary['accuracy']:.1%} (measured before)")
            results[name] = summary
            continue
        lm = load_model(spec)
        result = evaluate_qa(lm, items, config)
        del lm
        summary = {**result.summary, "questions": ref, "what": what}
        EvalResult(result.items, summary).save(out)
        log(f"evaluate {name}: {summary['accuracy']:.1%} ({summary['correct']}/{summary['n']}, {summary['wall_s']:.0f} s)")
        results[name] = summary
    return results


# ---------------------------------------------------------------------------
# The report


def _coverage(project: Path, arm: str) -> tuple[set[str], int] | None:
    """(the demo facts an arm's dataset states, how many of its pairs state none), or None
    outside the demo world."""
    from kd_core.demo.world import facts_stated

    path = project / DATA_DIR / arm / "dataset.jsonl"
    if not path.exists():
        return None
    covered: set[str] = set()
    empty = 0
    for line in path.open():
        row = json.loads(line)
        if row.get("source") == "replay":
            continue
        m = row["messages"]
        stated = facts_stated(m[0]["content"], m[1]["content"])
        covered |= stated
        empty += not stated
    return covered, empty


def _split(project: Path, name: str, covered: set[str]) -> dict[str, list[int]] | None:
    """[correct, n] of an evaluation on the questions whose fact is covered, and on the rest."""
    import pandas as pd

    from kd_core.evaluation.qa import EVAL_DIR

    path = project / EVAL_DIR / name / "items.jsonl"
    if not path.exists():
        return None
    items = pd.read_json(path, lines=True)
    if "fact" not in items:
        return None
    cov = items["fact"].isin(covered)
    return {"covered": [int(items.correct[cov].sum()), int(cov.sum())], "not_covered": [int(items.correct[~cov].sum()), int((~cov).sum())]}


def _repeated(pool, data: Path, questions: str) -> int:
    """Held-out questions that an arm's training prompts repeat (exactly or nearly, by the
    pool's dedup settings): reported beside the accuracies, a check that held out means held out."""
    from kd_core.data.dedup import DedupIndex
    from kd_core.evaluation.qa import question_set

    index = DedupIndex(pool.dedup_config)
    prompts = [json.loads(line)["messages"][0]["content"] for line in data.open()]
    index.add_many(list(range(len(prompts))), prompts)
    return sum(index.check(it.question) is not None for it in question_set(questions))


def build_report(recipe: TuneShiftRecipe, project: Path, pool, arms: list[Arm], adapters: dict[str, str]) -> dict[str, Any]:
    """Everything the report shows, as data: rounds, per-arm data, training, evaluations,
    and accuracy split by whether the arm's prompts carry the question's fact."""
    from kd_core.runtime import jobs
    from kd_core.evaluation.qa import EVAL_DIR

    def summary(name: str) -> dict | None:
        path = project / EVAL_DIR / name / "summary.json"
        return json.loads(path.read_text()) if path.exists() else None

    counts = pool.counts()
    out: dict[str, Any] = {
        "recipe": recipe.name,
        "pool": {"total": counts.total, "by_state": counts.by_state, "by_label": counts.by_label},
        "rounds": pool.get_meta("expansion.rounds", []),
        "teacher": {s: summary(f"teacher-{s}") for s in ("test", "control")},
        "targets": {t: {s: summary(f"{t}-before-{s}") for s in ("test", "control")} for t in dict.fromkeys(a.target for a in arms)},
        "arms": {},
    }
    facts_total = None
    for arm in arms:
        row: dict[str, Any] = {"target": arm.target, "select": arm.select, "threshold": arm.threshold}
        data = project / DATA_DIR / arm.name / "dataset.jsonl"
        sources = [json.loads(line).get("source") for line in data.open()] if data.exists() else None
        row["prompts"] = sum(s != "replay" for s in sources) if sources is not None else None
        row["replay"] = sources.count("replay") if sources is not None else 0
        if arm.name in adapters:
            status = jobs.job_status(Path(adapters[arm.name]).parent)
            row["train"] = {k: (status.get("summary") or {}).get(k) for k in ("steps", "wall_s", "examples", "tokens_per_s", "final_loss")}
            row["job"] = Path(adapters[arm.name]).parent.name
        row["test"], row["control"] = summary(f"{arm.name}-test"), summary(f"{arm.name}-control")
        teacher = out["teacher"]["test"]
        if row["test"] and teacher:
            row["of_teacher"] = round(row["test"]["accuracy"] / teacher["accuracy"], 3) if teacher["accuracy"] else None
        if data.exists():
            row["held_out_repeated"] = _repeated(pool, data, recipe.eval.questions)
        found = _coverage(project, arm.name) if recipe.eval.questions.startswith("demo:") else None
        if found is not None:
            from kd_core.demo.world import facts

            covered, row["prompts_without_fact"] = found
            facts_total = len(facts())
            row["facts_covered"] = len(covered)
            row["split"] = {n: _split(project, n, covered) for n in (f"{arm.name}-test", "teacher-test")}
        out["arms"][arm.name] = row
    out["facts_total"] = facts_total
    return out


def _pct(s: dict | None) -> str:
    return f"{100 * s['accuracy']:.1f}% ({s['correct']}/{s['n']})" if s else "-"


def _frac(pair: list[int] | None) -> str:
    return f"{100 * pair[0] / pair[1]:.1f}% ({pair[0]}/{pair[1]})" if pair and pair[1] else "-"


def report_markdown(report: dict[str, Any]) -> str:
    t = report["teacher"]
    lines = [f"# TuneShift-KD run: {report['recipe']}", "",
             f"Pool: {report['pool']['total']} prompts; " + ", ".join(f"{k} {v}" for k, v in report['pool']['by_state'].items() if v), "",
             "## Rounds", "", "| round | prompts added | new above the threshold | pool size |", "| --- | --- | --- | --- |"]
    for r in report["rounds"]:
        added = sum(int(g.get("added", 0)) for g in (r.get("generators") or {}).values())
        lines.append(f"| {r.get('round')} | {added} | {r.get('new_above', '-')} | {r.get('pool_size', '-')} |")
    lines += ["", "## Held-out accuracy", "",
              f"Teacher (fine-tuned source): test {_pct(t['test'])}, control {_pct(t['control'])}", ""]
    for name, s in report["targets"].items():
        lines.append(f"{name} before transfer: test {_pct(s['test'])}, control {_pct(s['control'])}")
    lines += ["", "Facts carried: how many of the world's facts the arm's prompts and answers state; covered / not covered: "
              "accuracy on the held-out questions whose fact the arm's data carries, and on the others; repeated: held-out "
              "questions that a training prompt repeats, exactly or nearly.", "",
              "| arm | target | data | prompts | facts carried | test | of teacher | control | covered: arm / teacher | not covered: arm | repeated | train wall |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, a in report["arms"].items():
        data = a["select"] + (f" >= {a['threshold']}" if a["select"] == "threshold" else "")
        data += f" + {a['replay']} replay" if a.get("replay") else ""
        split = a.get("split") or {}
        mine, teacher = split.get(f"{name}-test") or {}, split.get("teacher-test") or {}
        facts = (f"{a['facts_covered']}/{report['facts_total']} ({a['prompts_without_fact']} prompts state none)"
                 if a.get("facts_covered") is not None else "-")
        ratio = f"{100 * a['of_teacher']:.0f}%" if a.get("of_teacher") is not None else "-"
        wall = f"{a['train']['wall_s']:.0f} s" if a.get("train") and a["train"].get("wall_s") else "-"
        lines.append(f"| {name} | {a['target']} | {data} | {a['prompts'] or '-'} | {facts} | {_pct(a['test'])} | {ratio} | "
                     f"{_pct(a['control'])} | {_frac(mine.get('covered'))} / {_frac(teacher.get('covered'))} | {_frac(mine.get('not_covered'))} | "
                     f"{a.get('held_out_repeated', '-')} | {wall} |")
    if report.get("stage_wall_s"):
        lines += ["", "## Stage wall times", "", "| stage | seconds |", "| --- | --- |"]
        lines += [f"| {k} | {v:.0f} |" for k, v in report["stage_wall_s"].items()]
    return "\n".join(lines) + "\n"


def write_report(project: Path, report: dict[str, Any], pool, recipe: TuneShiftRecipe) -> Path:
    """``report/results.json``, ``report/report.md`` and ``report/report.html`` (plotly.js
    inlined once: it opens offline)."""
    import html

    from markdown_it import MarkdownIt  # gradio's dependency

    from kd_core import figures, jobs
    from kd_core.evaluation.qa import project_results
    from kd_core.tuneshift.expansion import scored_frame

    out = project / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    md = report_markdown(report)
    (out / "report.md").write_text(md)
    (out / "results.json").write_text(json.dumps(report, indent=2))
    frame = scored_frame(pool)
    figs = [figures.gap_scatter(frame, recipe.expand.gap.metric, recipe.expand.gap.threshold, title="The pool: perplexity gap")
            if len(frame) else figures.empty_figure("The pool holds no scored prompt")]
    for name, a in report["arms"].items():
        if a.get("job"):
            figs.append(figures.loss_curve(jobs.read_log(jobs.jobs_dir(project) / a["job"]), title=f"Training loss: {name}"))
    results = project_results(project)
    figs.append(figures.accuracy_bars(results[results["questions"] == recipe.eval.questions] if len(results) else results))
    parts = [f.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figs)]
    body = MarkdownIt("commonmark").enable("table").render(md)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(report['recipe'])}</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 6px}</style></head><body>"
            + body + "".join(parts) + "</body></html>")
    (out / "report.html").write_text(page)
    return out / "report.html"


# ---------------------------------------------------------------------------
# In the background (the UI)


def run_command(recipe_path: str | Path, project: str | Path, stages: Sequence[str] | None = None) -> list[str]:
    import sys

    return [sys.executable, "-m", "kd_core.cli", "run", str(Path(recipe_path).expanduser().resolve()),
            "--project", str(Path(project).expanduser().resolve()), *(["--stages", ",".join(stages)] if stages else [])]


def recipe_status(project: str | Path) -> dict[str, Any]:
    return runs.status(project, RECIPE_DIR)
