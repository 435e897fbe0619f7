"""The `kd-studio` command. Each subcommand is a thin wrapper over a kd_core function
that the UI calls too; user errors print one line and exit with status 2."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable

import kd_core  # noqa: F401  (sets the offline defaults before any HF import)
from kd_core.errors import KDError
from kd_core.demo.world import DemoBuildConfig, seeds_path as demo_seeds_path
from kd_core.models.loading import DEMO_ADAPTER_DIR

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", default=None, help="base model: hub id, local dir, .gguf file or demo:NAME (default: the demo)")
    p.add_argument("--finetuned", default=None, help="fine-tuned model (merged), or the base when --adapter is given")
    p.add_argument("--adapter", default=None, help="PEFT adapter directory for the fine-tuned model")
    p.add_argument("--target", default=None, help="target model to transfer into")
    p.add_argument("--dtype", default="auto", help="auto | float32 | bfloat16 | float16")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--4bit", dest="load_in_4bit", action="store_true", help="load in 4-bit nf4 (bitsandbytes)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow model repositories to run their own code")


def role_specs(args: argparse.Namespace, roles=("base", "finetuned", "target"), adapter_to: str = "finetuned") -> dict:
    """ModelSpecs for the roles from CLI flags, the demo filling whatever is not given.
    `--adapter` goes on the `adapter_to` role: the fine-tuned model, or, for `eval`, the
    model evaluated (a trained student is `--role target --adapter JOB/adapter`)."""
    from dataclasses import replace

    from kd_core.models.loading import ModelSpec, demo_spec

    given_any = any(getattr(args, r, None) for r in ("base", "finetuned", "target")) or args.adapter
    specs = {}
    for role in roles:
        name = getattr(args, role, None)
        adapter = args.adapter if role == adapter_to else None
        if role == "finetuned" and name is None and adapter:
            name = args.base or demo_spec("base").name
        if name is None:
            if given_any and role != "target" and not adapter:
                continue
            spec = demo_spec(role) if adapter is None else replace(demo_spec(role), adapter=adapter)
        else:
            spec = ModelSpec(name, adapter=adapter)
        spec.dtype, spec.device = args.dtype, args.device
        spec.load_in_4bit, spec.trust_remote_code = args.load_in_4bit, args.trust_remote_code
        specs[role] = spec
    return specs


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
    from kd_core.models.loading import DEMO_MODELS, resolve_source

    for name in DEMO_MODELS:
        t0 = time.perf_counter()
        path = resolve_source(f"demo:{name}")
        print(f"demo:{name} -> {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


@command("eval")
def cmd_eval(args: argparse.Namespace) -> int:
    """Closed-book QA accuracy of one model on a question set; with --project, recorded
    in <project>/eval/<name>/ (the Evaluate tab's table) as a run of <project>/evaluate/."""
    from contextlib import nullcontext

    from kd_core.runtime import runs
    from kd_core.evaluation.qa import EVAL_DIR, EVAL_RUN, WHAT, evaluate_qa, evaluation_name, question_set
    from kd_core.models.generation import GenerationConfig
    from kd_core.models.loading import load_model

    items = question_set(args.questions)  # a bad file fails before the model loads
    spec = role_specs(args, roles=(args.role,), adapter_to=args.role)[args.role]
    out, name = args.out, None
    if args.project:
        name = evaluation_name(args.name or spec.label())
        out = out or str(Path(args.project).expanduser() / EVAL_DIR / name)
    with runs.recorded(args.project, EVAL_RUN, WHAT, stage=None) if args.project else nullcontext() as folder:
        def stage(text: str) -> None:
            if folder is not None:
                runs.update(folder, stage=f"{name}: {text}")

        stage("loading the model")
        lm = load_model(spec)
        last = {"t": 0.0}

        def progress(done: int, total: int) -> None:
            if time.perf_counter() - last["t"] > 5 or done == total:
                stage(f"answered {done}/{total}")
                last["t"] = time.perf_counter()

        result = evaluate_qa(lm, items, GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size),
                             progress=progress)
        result.summary["questions"] = args.questions
        if out:
            result.save(out)
    print(json.dumps(result.summary))
    return 0


@command("demo build-adapter")
def cmd_demo_build_adapter(args: argparse.Namespace) -> int:
    """Train the demo's fine-tuned LoRA into assets/demo/adapter (deterministic for a seed)."""
    from kd_core.demo.world import DemoBuildConfig, build_adapter

    summary = build_adapter(DemoBuildConfig(epochs=args.epochs, learning_rate=args.lr, seed=args.seed, out_dir=args.out))
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


