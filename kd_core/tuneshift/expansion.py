"""The TuneShift-KD expansion loop (methods.md section 1, steps 2-5).

One round:  generate -> dedup -> fine-tuned answers -> scores under base and fine-tuned
-> label by threshold -> store, all in the project's pool (kd_core.tuneshift.pool), which is the
loop's only state.  So a loop killed anywhere resumes from the pool: prompts without an
answer are answered and scored first, and a round whose generators did not all finish
(recorded in the pool's meta after each one) runs the rest.  Every generator draws
from its own seed (seed, round, generator), so a resumed round proposes what the
killed one would have, and what was already added is dropped as a duplicate.

Round 0 holds the seeds.  The high-gap set the generators learn from is every prompt
labelled "above" that nobody rejected.  Stops after `rounds`, when a round adds no
new high-gap prompt (or, with ``stop_when="no-new-name"``, no high-gap name that no earlier
round's answers held: a crawl for coverage, with `rounds` as its budget), or when the pool
holds `max_pool` prompts.  Each round's log counts its new high-gap names either way.  Only
a dry round of the same generators stops the loop (a quiz round that found no new name says
nothing about a crawl after it).
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from kd_core.data.prompt_files import PromptFile
from kd_core.errors import InputFileError, KDError
from kd_core.models.generation import GenerationConfig, chat_text, encode_prompt
from kd_core.models.loading import LoadedModel, ModelSpec, max_positions
from kd_core.project import Project
from kd_core.runtime import runs
from kd_core.tuneshift.gaps import GapConfig
from kd_core.tuneshift.generators import GENERATORS, Exemplar, GenContext, Generator, gap_spans, make_generators
from kd_core.tuneshift.pool import Pool, PoolFilter, Results
from kd_core.tuneshift.scoring import ScoreConfig, check_same_tokenizer, score_prompts

if TYPE_CHECKING:
    import pandas as pd

    from kd_core.tuneshift.pool import AddResult

Progress = Callable[[int, int, str], None]

META_LOG = "expansion.rounds"  # one entry per finished round
META_CURRENT = "expansion.current"  # the round under way: which generators are done
META_SPECS = "expansion.model_specs"  # the base and fine-tuned ModelSpecs the rounds ran with
LIVE = ("pending", "accepted", "edited")  # not rejected
STOP_WHEN = ("no-new-prompt", "no-new-name")


@dataclass
class ExpansionConfig:
    rounds: int = 3
    per_round: int = 48  # candidates asked of each generator per round
    generators: tuple[str, ...] = ("crawl", "list", "few-shot", "self-query")
    sampling: GenerationConfig = field(
        default_factory=lambda: GenerationConfig(max_new_tokens=48, do_sample=True, temperature=1.0, top_p=0.95)
    )
    answer: GenerationConfig = field(default_factory=lambda: GenerationConfig(max_new_tokens=96))
    gap: GapConfig = field(default_factory=GapConfig)
    score_batch_size: int = 16
    chunk: int = 64  # prompts answered and stored per commit: a kill loses at most this much work
    system: str | None = None
    max_pool: int | None = None
    auto_accept: bool = False  # accept what lands above the threshold ("who" = auto)
    seed: int = 0
    like: tuple[int, ...] = ()  # prompt ids a person picked ("more like these"): the exemplars of the rounds to run
    # no-new-prompt: stop after a round with no new high-gap prompt. no-new-name: stop after a round whose
    # high-gap answers name nothing earlier rounds' did not (more prompts about known names reach no new
    # fact; `rounds` is then the crawl's budget). A paraphrase round finds no new name by design.
    stop_when: str = "no-new-prompt"

    def __post_init__(self) -> None:
        if self.stop_when not in STOP_WHEN:
            raise KDError(f"expansion setting stop_when must be one of {', '.join(STOP_WHEN)}, got {self.stop_when!r}")
        for name in ("rounds", "per_round", "chunk", "score_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "rounds" else 1):
                raise KDError(f"expansion setting {name} must be a whole number >= {0 if name == 'rounds' else 1}, got {value!r}")
        make_generators(self.generators)  # unknown names fail now, not at round 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "expand") -> "ExpansionConfig":
        """From a mapping (a recipe's `expand:`, or `to_dict`'s output kept in a pool);
        an unknown or mistyped setting is named with its path."""
        from kd_core.data.config import checked_fields

        values = checked_fields(cls, data, where)
        default = cls()
        for key in ("sampling", "answer"):
            if isinstance(values.get(key), dict):
                values[key] = GenerationConfig(**{**asdict(getattr(default, key)),
                                                  **checked_fields(GenerationConfig, values[key], f"{where}.{key}")})
        if isinstance(values.get("gap"), dict):
            values["gap"] = GapConfig(**checked_fields(GapConfig, values["gap"], f"{where}.gap"))
        for key in ("generators", "like"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        try:
            return cls(**values)
        except KDError as e:
            raise KDError(f"{where}: {e}") from None


def check_prompt_lengths(lm: LoadedModel, prompts: Sequence[str], answer_tokens: int, source: str, system: str | None = None) -> None:
    """Refuse prompts that leave no room for an answer in the model's context, naming them."""
    limit = max_positions(lm.model)
    if not limit:
        return
    for i, p in enumerate(prompts):
        n = len(encode_prompt(lm.tokenizer, chat_text(lm.tokenizer, p, system)))
        if n + answer_tokens > limit:
            head = p[:60].replace("\n", " ")
            raise InputFileError(
                f"{source}: prompt {i + 1} ('{head}...') is {n:,} tokens with the chat template; "
                f"{lm.spec.label()} takes {limit:,} in all and answers need {answer_tokens} more. Shorten or remove it."
            )


