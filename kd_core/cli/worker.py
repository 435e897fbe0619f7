"""`kd-studio worker RUN_FOLDER`: the process of a background run (kd_core.runtime.background).

It reads only ``RUN_FOLDER/run.yaml``, which its starter wrote with every setting
resolved, and calls the function the matching command calls (`expand`, `pd`, `eval
--project`, `run`), so a run started from the UI does what the command would, setting
for setting, and prints what the command prints into the run's process.log."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable

from kd_core.cli.common import command, echo, progress_bar
from kd_core.runtime.background import model_spec, read_run


def expand(run: dict[str, Any]) -> int:
    import time

    from kd_core.cli.tuneshift import print_expansion
    from kd_core.tuneshift.expansion import ExpansionConfig, expand_project, read_seeds

    config = ExpansionConfig.from_dict(run.get("config") or {}, "config")
    for note in run.get("notes") or ():  # what the starter resolved for it (the project's own models)
        echo(note)
    seeds = None
    if run.get("seeds"):
        seeds = read_seeds(run["seeds"])
        print(seeds.summary())
    specs = {role: model_spec(run.get(role), role) for role in ("base", "finetuned", "writer")}
    t0 = time.perf_counter()
    with progress_bar() as bar:  # plain lines in the run's process.log
        history, counts = expand_project(run["project"], config, seeds, specs["base"], specs["finetuned"], specs["writer"],
                                         progress=bar, log=echo)
    print_expansion(history, counts, time.perf_counter() - t0)
    return 0


def pd(run: dict[str, Any]) -> int:
    from kd_core.cli.distill import run_pd_printed
    from kd_core.distill.config import STAGES, PDConfig

    return run_pd_printed(PDConfig.from_dict(run.get("config") or {}, "config"), run["project"], run.get("stages") or list(STAGES))


def evaluate(run: dict[str, Any]) -> int:
    from kd_core.data.config import checked_fields
    from kd_core.evaluation.qa import EVAL_RUN, evaluate_model
    from kd_core.models.generation import GenerationConfig
    from kd_core.runtime import runs
    from kd_core.runtime.progress import following

    generation = GenerationConfig(**checked_fields(GenerationConfig, run.get("generation") or {}, "generation"))
    with following(runs.run_dir(run["project"], EVAL_RUN), progress_bar()):  # its progress lines in process.log
        result = evaluate_model(model_spec(run["model"], "model"), run["questions"], generation, project=run["project"],
                                name=run.get("name"))
    print(json.dumps(result.summary))
    return 0


def recipe(run: dict[str, Any]) -> int:
    from kd_core.cli.recipes import run_recipe_printed
    from kd_core.tuneshift.recipe_config import TuneShiftRecipe

    return run_recipe_printed(TuneShiftRecipe.from_dict(run.get("recipe"), "recipe"), run["project"], run.get("stages"),
                              run.get("arms"))


WORKERS: dict[str, Callable[[dict[str, Any]], int]] = {"expand": expand, "pd": pd, "evaluate": evaluate, "recipe": recipe}


@command("worker")
def cmd_worker(args: argparse.Namespace) -> int:
    """Run the background run described by RUN_FOLDER/run.yaml. Its models' trust_remote_code
    and allow_pickle come from this command line (--trust-remote-code, --allow-pickle, which
    the starter passes only when it was started with them; `main` grants them), never from run.yaml."""
    run = read_run(args.folder)
    return WORKERS[run["kind"]](run)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser("worker", help="run a background run from its run.yaml (what the UI starts)")
    worker.add_argument("folder", help="the run's folder: PROJECT/expand, PROJECT/pd, PROJECT/evaluate or PROJECT/recipe")
    worker.add_argument("--trust-remote-code", action="store_true", help="let the run's models run their repositories' code")
    worker.add_argument("--allow-pickle", action="store_true", help="let the run's models load pickle weights (.bin/.pt)")
