"""Recipes from a shell: `kd-studio run RECIPE.yaml --project P` (TuneShift-KD, or a `pd:` recipe)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from kd_core.cli.common import code_flags, command, echo, progress_bar, split_list
from kd_core.errors import KDError

if TYPE_CHECKING:
    from kd_core.distill.config import PDConfig
    from kd_core.tuneshift.recipe_config import TuneShiftRecipe


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    """Every stage of a recipe file (TuneShift-KD, or prompt distillation for a `pd:` file), resumable."""
    from kd_core.tuneshift.recipe_config import TuneShiftRecipe, load_recipe

    recipe = load_recipe(args.recipe)  # every setting checked before anything is written
    stages = split_list(args.stages)
    if not isinstance(recipe, TuneShiftRecipe) and args.arms:
        raise KDError("--arms: a prompt-distillation recipe has no arms")
    return run_recipe_printed(recipe, args.project, stages, split_list(args.arms))


def run_recipe_printed(recipe: TuneShiftRecipe | PDConfig, project: str, stages: list[str] | None = None, arms: list[str] | None = None) -> int:
    """Run a recipe's stages (all by default), saying how it went: `kd-studio run` and the
    recipe's background run."""
    from kd_core.distill.config import STAGES as PD_STAGES
    from kd_core.distill.pipeline import run_pd
    from kd_core.runtime import runs
    from kd_core.runtime.progress import following
    from kd_core.tuneshift.recipe import run_recipe
    from kd_core.tuneshift.recipe_config import RECIPE_DIR, REPORT_DIR, STAGES, TuneShiftRecipe
    from kd_core.tuneshift.report import report_markdown

    t0 = time.perf_counter()
    if not isinstance(recipe, TuneShiftRecipe):
        with following(runs.run_dir(project, "pd"), progress_bar()):  # the stages record their progress there
            run_pd(recipe, project, stages or PD_STAGES, log=echo)
        print(f"done in {time.perf_counter() - t0:.0f} s; results: {Path(project) / 'pd' / 'results.md'}")
        return 0
    with following(runs.run_dir(project, RECIPE_DIR), progress_bar()):
        report = run_recipe(recipe, project, stages or STAGES, arms=arms, log=echo)
    if "waiting_for_curation" in report:
        return 0
    print(report_markdown(report))
    print(f"done in {time.perf_counter() - t0:.0f} s; report: {Path(project) / REPORT_DIR / 'report.html'}")
    return 0


# kd_core.tuneshift.recipe_config.STAGES, spelled here so that building the parser (and
# `--help`) imports no torch; tests/test_cli.py checks the two agree.
RECIPE_STAGES = ("expand", "data", "train", "evaluate", "report")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run a recipe file: expand, data, train, evaluate, report (or a pd: recipe's stages)")
    run.add_argument("recipe", help="recipe YAML (recipes/demo-tuneshift.yaml, recipes/demo-prompt-distillation.yaml, ...)")
    run.add_argument("--project", required=True, help="project folder: every stage writes here and resumes from it")
    code_flags(run)
    run.add_argument("--stages", default=None, help=f"comma-separated subset of {','.join(RECIPE_STAGES)} (default: all)")
    run.add_argument("--arms", default=None, help="comma-separated arms to prepare, train and evaluate (default: all)")