def add_seeds(pool: Pool, prompts: Sequence[str], finetuned: LoadedModel, config: ExpansionConfig, source: str = "seed",
              name: str = "seeds") -> AddResult:
    """Add seed prompts as round 0 (after checking they fit the model)."""
    if not prompts:
        raise InputFileError(f"{name}: no prompts to start from")
    check_prompt_lengths(finetuned, prompts, config.answer.max_new_tokens, name, config.system)
    return pool.add_prompts(prompts, source=source, round=0)


# ---------------------------------------------------------------------------
# Answer and score


def answer_and_score(pool: Pool, base: LoadedModel, finetuned: LoadedModel, config: ExpansionConfig,
                     progress: Progress | None = None, stage: str = "") -> int:
    """Answer and score every prompt that has no answer yet; returns how many were stored."""
    score_config = ScoreConfig(gap=config.gap, generation=config.answer, batch_size=config.score_batch_size, system=config.system)
    todo = pool.pending_for_scoring()
    stored = 0
    for start in range(0, len(todo), config.chunk):
        rows = todo.iloc[start:start + config.chunk]

        def step(done: int, total: int, what: str) -> None:
            if progress:
                progress(start + done, len(todo), f"{stage}{what}")

        df = score_prompts(base, finetuned, list(rows["text"]), score_config, progress=step)
        results = [
            Results(int(pid), r.response, scores=pair_scores(r), gap=_num(r[config.gap.column]), gap_metric=config.gap.metric,
                    auto_label=r.label, prompt_text=text)
            for pid, text, (_, r) in zip(rows["id"], rows["text"], df.iterrows())
        ]
        written = pool.set_results_many(results)
        stored += len(written.written)
        if config.auto_accept:
            stored_ids = set(written.written)
            above = [r.id for r in results if r.auto_label == "above" and r.id in stored_ids]
            if above:
                pool.bulk_set_state(PoolFilter(ids=above, states="pending"), "accepted", who="auto (above threshold)")
    return stored


