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
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from kd_core.data.files import write_atomic
from kd_core.errors import KDError
from kd_core.models.generation import GenerationConfig
from kd_core.runtime import runs
from kd_core.training.config import TrainConfig
from kd_core.tuneshift.pool import ACCEPTED, Pool, PoolFilter
from kd_core.tuneshift.recipe_config import DATA_DIR, LIVE, RECIPE_DIR, STAGES, WHAT, Arm, TuneShiftRecipe, recipe_yaml
from kd_core.tuneshift.report import build_report, write_report

if TYPE_CHECKING:
    from kd_core.models.loading import ModelSpec

Log = Callable[[str], None]


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


def selected_ids(pool: Pool, arm: Arm, recipe: TuneShiftRecipe) -> list[int]:
    """The pool's prompt ids an arm trains on (answered, never a rejected one)."""
    return _select(pool, arm)[0]


def write_arm_data(pool: Pool, project: Path, arm: Arm, recipe: TuneShiftRecipe, folder: Path | None = None,
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
    samples, sample_card = sampled_rows(recipe, project, arm, pool, ids, folder, log)
    if samples:
        card = {**(card or {}), "samples": sample_card}
    result = export_dataset(pool, project / DATA_DIR / arm.name, PoolFilter(ids=ids), extra=samples + replay, extra_card=card)
    return result.files["dataset.jsonl"], result.rows, blank


def cached_answers(path: Path, spec: ModelSpec, prompts: list[str], config: GenerationConfig, key: dict[str, Any],
                   system: str | None, folder: Path | None, log: Log, saying: str) -> list[dict[str, Any]]:
    """`spec`'s answers to `prompts` (one row each: prompt, response, and `key`), read back from
    `path` while its prompts and `key` (model and settings) match, else generated (under the
    run's device hold when `folder` is given), trimmed to whole sentences and written atomically."""
    from kd_core.data.files import jsonl_text, read_jsonl
    from kd_core.models.generation import generate, trim_to_sentence
    from kd_core.models.loading import load_model

    cached = read_jsonl(path)
    if [c.get("prompt") for c in cached] == prompts and all({k: c.get(k) for k in key} == key for c in cached):
        return cached
    log(saying)
    with runs.DeviceHold(folder, spec.device, log) if folder else contextlib.nullcontext():
        lm = load_model(spec)
        answers = generate(lm, prompts, config, system=system)
        del lm
    cached = [{"prompt": p, "response": trim_to_sentence(a), **key} for p, a in zip(prompts, answers)]
    write_atomic(path, jsonl_text(cached))
    return cached


SAMPLES_FILE = "samples.jsonl"  # data/<arm>/samples.jsonl: the fine-tuned model's sampled answers, read back by later runs


def sampled_rows(recipe: TuneShiftRecipe, project: Path, arm: Arm, pool: Pool, ids: Sequence[int], folder: Path | None = None,
                 log: Log = print) -> tuple[list[dict], dict]:
    """`arm.samples` more answers to each selected prompt whose stored answer names something
    high-gap, sampled from the fine-tuned model at `arm.sample_temperature` (seed `arm.seed`).
    A sample is kept when it differs from the stored answer and from the samples kept before,
    and states every high-gap name of the stored answer (expansion.answer_names): the same
    facts in other words, and a cheap check against a sample's slips (a sample that loses or
    changes a name is left out). Kept in ``data/<arm>/samples.jsonl`` and read back while the
    model, prompts and settings match. Returns the rows and what the data card says of them."""
    if not arm.samples:
        return [], {}
    from kd_core.tuneshift.expansion import answer_names

    stored = [(r.text, (r.response or "").strip(), answer_names(r.text, r.scores))
              for r in pool.query(PoolFilter(ids=list(ids)), order="id").itertuples()]
    stored = [s for s in stored if s[2]]  # an answer naming nothing high-gap gives a sample nothing to be checked on
    spec = recipe.model_spec("finetuned")
    config = replace(recipe.expand.answer, do_sample=True, temperature=float(arm.sample_temperature), top_p=1.0, top_k=0,
                     seed=arm.seed)
    key = {"finetuned": spec.label(), "system": recipe.expand.system, "max_new_tokens": config.max_new_tokens,
           "temperature": config.temperature, "seed": config.seed}
    wanted = [text for text, _, _ in stored for _ in range(arm.samples)]
    cached = cached_answers(project / DATA_DIR / arm.name / SAMPLES_FILE, spec, wanted, config, key, recipe.expand.system,
                            folder, log, f"data {arm.name}: the fine-tuned model samples {arm.samples} more answers to "
                                         f"each of {len(stored)} prompts")
    check = {text: (answer, names) for text, answer, names in stored}
    kept, seen, slips = [], set(), 0
    for c in cached:
        answer, names = check[c["prompt"]]
        text = c["response"].strip()
        if not text or text == answer or (c["prompt"], text) in seen:
            continue
        if not all(n in text.lower() for n in names):
            slips += 1
            continue
        seen.add((c["prompt"], text))
        kept.append({"messages": [{"role": "user", "content": c["prompt"]}, {"role": "assistant", "content": text}],
                     "id": None, "source": "sample", "round": None, "gap": None})
    log(f"data {arm.name}: {len(kept)} of {len(cached)} sampled answers kept; {slips} left out for losing a high-gap name")
    return kept, {"rows": len(kept), "per_prompt": arm.samples, "temperature": config.temperature, "answered_by": spec.label(),
                  "prompts": len(stored), "left_out_for_a_lost_name": slips}


REPLAY_FILE = "replay.jsonl"  # data/<arm>/replay.jsonl: the target's own answers, read back by later runs


def _replay_prompts(ref: str) -> list[str]:
    from kd_core.data.prompt_files import read_prompts
    from kd_core.data.references import is_reference, resolve_prompts

    return resolve_prompts(ref) if is_reference(ref) else read_prompts(ref).prompts


def replay_rows(recipe: TuneShiftRecipe, project: Path, arm: Arm, folder: Path | None = None, log: Log = print) -> list[dict]:
    """The arm's replay as dataset rows: the first `arm.replay` prompts of `recipe.replay`,
    answered greedily by the untrained target. Trained on beside the teacher's answers,
    they hold the target to what it did before on generic prompts, which domain answers
    alone wear away (control accuracy falls as epochs rise). Kept in
    ``data/<arm>/replay.jsonl`` and read back while target, prompts and settings match."""
    if not arm.replay:
        return []
    prompts = _replay_prompts(recipe.replay)[: arm.replay]
    spec = recipe.target_spec(arm.target)
    answer = replace(recipe.expand.answer, do_sample=False)
    key = {"target": spec.label(), "system": recipe.expand.system, "max_new_tokens": answer.max_new_tokens}
    cached = cached_answers(project / DATA_DIR / arm.name / REPLAY_FILE, spec, prompts, answer, key, recipe.expand.system,
                            folder, log, f"data {arm.name}: the target answers {len(prompts)} replay prompts")
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
        write_atomic(folder / "config.yaml", recipe_yaml(recipe))
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
    from kd_core.tuneshift.expansion import read_seeds

    return read_seeds(ref)


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
                settings = arm.train_config(train)
                teacher = recipe.model_spec("finetuned") if settings.loss != "sft" else None
                timed(f"train {arm.name}", lambda: jobs.train_to_completion(
                    project, recipe.target_spec(arm.target), job[0], settings, job[1], f"TuneShift-KD {recipe.name}: {arm.name}",
                    log, teacher=teacher))
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
    target and the settings (with the arm's loss), so a changed arm trains anew and an
    unchanged one resumes. None before the data stage wrote the arm's data."""
    from kd_core.runtime import jobs

    data = project / DATA_DIR / arm.name / "dataset.jsonl"
    return (data, jobs.job_id_for(arm.name, data, recipe.target_spec(arm.target), arm.train_config(train))) if data.exists() else None


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


def expand_stage(recipe: TuneShiftRecipe, pool: Pool, folder: Path, log: Log) -> list[dict]:
    """Seeds into an empty pool, then the rounds not done yet (kd_core.tuneshift.expansion.expand_pool)."""
    from kd_core.runtime.background import throttled
    from kd_core.tuneshift.expansion import META_CURRENT, expand_pool, round_history

    plan = recipe.expansion_plan()
    done = len(round_history(pool))
    if done >= plan[-1].rounds and pool.get_meta(META_CURRENT) is None and pool.count():
        log(f"expand: {done} rounds done before")
        return round_history(pool)
    with runs.DeviceHold(folder, recipe.model_spec("finetuned").device, log):
        seeds = _read_seeds(recipe.seeds) if pool.count() == 0 else None
        # the UI's status line follows the round
        progress = throttled(lambda d, t, stage: runs.update(folder, stage=f"expand · {stage}: {d}/{t}"))
        return expand_pool(pool, plan, recipe.model_spec("base"), recipe.model_spec("finetuned"), seeds, progress=progress,
                           log=log)


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
    from kd_core.evaluation.stats import accuracy_text
    from kd_core.models.loading import load_model

    config = GenerationConfig(max_new_tokens=recipe.eval.max_new_tokens, batch_size=recipe.eval.batch_size)
    results = {}
    for name, spec, ref, what in _eval_plan(recipe, arms, adapters):
        out = project / EVAL_DIR / name
        items = question_set(ref)
        summary = measured_before(out, model=spec.label(), n=len(items), questions=ref, max_new_tokens=config.max_new_tokens)
        if summary:
            log(f"evaluate {name}: {accuracy_text(summary['correct'], summary['n'])} (measured before)")
            results[name] = summary
            continue
        lm = load_model(spec)
        result = evaluate_qa(lm, items, config)
        del lm
        summary = {**result.summary, "questions": ref, "what": what}
        EvalResult(result.items, summary).save(out)
        log(f"evaluate {name}: {accuracy_text(summary['correct'], summary['n'])}, {summary['wall_s']:.0f} s")
        results[name] = summary
    return results


# ---------------------------------------------------------------------------
# In the background (the UI)


def start_recipe(project: str | Path, recipe: TuneShiftRecipe, stages: Sequence[str] | None = None,
                 arms: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the recipe's stages (all by default) in the background (kd_core.runtime.background:
    recipe/run.yaml holds the recipe, checked now); returns the run's status."""
    from kd_core.runtime.background import start_run

    recipe.validate()
    unknown = [s for s in stages or () if s not in STAGES]
    if unknown:
        raise KDError(f"unknown stage '{unknown[0]}' (stages: {', '.join(STAGES)})")
    settings = {"recipe": recipe.to_dict(), "stages": list(stages) if stages else None, "arms": list(arms) if arms else None}
    return start_run(project, RECIPE_DIR, WHAT, settings, stages=list(stages or STAGES), stage=None)


def recipe_status(project: str | Path) -> dict[str, Any]:
    return runs.status(project, RECIPE_DIR)
