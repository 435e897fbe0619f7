"""Prompt distillation from a shell: `kd-studio pd`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from kd_core.cli.common import code_flags, command, echo, positive_int, progress_bar, split_list

if TYPE_CHECKING:
    from kd_core.distill.config import PDConfig


@command("pd")
def cmd_pd(args: argparse.Namespace) -> int:
    """Prompt distillation end to end: ingest, questions, answers, train, evaluate (resumable)."""
    from dataclasses import replace

    from kd_core.distill.config import STAGES, PDConfig, load_pd_config

    config = load_pd_config(args.config) if args.config else PDConfig()
    if args.docs:
        config.documents = list(args.docs)
    if args.model:
        config.model = args.model
    if args.device != "auto" or args.dtype != "auto" or args.load_in_4bit:
        from kd_core.runtime.jobs import model_spec_from

        spec = model_spec_from(config.model, "model")
        config.model = replace(spec, device=args.device, dtype=args.dtype, load_in_4bit=args.load_in_4bit or spec.load_in_4bit)
    if args.questions:
        config.eval.questions = args.questions
    if args.chunk_tokens:
        config.chunk_tokens = args.chunk_tokens
    if args.writer:
        config.questions.writer = args.writer
    if args.epochs:
        config.train_pd.epochs = config.train_sft.epochs = args.epochs
    config.validate()
    return run_pd_printed(config, args.project, split_list(args.stages) or list(STAGES))


def run_pd_printed(config: PDConfig, project: str, stages: list[str]) -> int:
    """Run the stages (kd_core.distill.pipeline.run_pd), saying how it went: `kd-studio pd`
    and its background run."""
    from kd_core.distill.pipeline import run_pd
    from kd_core.runtime import runs
    from kd_core.runtime.progress import following

    t0 = time.perf_counter()
    with following(runs.run_dir(project, "pd"), progress_bar()):  # run_pd records its stage in pd/status.json
        report = run_pd(config, project, stages, log=echo)
    print(f"done in {time.perf_counter() - t0:.0f} s; project {project}")
    if "results" in report and report.get("pd_over_rag") is not None:
        print(f"    PD reaches {report['pd_over_rag']:.0%} of RAG's accuracy; table: {Path(project) / 'pd' / 'results.md'}")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from kd_core.distill.config import STAGES

    pd = sub.add_parser("pd", help="prompt distillation: documents -> questions -> teacher answers -> LoRA, with SFT and RAG baselines")
    pd.add_argument("--project", required=True, help="project folder: every stage writes here and resumes from it")
    code_flags(pd)
    pd.add_argument("--docs", nargs="+", default=None, help="document files (.txt, .md, .jsonl with a 'text' field) or demo:documents")
    pd.add_argument("--model", default=None, help="the model (teacher and student): hub id, local dir, .gguf or demo:NAME")
    pd.add_argument("--config", default=None, help="YAML of settings (kd_core.distill.config.PDConfig); flags override it")
    pd.add_argument("--questions", default=None, help="held-out questions to evaluate on: JSONL (question, answer[s]) or demo:test")
    pd.add_argument("--stages", default=None, help=f"comma-separated subset of {','.join(STAGES)} (default: all)")
    pd.add_argument("--chunk-tokens", type=positive_int, default=None, help="document tokens per chunk (default 256)")
    pd.add_argument("--writer", default=None, help="model that writes the questions (default: the model itself)")
    pd.add_argument("--epochs", type=float, default=None, help="epochs of both the PD and the SFT training")
    pd.add_argument("--dtype", default="auto", help="auto | float32 | bfloat16 | float16")
    pd.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    pd.add_argument("--4bit", dest="load_in_4bit", action="store_true", help="load the model in 4-bit nf4 (bitsandbytes)")