def _num(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def pair_scores(r: Any) -> dict[str, Any]:
    """A scores table's row (kd_core.tuneshift.scoring) as a pool stores it."""
    out = {k: _num(r[k]) for k in ("ll_ft", "ll_base", "ppl_ft", "ppl_base", "gap_diff", "gap_logratio", "gap_topk", "gap_max")}
    out["n_tokens"] = int(r["n_tokens"])
    out["tokens"] = list(r["tokens"])
    out["token_lp_ft"] = [round(float(x), 4) for x in r["token_lp_ft"]]
    out["token_lp_base"] = [round(float(x), 4) for x in r["token_lp_base"]]
    return out


# ---------------------------------------------------------------------------
# The loop


def exemplars(pool: Pool, ids: Sequence[int] | None = None) -> list[Exemplar]:
    """The high-gap set: prompts above the threshold that nobody rejected, newest first;
    with `ids`, those prompts (answered and not rejected) whatever their gap."""
    chosen = PoolFilter(states=LIVE, ids=list(ids), has_response=True) if ids else PoolFilter(states=LIVE, auto_label="above")
    rows = pool.query(chosen, order="id")
    out = []
    for r in rows.itertuples():
        s = r.scores or {}
        gaps = tuple(np.subtract(s.get("token_lp_ft", []), s.get("token_lp_base", [])).tolist())
        out.append(Exemplar(int(r.id), r.text, r.response or "", tuple(s.get("tokens", [])), gaps))
    return out[::-1]


def crawled_ids(pool: Pool, source: str = "crawl") -> frozenset[int]:
    """The prompts whose answers a generator (crawl, quiz, paraphrase, reverse) has already followed."""
    rows = pool.query(PoolFilter(sources=source))
    return frozenset(int(p) for ps in rows["parent_ids"] for p in ps)


def generator_seed(seed: int, round: int, name: str) -> int:
    return zlib.crc32(f"{seed}/{round}/{name}".encode())


def run_expansion(
    pool: Pool,
    base: LoadedModel,
    finetuned: LoadedModel,
    config: ExpansionConfig | None = None,
    writer: LoadedModel | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] = lambda s: None,
    generators: Sequence[Generator] | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) expansion rounds; returns the log of every finished round.

    `writer` is the model the generators sample prompts from (default: the fine-tuned
    one).  `generators` replaces the ones named in the config (your own `Generator`s).
    """
    config = config or ExpansionConfig()
    check_same_tokenizer(base, finetuned)
    generators = list(generators) if generators is not None else make_generators(config.generators)
    names = [g.name for g in generators]
    if len(set(names)) != len(names) or not all(names):
        raise KDError(f"generators need distinct, non-empty names (they are the prompts' source): {names}")
    writer = writer or finetuned
    pool.update_meta({
        "models": {"base": base.spec.label(), "finetuned": finetuned.spec.label(), "writer": writer.spec.label()},
        META_SPECS: {"base": base.spec.to_dict(), "finetuned": finetuned.spec.to_dict()},  # what a resumed run loads again
        "thresholds": {"gap_metric": config.gap.metric, "tau": config.gap.tau},
        "expansion.config": {**config.to_dict(), "generators": names},  # what runs, even when passed in
    })

    # Anything stored without an answer (seeds, or a round killed before its answers).
    current = pool.get_meta(META_CURRENT)
    n = answer_and_score(pool, base, finetuned, config, progress, stage=f"round {current['round'] if current else 0}: ")
    if n:
        log(f"answered and scored {n} prompts left without answers")

    history: list[dict] = list(pool.get_meta(META_LOG, []))
    if current and current.get("planned") and sorted(current["planned"]) != sorted(names):
        # Finishing a round with other generators would mix two rounds' prompts in one.
        raise KDError(f"round {current['round']} was started with the generators {', '.join(current['planned'])} and is not "
                      f"finished: resume it with those (asked: {', '.join(names)})")
    while True:
        if current is None:
            done_rounds = finished_rounds(pool, history)
            if done_rounds >= config.rounds:
                break
            # A person's pick is always tried; and a dry round of other generators (a quiz round before
            # a crawl) says nothing about what these will find.
            if history and not config.like and sorted(history[-1].get("generators") or {}) == sorted(names):
                if history[-1]["new_above"] == 0:
                    log(f"stopping: round {done_rounds} found no new high-gap prompt")
                    break
                if config.stop_when == "no-new-name" and history[-1].get("new_names") == 0:
                    log(f"stopping: round {done_rounds} found no new high-gap name")
                    break
            if config.max_pool and pool.count() >= config.max_pool:
                log(f"stopping: the pool holds {pool.count()} prompts (max_pool {config.max_pool})")
                break
            current = {"round": done_rounds + 1, "planned": names, "generators": {},
                       **({"like": list(config.like)} if config.like else {})}
            pool.set_meta(META_CURRENT, current)
        stats = _run_round(pool, base, finetuned, writer, generators, current, config, progress, log)
        history.append(stats)
        pool.update_meta({META_LOG: history, META_CURRENT: None})
        current = None
    return history


def _run_round(pool, base, finetuned, writer, generators: list[Generator], current: dict, config: ExpansionConfig,
               progress: Progress | None, log) -> dict:
    r = current["round"]
    # Read once: prompts this round adds get their labels only when the round is scored.
    high_gap = exemplars(pool, current.get("like"))
    if current.get("like") and not high_gap:
        raise KDError(f"none of the chosen prompts ({', '.join(map(str, current['like']))}) is answered and not rejected")
    for gen in generators:
        if gen.name in current["generators"]:
            continue  # done before a restart
        stage = f"round {r} · {gen.name}: generate"
        ctx = GenContext(
            model=writer if gen.needs_model else None,
            exemplars=high_gap,
            sampling=config.sampling,
            seed=generator_seed(config.seed, r, gen.name),
            system=config.system,
            known=pool.known,
            crawled=crawled_ids(pool, gen.name) if gen.follows_answers else frozenset(),
            progress=(lambda d, t, s=stage: progress(d, t, s)) if progress else None,
        )
        proposal = gen.propose(ctx, config.per_round)
        texts = [c.text for c in proposal.candidates]
        added = pool.add_prompts(texts, source=gen.name, round=r, parent_ids=[list(c.parents) for c in proposal.candidates])
        current["generators"][gen.name] = {
            "attempts": proposal.attempts,
            "candidates": len(texts),
            "unparseable": proposal.unparseable,
            "exact_dups": len(added.exact_dups),
            "near_dups": len(added.near_dups),
            "added": len(added.added),
            "note": proposal.note,
            "unparseable_examples": proposal.rejected_examples,
        }
        pool.set_meta(META_CURRENT, current)
        log(f"round {r} · {gen.name}: {len(texts)} candidates from {proposal.attempts} attempts "
            f"({proposal.unparseable} unparseable); {added.summary()}" + (f"; {proposal.note}" if proposal.note else ""))
    answer_and_score(pool, base, finetuned, config, progress, stage=f"round {r}: ")
    new_above = 0
    for gen in generators:
        g = current["generators"][gen.name]
        g["above"] = pool.count(PoolFilter(rounds=r, sources=gen.name, auto_label="above"))
        g["scored"] = pool.count(PoolFilter(rounds=r, sources=gen.name, has_response=True))
        g["dup_rate"] = round((g["exact_dups"] + g["near_dups"]) / g["candidates"], 3) if g["candidates"] else None
        g["above_rate"] = round(g["above"] / g["scored"], 3) if g["scored"] else None
        new_above += g["above"]
    names = names_by_round(pool)
    earlier = set().union(*(n for k, n in names.items() if k < r))
    new_names = names.get(r, set()) - earlier
    stats = {"round": r, "generators": current["generators"], "new_above": new_above, "pool_size": pool.count(),
             "new_names": len(new_names), "names": len(earlier | new_names),
             "new_name_examples": sorted(new_names)[:10]}
    log(f"round {r}: {new_above} new high-gap prompts naming {len(new_names)} new high-gap names "
        f"({stats['names']} in all); the pool holds {stats['pool_size']}")
    return stats


def names_by_round(pool: Pool) -> dict[int, set[str]]:
    """The high-gap names (generators.gap_spans: names in an answer the base model could not
    predict) in each round's answers above the threshold that nobody rejected, lower-cased.
    A round that adds none reaches no entity the pool did not already reach."""
    rows = pool.query(PoolFilter(states=LIVE, auto_label="above"), order="id")
    out: dict[int, set[str]] = {}
    for r in rows.itertuples():
        out.setdefault(int(r.round), set()).update(answer_names(r.text, r.scores))
    return out


def answer_names(prompt: str, scores: dict | None) -> set[str]:
    """The high-gap names of one stored answer (generators.gap_spans over its per-token
    scores: names the base model could not predict and the prompt does not hold), lower-cased."""
    s = scores or {}
    gaps = np.subtract(s.get("token_lp_ft", []), s.get("token_lp_base", [])).tolist()
    return {name.lower() for name, _ in gap_spans(s.get("tokens", []), gaps, prompt=prompt)} if gaps else set()


# ---------------------------------------------------------------------------
# Rounds in a process of their own (the UI's Expand tab; `kd-studio expand` from a shell)

EXPAND_DIR = "expand"  # <project>/expand/: run.yaml (kd_core.runtime.background), status.json, process.log, run.lock
WHAT = "expansion run"


def cli_args(config: ExpansionConfig) -> list[str]:
    """The `kd-studio expand` flags closest to this config, for people to copy into a shell
    (the UI shows them). Background runs do not use them: they read the whole config from
    the run file (start_expand). The flags have one batch size and no `chunk`."""
    args = ["--rounds", str(config.rounds), "--per-round", str(config.per_round), "--generators", ",".join(config.generators),
            "--temperature", repr(config.sampling.temperature), "--top-p", repr(config.sampling.top_p),
            "--prompt-tokens", str(config.sampling.max_new_tokens), "--max-new-tokens", str(config.answer.max_new_tokens),
            "--batch-size", str(config.score_batch_size), "--metric", config.gap.metric, "--seed", str(config.seed)]
    if config.gap.threshold is not None:
        args += ["--threshold", repr(float(config.gap.threshold))]
    if config.max_pool:
        args += ["--max-pool", str(config.max_pool)]
    if config.stop_when != "no-new-prompt":
        args += ["--stop-when", config.stop_when]
    if config.like:
        args += ["--like", ",".join(map(str, config.like))]
    if config.auto_accept:
        args.append("--auto-accept")
    if config.system:
        args += ["--system", config.system]
    return args


def cli_command(project: str | Path, seeds: str, config: ExpansionConfig) -> str:
    """``kd-studio expand --project P --seeds S ...`` (`cli_args`) as one shell line to
    copy, each argument quoted: a path or a system prompt people typed stays one argument."""
    import shlex

    return shlex.join(["kd-studio", "expand", "--project", str(project), "--seeds", seeds, *cli_args(config)])


def read_seeds(ref: str) -> PromptFile:
    """A seed prompt file, or a reference to one (demo:seeds), read and checked."""
    from kd_core.data.prompt_files import read_prompts
    from kd_core.data.references import resolve_file

    return read_prompts(resolve_file(ref))


def named_models(base: str | None = None, finetuned: str | None = None,
                 adapter: str | None = None) -> tuple[ModelSpec | None, ModelSpec | None]:
    """The base and fine-tuned ModelSpecs that model names give, as `kd-studio expand`'s
    --base, --finetuned and --adapter do (an adapter alone goes on the base, or the demo's
    base); none given: (None, None), the project's own models (project_models)."""
    from kd_core.data.references import default_model

    base, finetuned, adapter = ((str(x).strip() or None) if x else None for x in (base, finetuned, adapter))
    if not (base or finetuned or adapter):
        return None, None
    ft = ModelSpec(finetuned or base or default_model("base")["name"], adapter=adapter) if finetuned or adapter else None
    return (ModelSpec(base) if base else None), ft


