"""TuneShift-KD from a shell: `kd-studio score`, `kd-studio expand`, `kd-studio pool show|export`."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from kd_core.cli.common import command, echo, id_list, model_args, progress_bar, role_specs
from kd_core.errors import KDError

if TYPE_CHECKING:
    from kd_core.tuneshift.expansion import ExpansionConfig
    from kd_core.tuneshift.pool import PoolCounts


@command("score")
def cmd_score(args: argparse.Namespace) -> int:
    """TuneShift-KD scoring: the fine-tuned model answers, both models score, gaps and labels."""
    from kd_core.data.prompt_files import read_prompts
    from kd_core.models.generation import GenerationConfig
    from kd_core.models.loading import load_model
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
    bar = progress_bar()
    bar(0, None, "loading the models")
    base, ft = load_model(specs["base"]), load_model(specs["finetuned"])
    config = ScoreConfig(
        gap=gap,
        generation=GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size),
        batch_size=args.batch_size,
        system=args.system,
    )
    t0 = time.perf_counter()
    with bar:
        df = score_prompts(base, ft, pf.prompts, config, progress=bar)
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


def expansion_config(args: argparse.Namespace) -> ExpansionConfig:
    """The ExpansionConfig that `kd-studio expand` flags give (one batch size for all three)."""
    from kd_core.models.generation import GenerationConfig
    from kd_core.tuneshift.expansion import ExpansionConfig
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
        stop_when=args.stop_when,
        auto_accept=args.auto_accept,
        seed=args.seed,
        like=tuple(int(i) for i in args.like.split(",") if i.strip()) if args.like else (),
    )


def print_expansion(history: list, counts: PoolCounts, seconds: float) -> None:
    print(f"{len(history)} rounds done in {seconds:.0f} s; the pool holds {counts.total} prompts, "
          f"{counts.by_label['above']} above the threshold, {counts.by_state['accepted']} accepted")


@command("expand")
def cmd_expand(args: argparse.Namespace) -> int:
    """TuneShift-KD expansion rounds into a project's pool (resumes where it stopped)."""
    from kd_core.models.loading import ModelSpec
    from kd_core.tuneshift.expansion import expand_project, read_seeds

    config = expansion_config(args)
    seeds = None
    if args.seeds:  # a bad seed file fails before minutes of model loading
        seeds = read_seeds(args.seeds)
        print(seeds.summary())
    specs = {}
    if any(getattr(args, r, None) for r in ("base", "finetuned", "adapter")):
        specs = role_specs(args, roles=("base", "finetuned"))  # none given: the project's own models
    writer = None
    if args.writer:  # any model may write prompts; the fine-tuned one does by default
        writer = ModelSpec(args.writer, dtype=args.dtype, device=args.device, load_in_4bit=args.load_in_4bit,
                           trust_remote_code=args.trust_remote_code)
    placement = {"device": args.device, "dtype": args.dtype, "load_in_4bit": args.load_in_4bit}
    t0 = time.perf_counter()
    with progress_bar() as bar:
        history, counts = expand_project(args.project, config, seeds, specs.get("base"), specs.get("finetuned"), writer,
                                         placement=placement, progress=bar, log=echo)
    print_expansion(history, counts, time.perf_counter() - t0)
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


def add_pool_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pool = sub.add_parser("pool", help="a project's prompt pool").add_subparsers(dest="pool_command", required=True)
    pool_show = pool.add_parser("show", help="counts by state, round and source")
    pool_show.add_argument("--project", required=True, help="project folder (holds pool.sqlite)")
    pool_show.add_argument("--json", action="store_true", help="print the counts as JSON")
    pool_export = pool.add_parser("export", help="write dataset.jsonl, dataset.parquet and a data card")
    pool_export.add_argument("--project", required=True, help="project folder (holds pool.sqlite)")
    pool_export.add_argument("--out", required=True, help="folder for the dataset and its data card")
    pool_export.add_argument("--states", default="accepted,edited", help="states to export, comma-separated")
    pool_export.add_argument("--require-responses", action="store_true",
                             help="fail when a selected prompt has no response (default: skip and count them)")


def add_expand_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    expand = sub.add_parser("expand", help="TuneShift-KD: grow seed prompts into a pool of high-gap prompts, round by round")
    model_args(expand)
    expand.add_argument("--project", required=True, help="project folder (its pool.sqlite is created if missing)")
    expand.add_argument("--seeds", default=None, help="seed prompt file (.txt, .csv, .jsonl, ...) or demo:seeds; not needed to resume")
    expand.add_argument("--rounds", type=int, default=3, help="rounds in all (a resumed loop counts the finished ones)")
    expand.add_argument("--per-round", type=int, default=48, help="candidates asked of each generator per round")
    expand.add_argument("--generators", default="crawl,list,few-shot,self-query",
                        help="comma-separated: crawl, list, few-shot, self-query, quiz, paraphrase, reverse")
    expand.add_argument("--temperature", type=float, default=1.0)
    expand.add_argument("--top-p", type=float, default=0.95)
    expand.add_argument("--prompt-tokens", type=int, default=48, help="max new tokens when a generator writes prompts")
    expand.add_argument("--max-new-tokens", type=int, default=96, help="max new tokens of the fine-tuned model's answers")
    expand.add_argument("--batch-size", type=int, default=16)
    expand.add_argument("--metric", default="logratio", choices=["logratio", "diff", "topk", "max"])
    expand.add_argument("--threshold", type=float, default=None, help="gap threshold (default: per metric)")
    expand.add_argument("--max-pool", type=int, default=None, help="stop once the pool holds this many prompts")
    expand.add_argument("--stop-when", default="no-new-prompt", choices=["no-new-prompt", "no-new-name"],
                        help="stop before --rounds after a round with no new high-gap prompt (default) or with no "
                             "high-gap name earlier rounds' answers lacked (a crawl for coverage; --rounds is its budget)")
    expand.add_argument("--auto-accept", action="store_true", help="accept prompts above the threshold (default: leave them pending for review)")
    expand.add_argument("--writer", default=None, help="model that writes prompts for few-shot, list and self-query (default: the fine-tuned one)")
    expand.add_argument("--system", default=None)
    expand.add_argument("--seed", type=int, default=0)
    expand.add_argument("--like", default=None, type=id_list,
                        help="comma-separated prompt ids: the rounds generate more like these (the Explore tab's selection)")


def add_score_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    score = sub.add_parser("score", help="TuneShift-KD: answer prompts with the fine-tuned model, score the perplexity gap")
    model_args(score)
    score.add_argument("--prompts", required=True, help="prompt file: .txt, .csv/.tsv, .jsonl/.json or .parquet")
    score.add_argument("--out", required=True, help="scored table (.parquet)")
    score.add_argument("--html-dir", default=None, help="also write the figures as HTML files here")
    score.add_argument("--metric", default="logratio", choices=["logratio", "diff", "topk", "max"], help="gap that sets the label")
    score.add_argument("--threshold", type=float, default=None, help="label 'above' when the gap exceeds it (default: per metric)")
    score.add_argument("--k", type=int, default=3, help="tokens averaged by the topk metric")
    score.add_argument("--max-new-tokens", type=int, default=128)
    score.add_argument("--batch-size", type=int, default=16)
    score.add_argument("--system", default=None, help="system message for generation and scoring")