@command("score")
def cmd_score(args: argparse.Namespace) -> int:
    """TuneShift-KD scoring: the fine-tuned model answers, both models score, gaps and labels."""
    from pathlib import Path

    from kd_core.models.generation import GenerationConfig
    from kd_core.models.loading import load_model
    from kd_core.data.prompt_files import read_prompts
    from kd_core.tuneshift.gaps import GapConfig, label_counts, save_scores
    from kd_core.tuneshift.scoring import ScoreConfig, score_prompts

    gap = GapConfig(metric=args.metric, threshold=args.threshold, k=args.k)  # bad settings fail before loading
    pf = read_prompts(args.prompts)  # a bad file fails before minutes of model loading
    print(pf.summary())
    for problem in pf.problems[:10]:
        print(f"    skipped {problem}")
    if pf.skipped > 10:
        print(f"    ... and {pf.skipped - 10} more")
    specs = role_specs(args, roles=("base", "finetuned"))
    if "finetuned" not in specs:
        raise KDError("score needs a fine-tuned model: give --finetuned DIR, or --adapter DIR (with its --base)")
    if "base" not in specs:
        raise KDError("score needs the fine-tuned model's base: give --base")
    base, ft = load_model(specs["base"]), load_model(specs["finetuned"])

    last = {"stage": None}

    def progress(done: int, total: int, stage: str) -> None:
        if stage != last["stage"] or done == total:
            print(f"    {stage}: {done}/{total}", file=sys.stderr)
        last["stage"] = stage

    config = ScoreConfig(
        gap=gap,
        generation=GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size),
        batch_size=args.batch_size,
        system=args.system,
    )
    t0 = time.perf_counter()
    df = score_prompts(base, ft, pf.prompts, config, progress=progress)
    out = save_scores(df, args.out)
    counts = label_counts(df)
    print(f"scored {len(df)} prompts in {time.perf_counter() - t0:.1f} s -> {out}")
    print(f"    {gap.metric} > {gap.tau:g}: {counts['above']} above, {counts['below']} below")
    if args.html_dir:
        from kd_core.figures import gap_histogram, gap_scatter, token_heatmap, write_html

        html_dir = Path(args.html_dir)
        html_dir.mkdir(parents=True, exist_ok=True)
        write_html(gap_scatter(df, gap.metric, gap.tau), html_dir / "gap_scatter.html")
        write_html(gap_histogram(df, gap.metric, gap.tau), html_dir / "gap_histogram.html")
        names = ["gap_scatter.html", "gap_histogram.html"]
        gaps = df[gap.column].dropna()
        if len(gaps):  # the answer with the largest gap, token by token
            write_html(token_heatmap(df.loc[gaps.idxmax()]), html_dir / "top_tokens.html")
            names.append("top_tokens.html")
        print(f"    figures -> {html_dir}/ ({', '.join(names)})")
    return 0


def expansion_config(args: argparse.Namespace):
    """The ExpansionConfig that `kd-studio expand` flags give (kd_core.tuneshift.expansion.cli_args writes them)."""
    from kd_core.tuneshift.expansion import ExpansionConfig
    from kd_core.models.generation import GenerationConfig
    from kd_core.tuneshift.gaps import GapConfig

    return ExpansionConfig(
        rounds=args.rounds,
        per_round=args.per_round,
        generators=tuple(g.strip() for g in args.generators.split(",") if g.strip()),
        sampling=GenerationConfig(max_new_tokens=args.prompt_tokens, do_sample=True, temperature=args.temperature,
                                  top_p=args.top_p, batch_size=args.batch_size),
        answer=GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size),
        gap=GapConfig(metric=args.metric, threshold=args.threshold),
        score_batch_size=args.batch_size,
        system=args.system,
        max_pool=args.max_pool,
        auto_accept=args.auto_accept,
        seed=args.seed,
        like=tuple(int(i) for i in args.like.split(",") if i.strip()) if args.like else (),
    )