def project_models(pool: Pool | None, base: ModelSpec | None = None, finetuned: ModelSpec | None = None, device: str = "auto",
                   dtype: str = "auto", load_in_4bit: bool = False,
                   log: Callable[[str], None] = lambda s: None) -> tuple[ModelSpec, ModelSpec]:
    """The base and fine-tuned models a run uses: the given ones; neither given, the ones
    the project's rounds ran with (kept in the pool), else the demo's, placed by `device`,
    `dtype` and `load_in_4bit` where those are not "auto" (where they run is this run's choice)."""
    from kd_core.data.references import default_model
    from kd_core.runtime.jobs import model_spec_from

    if base is None and finetuned is None:
        recorded = pool.get_meta(META_SPECS) if pool is not None else None
        if recorded:
            base, finetuned = (model_spec_from(recorded[role], role) for role in ("base", "finetuned"))
            log(f"models of {pool.path.parent}: base {base.label()}, fine-tuned {finetuned.label()}")
        else:
            base, finetuned = (ModelSpec.from_file_dict(default_model(role), f"default {role}") for role in ("base", "finetuned"))
        for spec in (base, finetuned):
            spec.device = device if device != "auto" else spec.device
            spec.dtype = dtype if dtype != "auto" else spec.dtype
            spec.load_in_4bit = load_in_4bit or spec.load_in_4bit
    if base is None or finetuned is None:
        raise KDError("expand needs the base and the fine-tuned model (--base with --adapter or --finetuned)")
    return base, finetuned


