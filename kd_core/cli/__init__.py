"""The `kd-studio` command. Each subcommand is a thin wrapper over a kd_core function
that the UI calls too; user errors print one line and exit with status 2.

The commands live by concept (models, tuneshift, demo, training, distill, recipes,
serve; worker: the process of a background run); this module builds the parser and
dispatches. The CLI is the composition root: the one place that may import every package."""

from __future__ import annotations

import argparse
import sys

import kd_core  # noqa: F401  (sets the offline defaults before any HF import)
from kd_core.cli import demo, distill, models, recipes, serve, training, tuneshift, worker
from kd_core.cli.common import COMMANDS, command, grant_model_flags, role_specs  # noqa: F401  (the commands' registry, used by tests)
from kd_core.cli.tuneshift import expansion_config  # noqa: F401  (what `expand` flags give, used by the UI's tests)
from kd_core.errors import KDError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kd-studio", description="Move specialized knowledge between language models.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve.add_parsers(sub)
    tuneshift.add_pool_parsers(sub)
    models.add_parsers(sub)
    demo.add_parsers(sub)
    tuneshift.add_expand_parsers(sub)
    tuneshift.add_score_parser(sub)
    training.add_parsers(sub)
    distill.add_parsers(sub)
    recipes.add_parsers(sub)
    worker.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Groups ("models", "demo", ...) name their sub-command in "<group>_command".
    key = " ".join(x for x in (args.command, getattr(args, f"{args.command}_command", None)) if x)
    grant_model_flags(args)  # trust_remote_code and allow_pickle: from this command line only
    try:
        return COMMANDS[key](args)
    except KDError as e:
        print(f"kd-studio: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kd-studio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