@command("expand")
def cmd_expand(args: argparse.Namespace) -> int:
    """TuneShift-KD expansion rounds into a project's pool (resumes where it stopped)."""
    from pathlib import Path

    from kd_core.runtime import runs
    from kd_core.tuneshift.expansion import EXPAND_DIR, META_SPECS, WHAT, add_seeds, run_expansion
    from kd_core.models.loading import load_model
    from kd_core.tuneshift.pool import Pool

    config = expansion_config(args)
    seeds = None
    if args.seeds:  # a bad seed file fails before minutes of model loading
        from kd_core.data.prompt_files import read_prompts

        path = str(demo_seeds_path()) if args.seeds == "demo:seeds" else args.seeds
        seeds = read_prompts(path)
        print(seeds.summary())
    Path(args.project).expanduser().mkdir(parents=True, exist_ok=True)  # a new project starts from its seeds
    # Recorded in <project>/expand/ (the UI's Expand tab shows it), one run per project.
    # The pool first: it names a read-only or foreign project before anything is written.
    with Pool(args.project) as pool, runs.recorded(args.project, EXPAND_DIR, WHAT, stage=None) as run_folder:
        if seeds is None and pool.count() == 0:
            raise KDError(f"{pool.path} holds no prompts: give --seeds FILE (or --seeds demo:seeds)")
        specs = role_specs(args, roles=("base", "finetuned"))
        recorded_specs = pool.get_meta(META_SPECS)
        if recorded_specs and not any(getattr(args, r, None) for r in ("base", "finetuned", "adapter")):
            from kd_core.runtime.jobs import model_spec_from

            # Resuming without model flags: the models the project's rounds ran with, not the demo's.
            specs = {role: model_spec_from(recorded_specs[role], role) for role in ("base", "finetuned")}
            for spec in specs.values():  # where they run is this run's choice
                spec.device = args.device if args.device != "auto" else spec.device
                spec.dtype = args.dtype if args.dtype != "auto" else spec.dtype
                spec.load_in_4bit = args.load_in_4bit or spec.load_in_4bit
            print(f"models of {pool.path.parent}: base {specs['base'].label()}, fine-tuned {specs['finetuned'].label()}")
        if "finetuned" not in specs or "base" not in specs:
            raise KDError("expand needs the base and the fine-tuned model (--base with --adapter or --finetuned)")
        runs.update(run_folder, stage="loading models")
        base, ft = load_model(specs["base"]), load_model(specs["finetuned"])
        if seeds is not None:
            runs.update(run_folder, stage="seeds: answering and scoring")
            print(f"seeds: {add_seeds(pool, seeds.prompts, ft, config, name=seeds.path).summary()}")

        last = {"stage": None, "t": 0.0}

        def progress(done: int, total: int, stage: str) -> None:
            now = time.perf_counter()
            if stage != last["stage"] or done == total or now - last["t"] > 10:
                print(f"    {stage}: {done}/{total}", file=sys.stderr, flush=True)
                runs.update(run_folder, stage=f"{stage}: {done}/{total}")
                last.update(stage=stage, t=now)

        t0 = time.perf_counter()
        writer = None
        if args.writer:  # any model may write prompts; the fine-tuned one does by default
            from kd_core.models.loading import ModelSpec

            writer = load_model(ModelSpec(args.writer, dtype=args.dtype, device=args.device, load_in_4bit=args.load_in_4bit,
                                          trust_remote_code=args.trust_remote_code))
        history = run_expansion(pool, base, ft, config, writer=writer, progress=progress, log=lambda m: print(m, flush=True))
        counts = pool.counts()
    print(f"{len(history)} rounds done in {time.perf_counter() - t0:.0f} s; the pool holds {counts.total} prompts, "
          f"{counts.by_label['above']} above the threshold, {counts.by_state['accepted']} accepted")
    return 0


@command("demo coverage")
def cmd_demo_coverage(args: argparse.Namespace) -> int:
    """How many demo facts the accepted prompts of an expanded pool carry."""
    from pathlib import Path

    from kd_core.demo.world import coverage_report
    from kd_core.tuneshift.pool import Pool

    with Pool(args.project, create=False) as pool:
        report = coverage_report(pool)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"accepted {report['accepted']} prompts touch {report['facts']}/{report['facts_total']} facts "
          f"({report['coverage']:.0%}); {report['beyond_seeds']} of them no seed mentions (seeds: {report['seed_facts']})")
    for title, table in (("generator", report["by_generator"]), ("round", report["by_round"])):
        for key, row in table.items():
            print(f"    {title} {key}: {row['accepted']} accepted, {row['facts']} facts, {row['beyond_seeds']} beyond the seeds")
    return 0