def expand_pool(pool: Pool, plan: ExpansionConfig | Sequence[ExpansionConfig], base: ModelSpec, finetuned: ModelSpec,
                seeds: PromptFile | None = None, writer: ModelSpec | None = None, progress: Progress | None = None,
                log: Callable[[str], None] = lambda s: None, stage: Callable[[str], None] = lambda s: None) -> list[dict[str, Any]]:
    """Load the models, add `seeds` as round 0, then run (or resume) the rounds; returns
    the log of every finished round. The one expansion step of `kd-studio expand`, its
    background run and a recipe's expand stage. Of a `plan` of several configs, each runs
    its own rounds: an interrupted round resumes under the config (and generators) that
    started it; a single config always runs (it also answers what was left unanswered)."""
    from kd_core.models.loading import load_model

    plan = [plan] if isinstance(plan, ExpansionConfig) else list(plan)
    stage("loading models")
    base_lm, ft = load_model(base), load_model(finetuned)
    if seeds is not None:
        stage("seeds: answering and scoring")
        log(f"seeds: {add_seeds(pool, seeds.prompts, ft, plan[0], name=seeds.path).summary()}")
    writer_lm = load_model(writer) if writer is not None else None  # any model may write prompts
    current = pool.get_meta(META_CURRENT)
    history = round_history(pool)
    next_round = current["round"] if current else len(history) + 1
    for config in plan:
        if len(plan) == 1 or config.rounds >= next_round:
            history = run_expansion(pool, base_lm, ft, config, writer=writer_lm, progress=progress, log=log)
    return history


