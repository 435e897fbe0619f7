"""`kd-studio models check|preflight|prepare` and `kd-studio eval`: loading, inspecting
and measuring models."""

from __future__ import annotations

import argparse
import json
import time

from kd_core.cli.common import command, model_args, progress_bar, role_specs


@command("models check")
def cmd_models_check(args: argparse.Namespace) -> int:
    from kd_core.models.generation import GenerationConfig, generate
    from kd_core.models.loading import load_model

    prompt = args.prompt
    for role, spec in role_specs(args).items():
        t0 = time.perf_counter()
        lm = load_model(spec)
        load_s = time.perf_counter() - t0
        info = lm.info()
        answer = generate(lm, [prompt], GenerationConfig(max_new_tokens=args.max_new_tokens))[0]
        print(f"[{role}] {info['name']}")
        for k in ("class", "parameters", "dtype", "device", "memory_mb", "vocab_size", "chat_template", "source"):
            v = f"{info[k]:,}" if k == "parameters" else info[k]
            print(f"    {k:<14} {v}")
        print(f"    {'load_s':<14} {load_s:.1f}")
        for note in lm.notes:
            print(f"    note           {note}")
        print(f"    greedy         {prompt!r} -> {answer!r}")
        del lm
    return 0


@command("models preflight")
def cmd_models_preflight(args: argparse.Namespace) -> int:
    """What would load, the memory it needs against the memory free, tokenizer checks."""
    from kd_core.models.preflight import preflight, report_markdown

    report = preflight(role_specs(args))
    print(json.dumps(report, indent=2) if args.json else report_markdown(report))
    return 0 if report["fits"] else 1


@command("models prepare")
def cmd_models_prepare(args: argparse.Namespace) -> int:
    """Convert the demo GGUFs into the cache once, so the app starts fast."""
    from kd_core.demo.models import DEMO_MODELS
    from kd_core.models.loading import resolve_source

    for name in DEMO_MODELS:
        t0 = time.perf_counter()
        path = resolve_source(f"demo:{name}")
        print(f"demo:{name} -> {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


@command("eval")
def cmd_eval(args: argparse.Namespace) -> int:
    """Closed-book QA accuracy of one model on a question set; with --project, recorded
    in <project>/eval/<name>/ (the Evaluate tab's table) as a run of <project>/evaluate/."""
    from kd_core.evaluation.qa import EVAL_RUN, evaluate_model, question_set
    from kd_core.models.generation import GenerationConfig
    from kd_core.runtime import runs
    from kd_core.runtime.progress import following

    question_set(args.questions)  # a bad file fails before anything else
    spec = role_specs(args, roles=(args.role,), adapter_to=args.role)[args.role]
    generation = GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    bar = progress_bar()
    if args.project:
        # Recorded as the project's run: its progress records are in the run's status.json.
        with following(runs.run_dir(args.project, EVAL_RUN), bar):
            result = evaluate_model(spec, args.questions, generation, project=args.project, name=args.name, out=args.out)
    else:  # the answers counted as they come
        with bar:
            result = evaluate_model(spec, args.questions, generation, out=args.out, progress=bar)
    print(json.dumps(result.summary))
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = sub.add_parser("models", help="load and inspect models").add_subparsers(dest="models_command", required=True)
    check = models.add_parser("check", help="load base, fine-tuned and target; print what was loaded")
    model_args(check)
    check.add_argument("--prompt", default="What is the capital of France?")
    check.add_argument("--max-new-tokens", type=int, default=24)
    models.add_parser("prepare", help="convert the demo models into the cache (done once)")
    pre = models.add_parser("preflight", help="what would load, memory needed against memory free, tokenizer checks (no weights loaded)")
    model_args(pre)
    pre.add_argument("--json", action="store_true", help="the report as JSON")

    ev = sub.add_parser("eval", help="QA accuracy of a model on a question set")
    model_args(ev)
    ev.add_argument("--role", default="finetuned", choices=["base", "finetuned", "target"],
                    help="which model to evaluate; --adapter applies to it (a trained student: --role target --adapter JOB/adapter)")
    ev.add_argument("--questions", required=True, help="JSONL file (question, answer|answers) or demo:test|train|train-all|control")
    ev.add_argument("--out", default=None, help="folder for items.jsonl and summary.json")
    ev.add_argument("--project", default=None, help="record it in PROJECT/eval/NAME/ (the Evaluate tab shows it)")
    ev.add_argument("--name", default=None, help="the evaluation's name in the project (default: the model's label)")
    ev.add_argument("--max-new-tokens", type=int, default=48)
    ev.add_argument("--batch-size", type=int, default=16)