@command("pool show")
def cmd_pool_show(args: argparse.Namespace) -> int:
    """A project's prompt pool: counts by state, round and source."""
    from kd_core.tuneshift.pool import STATES, Pool

    with Pool(args.project, create=False) as pool:
        counts, meta = pool.counts(), pool.meta()
    if args.json:
        print(json.dumps({**counts.to_dict(), "meta": meta}, indent=2))
        return 0
    labels = counts.by_label
    print(f"{pool.path}: {counts.total} prompts, {counts.scored} answered "
          f"({labels['above']} above, {labels['below']} below the gap threshold, {labels['none']} not labelled)")
    print("    " + ", ".join(f"{s} {counts.by_state[s]}" for s in STATES))
    for title, table in (("round", counts.by_round), ("source", counts.by_source)):
        for key, row in table.items():
            print(f"    {title} {key}: {row['total']} (" + ", ".join(f"{s} {row[s]}" for s in STATES if row[s]) + ")")
    for key in ("models", "thresholds"):
        if key in meta:
            print(f"    {key}: {json.dumps(meta[key])}")
    return 0


@command("pool export")
def cmd_pool_export(args: argparse.Namespace) -> int:
    """The curated prompts with their responses as a chat dataset, with a data card."""
    from kd_core.tuneshift.pool import Pool, PoolFilter
    from kd_core.tuneshift.pool_export import export_dataset

    states = tuple(s.strip() for s in args.states.split(",") if s.strip())
    with Pool(args.project, create=False) as pool:
        result = export_dataset(pool, args.out, PoolFilter(states=states), require_responses=args.require_responses)
    print(result.summary())
    for name, path in result.files.items():
        print(f"    {name:<16} {path}")
    return 0