def expand_project(project: str | Path, config: ExpansionConfig, seeds: PromptFile | None = None,
                   base: ModelSpec | None = None, finetuned: ModelSpec | None = None, writer: ModelSpec | None = None,
                   placement: dict[str, Any] | None = None, progress: Progress | None = None,
                   log: Callable[[str], None] = lambda s: None) -> tuple[list[dict[str, Any]], Any]:
    """Expansion rounds into a project's pool, recorded in ``<project>/expand/`` (the Expand
    tab shows it; one run per project): `kd-studio expand` and the background run. Models
    not given: the project's own (project_models, with `placement`). `progress` hears every
    step that the run's status records. Returns the rounds' log and the pool's counts."""
    from kd_core.runtime.background import throttled

    root = Project.at(project).root
    root.mkdir(parents=True, exist_ok=True)  # a new project starts from its seeds
    # The pool first: it names a read-only or foreign project before anything is written.
    with Pool(root) as pool, runs.recorded(root, EXPAND_DIR, WHAT, stage=None) as folder:
        if seeds is None and pool.count() == 0:
            raise KDError(f"{pool.path} holds no prompts: give --seeds FILE (or --seeds demo:seeds)")
        base, finetuned = project_models(pool, base, finetuned, log=log, **(placement or {}))

        def report(done: int, total: int, what: str) -> None:
            if progress:
                progress(done, total, what)
            runs.update(folder, stage=f"{what}: {done}/{total}")

        with runs.DeviceHold(folder, finetuned.device, log):  # the lock training jobs take: never two on one device
            history = expand_pool(pool, config, base, finetuned, seeds, writer, throttled(report, 10.0), log,
                                  stage=lambda text: runs.update(folder, stage=text))
        return history, pool.counts()


