"""`kd-studio demo ...`: the embedded demo world (its adapter, its measurements)."""

from __future__ import annotations

import argparse
import json

from kd_core.cli.common import command
from kd_core.data.files import write_atomic

# kd_core.demo imports torch (through kd_core.models): only a demo command that runs loads it,
# never `kd-studio --help`.  The defaults shown are DemoBuildConfig's (a test checks they agree).
BUILD_EPOCHS, BUILD_LR, ADAPTER_DIR = 4.0, 1.5e-3, "assets/demo/adapter"


@command("demo build-adapter")
def cmd_demo_build_adapter(args: argparse.Namespace) -> int:
    """Train the demo's fine-tuned LoRA into assets/demo/adapter (deterministic for a seed)."""
    from kd_core.demo.models import DEMO_ADAPTER_DIR
    from kd_core.demo.world import DemoBuildConfig, build_adapter

    out = args.out if args.out != ADAPTER_DIR else str(DEMO_ADAPTER_DIR)  # the repository's, wherever it runs from
    summary = build_adapter(DemoBuildConfig(epochs=args.epochs, learning_rate=args.lr, seed=args.seed, out_dir=out))
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2))
    return 0


@command("demo evaluate")
def cmd_demo_evaluate(args: argparse.Namespace) -> int:
    """The demo world's measurements: accuracies of base, fine-tuned and target."""
    from kd_core.demo.world import evaluate_demo

    if args.what in ("accuracy", "all"):
        print(json.dumps(evaluate_demo(out_path=args.out, roles=tuple(args.roles.split(","))), indent=2))
    if args.what in ("gap", "all"):
        from kd_core.demo.world import gap_report

        print(json.dumps(gap_report(), indent=2))
    return 0


@command("demo coverage")
def cmd_demo_coverage(args: argparse.Namespace) -> int:
    """How many demo facts the accepted prompts of an expanded pool carry."""
    from kd_core.demo.world import coverage_report
    from kd_core.tuneshift.pool import Pool

    with Pool(args.project, create=False) as pool:
        report = coverage_report(pool)
    if args.out:
        write_atomic(args.out, json.dumps(report, indent=2) + "\n")
    print(f"accepted {report['accepted']} prompts touch {report['facts']}/{report['facts_total']} facts "
          f"({report['coverage']:.0%}); {report['beyond_seeds']} of them no seed mentions (seeds: {report['seed_facts']})")
    for title, table in (("generator", report["by_generator"]), ("round", report["by_round"])):
        for key, row in table.items():
            print(f"    {title} {key}: {row['accepted']} accepted, {row['facts']} facts, {row['beyond_seeds']} beyond the seeds")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="the embedded demo world").add_subparsers(dest="demo_command", required=True)
    build = demo.add_parser("build-adapter", help="train the demo's fine-tuned LoRA into assets/demo/adapter")
    build.add_argument("--epochs", type=float, default=BUILD_EPOCHS)
    build.add_argument("--lr", type=float, default=BUILD_LR)
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--out", default=ADAPTER_DIR)
    dev = demo.add_parser("evaluate", help="measure the demo: accuracies and the generic-control perplexity check")
    dev.add_argument("--out", default="assets/demo/report.json")
    dev.add_argument("--roles", default="base,finetuned,target")
    dev.add_argument("--what", default="all", choices=["accuracy", "gap", "all"],
                     help="accuracy: QA accuracies (report.json); gap: gap-metric AUROCs (gap_report.json)")
    cov = demo.add_parser("coverage", help="how many demo facts an expanded pool's accepted prompts carry")
    cov.add_argument("--project", required=True)
    cov.add_argument("--out", default=None, help="write the report as JSON here")