@command("serve")
def cmd_serve(args: argparse.Namespace) -> int:
    from ui.app import launch

    launch(host=args.host, port=args.port, project=args.project, auth_file=args.auth_file, max_upload_mb=args.max_upload_mb)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kd-studio", description="Move specialized knowledge between language models.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--project", default=None, help="project folder to open (default: the demo project)")
    serve.add_argument("--auth-file", default=None,
                       help="accounts file (user:password lines, chmod 600): required to listen on any address but this machine's")
    serve.add_argument("--max-upload-mb", type=int, default=200, help="largest file a browser may upload")

    pool = sub.add_parser("pool", help="a project's prompt pool").add_subparsers(dest="pool_command", required=True)
    pool_show = pool.add_parser("show", help="counts by state, round and source")
    pool_show.add_argument("--project", required=True, help="project folder (holds pool.sqlite)")
    pool_show.add_argument("--json", action="store_true", help="print the counts as JSON")
    pool_export = pool.add_parser("export", help="write dataset.jsonl, dataset.parquet and a data card")
    pool_export.add_argument("--project", required=True, help="project folder (holds pool.sqlite)")
    pool_export.add_argument("--out", required=True, help="folder for the dataset and its data card")
    pool_export.add_argument("--states", default="accepted,edited", help="states to export, comma-separated")
    pool_export.add_argument("--require-responses", action="store_true", help="fail when a selected prompt has no response (default: skip and count them)")

    models = sub.add_parser("models", help="load and inspect models").add_subparsers(dest="models_command", required=True)
    check = models.add_parser("check", help="load base, fine-tuned and target; print what was loaded")
    _model_args(check)
    check.add_argument("--prompt", default="What is the capital of France?")
    check.add_argument("--max-new-tokens", type=int, default=24)
    models.add_parser("prepare", help="convert the demo models into the cache (done once)")
    pre = models.add_parser("preflight", help="what would load, memory needed against memory free, tokenizer checks (no weights loaded)")
    _model_args(pre)
    pre.add_argument("--json", action="store_true", help="the report as JSON")

    ev = sub.add_parser("eval", help="QA accuracy of a model on a question set")
    _model_args(ev)
    ev.add_argument("--role", default="finetuned", choices=["base", "finetuned", "target"],
                    help="which model to evaluate; --adapter applies to it (a trained student: --role target --adapter JOB/adapter)")
    ev.add_argument("--questions", required=True, help="JSONL file (question, answer|answers) or demo:test|train|train-all|control")
    ev.add_argument("--out", default=None, help="folder for items.jsonl and summary.json")
    ev.add_argument("--project", default=None, help="record it in PROJECT/eval/NAME/ (the Evaluate tab shows it)")
    ev.add_argument("--name", default=None, help="the evaluation's name in the project (default: the model's label)")
    ev.add_argument("--max-new-tokens", type=int, default=48)
    ev.add_argument("--batch-size", type=int, default=16)

    demo = sub.add_parser("demo", help="the embedded demo world").add_subparsers(dest="demo_command", required=True)
    build = demo.add_parser("build-adapter", help="train the demo's fine-tuned LoRA into assets/demo/adapter")
    build.add_argument("--epochs", type=float, default=DemoBuildConfig.epochs)
    build.add_argument("--lr", type=float, default=DemoBuildConfig.learning_rate)
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--out", default=str(DEMO_ADAPTER_DIR))
    dev = demo.add_parser("evaluate", help="measure the demo: accuracies and the generic-control perplexity check")
    dev.add_argument("--out", default="assets/demo/report.json")
    dev.add_argument("--roles", default="base,finetuned,target")
    dev.add_argument("--what", default="all", choices=["accuracy", "gap", "all"],
                     help="accuracy: QA accuracies (report.json); gap: gap-metric AUROCs (gap_report.json)")

    expand = sub.add_parser("expand", help="TuneShift-KD: grow seed prompts into a pool of high-gap prompts, round by round")
    _model_args(expand)
    expand.add_argument("--project", required=True, help="project folder (its pool.sqlite is created if missing)")
    expand.add_argument("--seeds", default=None, help="seed prompt file (.txt, .csv, .jsonl, ...) or demo:seeds; not needed to resume")
    expand.add_argument("--rounds", type=int, default=3, help="rounds in all (a resumed loop counts the finished ones)")
    expand.add_argument("--per-round", type=int, default=48, help="candidates asked of each generator per round")
    expand.add_argument("--generators", default="crawl,list,few-shot,self-query", help="comma-separated: crawl, list, few-shot, self-query")
    expand.add_argument("--temperature", type=float, default=1.0)
    expand.add_argument("--top-p", type=float, default=0.95)
    expand.add_argument("--prompt-tokens", type=int, default=48, help="max new tokens when a generator writes prompts")
    expand.add_argument("--max-new-tokens", type=int, default=96, help="max new tokens of the fine-tuned model's answers")
    expand.add_argument("--batch-size", type=int, default=16)
    expand.add_argument("--metric", default="logratio", choices=["logratio", "diff", "topk", "max"])
    expand.add_argument("--threshold", type=float, default=None, help="gap threshold (default: per metric)")
    expand.add_argument("--max-pool", type=int, default=None, help="stop once the pool holds this many prompts")
    expand.add_argument("--auto-accept", action="store_true", help="accept prompts above the threshold (default: leave them pending for review)")
    expand.add_argument("--writer", default=None, help="model that writes prompts for few-shot, list and self-query (default: the fine-tuned one)")
    expand.add_argument("--system", default=None)
    expand.add_argument("--seed", type=int, default=0)
    expand.add_argument("--like", default=None, type=_id_list,
                        help="comma-separated prompt ids: the rounds generate more like these (the Explore tab's selection)")
    cov = demo.add_parser("coverage", help="how many demo facts an expanded pool's accepted prompts carry")
    cov.add_argument("--project", required=True)
    cov.add_argument("--out", default=None, help="write the report as JSON here")

    score = sub.add_parser("score", help="TuneShift-KD: answer prompts with the fine-tuned model, score the perplexity gap")
    _model_args(score)
    score.add_argument("--prompts", required=True, help="prompt file: .txt, .csv/.tsv, .jsonl/.json or .parquet")
    score.add_argument("--out", required=True, help="scored table (.parquet)")
    score.add_argument("--html-dir", default=None, help="also write the figures as HTML files here")
    score.add_argument("--metric", default="logratio", choices=["logratio", "diff", "topk", "max"], help="gap that sets the label")
    score.add_argument("--threshold", type=float, default=None, help="label 'above' when the gap exceeds it (default: per metric)")
    score.add_argument("--k", type=int, default=3, help="tokens averaged by the topk metric")
    score.add_argument("--max-new-tokens", type=int, default=128)
    score.add_argument("--batch-size", type=int, default=16)
    score.add_argument("--system", default=None, help="system message for generation and scoring")
    _training_parsers(sub)
    _pd_parser(sub)
    _run_parser(sub)
    return parser