def start_expand(project: str | Path, config: ExpansionConfig, seeds: str | None = None, base: ModelSpec | None = None,
                 finetuned: ModelSpec | None = None, writer: ModelSpec | None = None) -> dict[str, Any]:
    """Run the rounds in the background (kd_core.runtime.background); returns the run's
    status. `seeds`: a prompt file or demo:seeds; models not given: the project's own."""
    from kd_core.runtime.background import spec_dict, start_run

    root = Project.at(project).root
    said: list[str] = []  # how the models were resolved: the run's log says it first
    if base is None and finetuned is None and Project(root).pool.exists():
        with Pool(root, create=False) as pool:  # resolved now: the run file says what runs
            base, finetuned = project_models(pool, log=said.append)
    else:
        base, finetuned = project_models(None, base, finetuned)
    settings = {"config": config.to_dict(), "seeds": seeds, "base": spec_dict(base), "finetuned": spec_dict(finetuned),
                "writer": spec_dict(writer), "notes": said}
    return start_run(root, EXPAND_DIR, WHAT, settings, stage=None)


def expand_status(project: str | Path) -> dict[str, Any]:
    return runs.status(project, EXPAND_DIR)


def stop_expand(project: str | Path) -> dict[str, Any]:
    """End the rounds now; the pool keeps every committed chunk and the next run resumes."""
    return runs.stop(project, EXPAND_DIR)




def more_like(project: str | Path, ids: Sequence[int], per_round: int | None = None) -> dict[str, Any]:
    """One more round whose generators work from the prompts `ids` (a person's lasso in
    the Explore tab), with the project's own settings and models, in the background."""
    ids = sorted({int(i) for i in ids})
    if not ids:
        raise KDError("no prompts chosen: select some points on the scatter (lasso or box), or type their ids")
    root = Project.at(project).root
    if not Project(root).pool.exists():
        raise KDError(f"{root} holds no pool: 'more like these' works on a project folder's prompts")
    with Pool(root, create=False) as pool:
        known = set(pool.ids(PoolFilter(ids=ids, states=LIVE, has_response=True)))
        missing = [i for i in ids if i not in known]
        if missing:
            raise KDError(f"prompt{'s' * (len(missing) > 1)} {', '.join(map(str, missing[:10]))} of {root}: not in the pool, "
                          "rejected, or not answered yet")
        saved = pool.get_meta("expansion.config")
        done = finished_rounds(pool, round_history(pool))
    base = ExpansionConfig.from_dict({k: v for k, v in saved.items() if k != "like"}) if saved else ExpansionConfig()
    generators = tuple(g for g in base.generators if g in GENERATORS and GENERATORS[g].reads_exemplars) or ("list", "few-shot")
    config = replace(base, rounds=done + 1, like=tuple(ids), generators=generators, per_round=per_round or base.per_round)
    return start_expand(root, config)


def finished_rounds(pool: Pool, history: Sequence[dict[str, Any]]) -> int:
    """The last finished round: the round log's, or the pool's highest round where prompts came
    without a log (a pool made from recorded runs, like the demo project's), so the next round
    gets a number of its own and `rounds` counts those too."""
    return max([h["round"] for h in history] + [pool.last_round()])


def round_history(pool: Pool) -> list[dict[str, Any]]:
    """One entry per finished round (what `run_expansion` returned so far)."""
    return list(pool.get_meta(META_LOG, []))


def scored_frame(pool: Pool) -> pd.DataFrame:
    """The pool's answered and scored prompts as a scores table (the columns of
    kd_core.tuneshift.scoring's output, plus state, round and source), for the gap figures."""
    import pandas as pd

    rows = pool.query()
    records = [{"id": int(r.id), "prompt": r.text, "response": r.response or "", "state": r.state, "round": int(r.round),
                "source": r.source, **(r.scores or {})} for r in rows.itertuples() if r.scores]
    return pd.DataFrame.from_records(records)