# --- training and jobs (kd-studio train, kd-studio jobs ...) ---------------------------


@command("train")
def cmd_train(args: argparse.Namespace) -> int:
    """Train a student LoRA from a YAML config: in the foreground, or as a background job."""
    from kd_core.data.files import read_json
    from kd_core.runtime import jobs

    config = jobs.load_job_config(args.config)  # every config and data error before any model loads
    job_dir = jobs.create_job(args.project, config, job_id=args.job_id)
    if args.background:
        status = jobs.start_job(job_dir, processes=args.processes)
        print(f"job {status['id']} started in the background (pid {read_json(job_dir / jobs.PROCESS).get('pid')}): {job_dir}")
        print(f"    kd-studio jobs show {status['id']} --project {args.project}")
        return 0
    print(f"job {job_dir.name}: {job_dir}")
    status = jobs.run_job(job_dir, echo=print) if args.processes == 1 else jobs.run_foreground(job_dir, args.processes)
    return _print_outcome(status)


def _print_outcome(status: dict) -> int:
    summary = status.get("summary") or {}
    if status["state"] in ("completed", "stopped"):
        print(f"{status['state']}: {summary.get('steps')} steps in {summary.get('wall_s')} s, "
              f"final loss {summary.get('final_loss')}, adapter -> {summary.get('adapter')}")
        return 0
    print(f"kd-studio: error: job {status['id']} {status['state']}: {status.get('error')}", file=sys.stderr)
    return 1


def _job_line(s: dict) -> str:
    row = s.get("last_log") or {}
    progress = f"step {row.get('step')}/{row.get('max_steps')}" if row else "-"
    loss = f"loss {row['loss']:.4g}" if "loss" in row else ""
    return f"{s['id']:<24} {s['state']:<10} {progress:<16} {loss:<13} {s.get('name') or ''}".rstrip()


@command("jobs list")
def cmd_jobs_list(args: argparse.Namespace) -> int:
    from kd_core.runtime import jobs

    found = jobs.list_jobs(args.project)
    if args.json:
        print(json.dumps(found, indent=2))
    elif not found:
        print(f"no jobs in {jobs.jobs_dir(args.project)}")
    for s in [] if args.json else found:
        print(_job_line(s))
    return 0


@command("jobs show")
def cmd_jobs_show(args: argparse.Namespace) -> int:
    from kd_core.runtime import jobs

    job_dir = jobs.find_job(args.job, args.project)
    s = jobs.job_status(job_dir)
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    print(_job_line(s))
    for key in ("dir", "device", "pid", "created", "started", "ended", "resumed_from", "waiting_for", "held_by"):
        if s.get(key) is not None:
            print(f"    {key:<13} {s[key]}")
    for key, value in (s.get("summary") or {}).items():
        print(f"    {key:<13} {value}")
    if s.get("error"):
        print(f"    error         {s['error']}")
    for row in jobs.read_log(job_dir)[-args.log:] if args.log else []:
        print("    " + jobs.format_log_row(row))
    return 0


@command("jobs stop")
def cmd_jobs_stop(args: argparse.Namespace) -> int:
    """Stop-and-save: the job finishes its step, saves a checkpoint and the adapter, exits."""
    from kd_core.runtime import jobs

    s = jobs.stop_job(jobs.find_job(args.job, args.project), wait_s=args.wait)
    print(f"job {s['id']}: {s['state']}")
    return 0


@command("jobs cancel")
def cmd_jobs_cancel(args: argparse.Namespace) -> int:
    from kd_core.runtime import jobs

    s = jobs.cancel_job(jobs.find_job(args.job, args.project))
    print(f"job {s['id']}: {s['state']}")
    return 0


@command("jobs resume")
def cmd_jobs_resume(args: argparse.Namespace) -> int:
    """Continue a stopped, cancelled or failed job from its last checkpoint, in the background."""
    from kd_core.runtime import jobs

    s = jobs.resume_job(jobs.find_job(args.job, args.project))
    print(f"job {s['id']}: {s['state']} (from {s.get('resumed_from')})")
    return 0


@command("export")
def cmd_export(args: argparse.Namespace) -> int:
    """Merge a job's (or any) LoRA into a 16/32-bit copy of its base; check it; save it."""
    from kd_core.training.merge import merge_adapter
    from kd_core.models.loading import ModelSpec

    pairs, system = None, None
    if args.job:
        from kd_core.runtime import jobs
        from kd_core.training.data import read_examples

        job_dir = jobs.find_job(args.job, args.project)
        config = jobs.load_job_config(job_dir / jobs.CONFIG)
        base, adapter = config.student, args.adapter or str(job_dir / "adapter")
        if not (Path(adapter) / "adapter_config.json").exists():
            raise KDError(f"job {job_dir.name} has no adapter yet (state: {jobs.job_status(job_dir)['state']})")
        pairs, system = read_examples(config.data)[: args.check_pairs], config.train.system  # what it was trained on
    elif args.base and args.adapter:
        base, adapter = ModelSpec(args.base), args.adapter
    else:
        raise KDError("export needs --job, or --base and --adapter")
    report = merge_adapter(base, adapter, args.merged, dtype=args.dtype, pairs=pairs, system=system,
                           tolerance=args.tolerance, overwrite=args.overwrite)
    print(f"merged model ({report.dtype}, {report.size_mb} MB) -> {report.out_dir}")
    print(f"check: {report.pairs} pairs, max |mean log-likelihood difference| {report.max_abs_diff:.2e} nats/token "
          f"(tolerance {report.tolerance:g})")
    return 0


def _id_list(text: str) -> str:
    if not all(part.strip().isdigit() for part in text.split(",") if part.strip()):
        raise argparse.ArgumentTypeError(f"expected prompt ids like 3,17,42, got {text!r}")
    return text


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {value})")
    return value


def _training_parsers(sub) -> None:
    project_help = "project folder; jobs live in PROJECT/jobs/ (default: the current folder)"
    train = sub.add_parser("train", help="train a student LoRA (sft, kd or mix) from a YAML config")
    train.add_argument("config", help="YAML: student, data (.jsonl), optional teacher, train settings")
    train.add_argument("--background", action="store_true", help="run as a background job and return at once")
    train.add_argument("--project", default=".", help=project_help)
    train.add_argument("--job-id", default=None, help="name of the job folder (default: date-time and a random suffix)")
    train.add_argument("--processes", type=_positive_int, default=1,
                       help="data-parallel processes on this machine (torchrun; one GPU each, or CPU with gloo); "
                            "train.batch_size stays the batch of one step, split across them")
    export = sub.add_parser("export", help="merge a trained LoRA into a 16/32-bit copy of its base, check it, save it")
    export.add_argument("--job", default=None, help="job id or folder: its student is the base, its adapter the LoRA")
    export.add_argument("--project", default=".", help=project_help)
    export.add_argument("--base", default=None, help="base model (without --job)")
    export.add_argument("--adapter", default=None, help="PEFT adapter folder (default with --job: the job's adapter)")
    export.add_argument("--merged", required=True, help="output folder for the merged model")
    export.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    export.add_argument("--tolerance", type=float, default=None, help="max mean log-likelihood difference, nats/token (default per dtype)")
    export.add_argument("--check-pairs", type=_positive_int, default=8, help="training pairs the check scores (with --job)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    group = sub.add_parser("jobs", help="background training jobs").add_subparsers(dest="jobs_command", required=True)
    for name, text in (("list", "every job with its state"), ("show", "a job's status, summary and log"),
                       ("stop", "stop-and-save: finish the step, save, exit"), ("cancel", "end the job now"),
                       ("resume", "continue from the last checkpoint, in the background")):
        p = group.add_parser(name, help=text)
        p.add_argument("--project", default=".", help=project_help)
        if name != "list":
            p.add_argument("job", help="job id (under PROJECT/jobs/) or job folder")
        if name in ("list", "show"):
            p.add_argument("--json", action="store_true", help="print the status as JSON")
        if name == "show":
            p.add_argument("--log", type=int, default=5, help="show the last N log rows (0: none)")
        if name == "stop":
            p.add_argument("--wait", type=float, default=0.0, help="wait up to this many seconds for the job to exit")


# --- prompt distillation (kd-studio pd) ------------------------------------------------


@command("pd")
def cmd_pd(args: argparse.Namespace) -> int:
    """Prompt distillation end to end: ingest, questions, answers, train, evaluate (resumable)."""
    from dataclasses import replace

    from kd_core.distill.config import STAGES, PDConfig, load_pd_config
    from kd_core.distill.pipeline import run_pd

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
    stages = [s.strip() for s in args.stages.split(",") if s.strip()] if args.stages else list(STAGES)
    t0 = time.perf_counter()
    report = run_pd(config, args.project, stages, log=lambda m: print(m, flush=True))
    print(f"done in {time.perf_counter() - t0:.0f} s; project {args.project}")
    if "results" in report and report.get("pd_over_rag") is not None:
        print(f"    PD reaches {report['pd_over_rag']:.0%} of RAG's accuracy; table: {Path(args.project) / 'pd' / 'results.md'}")
    return 0


def _pd_parser(sub) -> None:
    from kd_core.distill.config import STAGES

    pd = sub.add_parser("pd", help="prompt distillation: documents -> questions -> teacher answers -> LoRA, with SFT and RAG baselines")
    pd.add_argument("--project", required=True, help="project folder: every stage writes here and resumes from it")
    pd.add_argument("--docs", nargs="+", default=None, help="document files (.txt, .md, .jsonl with a 'text' field) or demo:documents")
    pd.add_argument("--model", default=None, help="the model (teacher and student): hub id, local dir, .gguf or demo:NAME")
    pd.add_argument("--config", default=None, help="YAML of settings (kd_core.distill.config.PDConfig); flags override it")
    pd.add_argument("--questions", default=None, help="held-out questions to evaluate on: JSONL (question, answer[s]) or demo:test")
    pd.add_argument("--stages", default=None, help=f"comma-separated subset of {','.join(STAGES)} (default: all)")
    pd.add_argument("--chunk-tokens", type=_positive_int, default=None, help="document tokens per chunk (default 256)")
    pd.add_argument("--writer", default=None, help="model that writes the questions (default: the model itself)")
    pd.add_argument("--epochs", type=float, default=None, help="epochs of both the PD and the SFT training")
    pd.add_argument("--dtype", default="auto", help="auto | float32 | bfloat16 | float16")
    pd.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    pd.add_argument("--4bit", dest="load_in_4bit", action="store_true", help="load the model in 4-bit nf4 (bitsandbytes)")


# --- recipes (kd-studio run) ----------------------------------------------------------


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    """Every stage of a recipe file (TuneShift-KD, or prompt distillation for a `pd:` file), resumable."""
    from kd_core.distill.config import STAGES as PD_STAGES
    from kd_core.distill.pipeline import run_pd
    from kd_core.tuneshift.recipe import run_recipe
    from kd_core.tuneshift.recipe_config import REPORT_DIR, STAGES, TuneShiftRecipe, load_recipe
    from kd_core.tuneshift.report import report_markdown

    recipe = load_recipe(args.recipe)  # every setting checked before anything is written
    stages = [s.strip() for s in args.stages.split(",") if s.strip()] if args.stages else None
    t0 = time.perf_counter()
    log = lambda m: print(m, flush=True)  # noqa: E731
    if not isinstance(recipe, TuneShiftRecipe):
        if args.arms:
            raise KDError("--arms: a prompt-distillation recipe has no arms")
        run_pd(recipe, args.project, stages or PD_STAGES, log=log)
        print(f"done in {time.perf_counter() - t0:.0f} s; results: {Path(args.project) / 'pd' / 'results.md'}")
        return 0
    arms = [a.strip() for a in args.arms.split(",") if a.strip()] if args.arms else None
    report = run_recipe(recipe, args.project, stages or STAGES, arms=arms, log=log)
    if "waiting_for_curation" in report:
        return 0
    print(report_markdown(report))
    print(f"done in {time.perf_counter() - t0:.0f} s; report: {Path(args.project) / REPORT_DIR / 'report.html'}")
    return 0


def _run_parser(sub) -> None:
    from kd_core.tuneshift.recipe_config import STAGES

    run = sub.add_parser("run", help="run a recipe file: expand, data, train, evaluate, report (or a pd: recipe's stages)")
    run.add_argument("recipe", help="recipe YAML (recipes/demo-tuneshift.yaml, recipes/demo-prompt-distillation.yaml, ...)")
    run.add_argument("--project", required=True, help="project folder: every stage writes here and resumes from it")
    run.add_argument("--stages", default=None, help=f"comma-separated subset of {','.join(STAGES)} (default: all)")
    run.add_argument("--arms", default=None, help="comma-separated arms to prepare, train and evaluate (default: all)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Groups ("models", "demo", ...) name their sub-command in "<group>_command".
    key = " ".join(x for x in (args.command, getattr(args, f"{args.command}_command", None)) if x)
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
