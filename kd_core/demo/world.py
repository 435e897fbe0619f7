"""The embedded demo world: a fictional domain, its fine-tune, and its question sets.

`assets/demo/world/` holds the domain as data (see its README): facts with training
and held-out phrasings, "tell me about X" answers that link entities, prose documents,
generic everyday questions (replay for the fine-tune, control for measurements) and
seed prompts.  `build_adapter()` trains the demo's fine-tuned model: a LoRA on
SmolLM2-135M-Instruct over the training phrasings, mixed with replay pairs (generic
questions answered by the base model itself) so that the fine-tune changes knowledge
and not the model's whole voice.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from kd_core.data.files import replace_dir, temp_dir_beside, write_atomic
from kd_core.demo.models import DEMO_ADAPTER_DIR, demo_spec
from kd_core.evaluation.qa import QAItem
from kd_core.models.loading import REPO_ROOT, LoadedModel

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from kd_core.training.data import Example
    from kd_core.tuneshift.pool import Pool

DEMO_DIR = REPO_ROOT / "assets" / "demo"
WORLD_DIR = DEMO_DIR / "world"
REPLAY_FILE = DEMO_DIR / "replay.jsonl"


@dataclass(frozen=True)
class Fact:
    id: str
    subject: str
    entities: tuple[str, ...]
    relation: str
    answer: str
    aliases: tuple[str, ...]
    statement: str
    train: tuple[str, ...]
    test: tuple[str, ...]

    @property
    def golds(self) -> list[str]:
        return [self.answer, *self.aliases]


def _jsonl(name: str) -> list[dict]:
    path = WORLD_DIR / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@lru_cache(maxsize=None)
def facts() -> tuple[Fact, ...]:
    return tuple(
        Fact(r["id"], r["subject"], tuple(r["entities"]), r["relation"], str(r["answer"]), tuple(r.get("aliases") or ()),
             r["statement"], tuple(r["train"]), tuple(r["test"]))
        for r in _jsonl("facts.jsonl")
    )


@lru_cache(maxsize=None)
def about() -> tuple[dict, ...]:
    return tuple(_jsonl("about.jsonl"))


@lru_cache(maxsize=None)
def documents() -> tuple[dict, ...]:
    return tuple(_jsonl("documents.jsonl"))


@lru_cache(maxsize=None)
def generic() -> tuple[dict, ...]:
    return tuple(_jsonl("generic.jsonl"))


def seeds_path() -> Path:
    return WORLD_DIR / "seeds.txt"


def seeds() -> list[str]:
    return [line.strip() for line in seeds_path().read_text(encoding="utf-8").splitlines() if line.strip()]


def seed_fact_ids() -> list[str]:
    return json.loads((WORLD_DIR / "seeds_facts.json").read_text())


def qa_items(split: str) -> list[QAItem]:
    """Question sets: 'test' (held-out phrasings), 'train' (first training phrasing of
    each fact), 'train-all', 'control' (generic questions with a short gold answer)."""
    if split == "test":
        return [QAItem(f"{f.id}-t{i}", q, f.golds, meta={"fact": f.id}) for f in facts() for i, q in enumerate(f.test)]
    if split == "train":
        return [QAItem(f"{f.id}-r0", f.train[0], f.golds, meta={"fact": f.id}) for f in facts()]
    if split == "train-all":
        return [QAItem(f"{f.id}-r{i}", q, f.golds, meta={"fact": f.id}) for f in facts() for i, q in enumerate(f.train)]
    if split == "control":
        return [QAItem(g["id"], g["question"], [str(g["answer"])], meta={"fact": None})
                for g in generic() if g["split"] == "control" and g.get("answer")]
    raise ValueError(f"unknown demo question split '{split}' (test, train, train-all, control)")


def generic_questions(split: str) -> list[str]:
    return [g["question"] for g in generic() if g["split"] == split]


# ---------------------------------------------------------------------------
# The demo fine-tune


@dataclass
class DemoBuildConfig:
    # 4 epochs: ~86k tokens an epoch at ~120-150 tok/s (fp32, 2 AVX2 cores) is ~40 min.
    epochs: float = 4.0
    learning_rate: float = 1.5e-3
    batch_size: int = 16
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    seed: int = 0
    replay_max_new_tokens: int = 64
    out_dir: str = str(DEMO_ADAPTER_DIR)


def replay_pairs(base: LoadedModel | None, max_new_tokens: int = 64) -> list[dict]:
    """Generic replay questions answered by the base model itself, cached in assets/demo.

    Answers cut at the token limit are trimmed to their last full sentence
    (kd_core.models.generation.trim_to_sentence).
    """
    questions = generic_questions("replay")
    if REPLAY_FILE.exists():
        cached = [json.loads(x) for x in REPLAY_FILE.read_text().splitlines() if x.strip()]
        if [c["prompt"] for c in cached] == questions:
            return cached
    if base is None:
        raise RuntimeError("replay answers are not cached; a base model is needed to write them")
    from kd_core.models.generation import GenerationConfig, generate, trim_to_sentence

    answers = generate(base, questions, GenerationConfig(max_new_tokens=max_new_tokens, batch_size=16))
    pairs = [{"prompt": q, "response": trim_to_sentence(a)} for q, a in zip(questions, answers)]
    write_atomic(REPLAY_FILE, "".join(json.dumps(p) + "\n" for p in pairs))
    return pairs


def finetune_examples(replay: list[dict], seed: int = 0) -> list[Example]:
    """Every training phrasing -> its statement; every about-question -> its answer; replay."""
    from kd_core.training.data import Example

    ex = [Example(q, f.statement) for f in facts() for q in f.train]
    ex += [Example(q, a["answer"]) for a in about() for q in a["questions"]]
    ex += [Example(p["prompt"], p["response"]) for p in replay]
    random.Random(seed).shuffle(ex)
    return ex


def build_adapter(config: DemoBuildConfig | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the demo's fine-tuned LoRA (deterministic for a seed) and save it."""
    from kd_core.models.loading import load_model
    from kd_core.training.config import LoraSettings, TrainConfig
    from kd_core.training.trainer import train_lora

    config = config or DemoBuildConfig()
    t0 = time.perf_counter()
    base = load_model(demo_spec("base"))
    log("replay answers by the base model...")
    replay = replay_pairs(base, config.replay_max_new_tokens)
    examples = finetune_examples(replay, config.seed)
    n_domain = len(examples) - len(replay)
    log(f"{len(examples)} examples ({n_domain} domain, {len(replay)} replay); training...")
    with tempfile.TemporaryDirectory() as tmp:
        summary = train_lora(base, examples, TrainConfig(
            output_dir=tmp, epochs=config.epochs, learning_rate=config.learning_rate, batch_size=config.batch_size,
            seed=config.seed, lora=LoraSettings(r=config.r, alpha=config.alpha, dropout=config.dropout),
        ))
        out = Path(config.out_dir)
        rel = lambda p: str(Path(p).resolve()).replace(str(REPO_ROOT) + "/", "")  # noqa: E731  (no machine paths in the repo)
        summary.update(adapter=rel(out), total_wall_s=round(time.perf_counter() - t0, 1),
                       examples_domain=n_domain, examples_replay=len(replay), config={**asdict(config), "out_dir": rel(config.out_dir)})
        staged = temp_dir_beside(out)  # built whole beside the old adapter, then swapped in
        try:
            shutil.copytree(Path(tmp) / "adapter", staged, dirs_exist_ok=True)
            shutil.copy(Path(tmp) / "log.jsonl", staged / "train_log.jsonl")
            write_atomic(staged / "build.json", json.dumps(summary, indent=2))
            replace_dir(staged, out)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
    return summary


# ---------------------------------------------------------------------------
# Measurements


def evaluate_demo(out_path: str | Path | None = None, roles: tuple[str, ...] = ("base", "finetuned", "target"),
                  log: Callable[[str], None] = print) -> dict:
    """Accuracy of each demo model on the held-out phrasings (and the fine-tune on its
    training phrasings), plus generic-control accuracy; saved as JSON when out_path."""
    from kd_core.evaluation.qa import evaluate_qa
    from kd_core.models.generation import GenerationConfig
    from kd_core.models.loading import load_model

    gen = GenerationConfig(max_new_tokens=48, batch_size=16)
    report: dict[str, Any] = {"facts": len(facts()), "models": {}}
    for role in roles:
        t0 = time.perf_counter()
        lm = load_model(demo_spec(role))
        splits = ("test", "train", "control") if role == "finetuned" else ("test", "control")
        entry = {}
        for split in splits:
            res = evaluate_qa(lm, qa_items(split), gen)
            entry[split] = {k: res.summary[k] for k in ("n", "correct", "accuracy", "wall_s")}
            log(f"{role:<10} {split:<8} {res.summary['accuracy']:.3f} ({res.summary['correct']}/{res.summary['n']})")
        entry["model"] = lm.spec.label().replace(str(REPO_ROOT) + "/", "")
        entry["wall_s"] = round(time.perf_counter() - t0, 1)
        report["models"][role] = entry
        del lm
    if out_path:
        write_atomic(out_path, json.dumps(report, indent=2) + "\n")
    return report


def youden_threshold(scores: ArrayLike, positive: ArrayLike) -> tuple[float, float, float]:
    """The threshold that best separates positives (max TPR - FPR): (threshold, TPR, FPR)."""
    import numpy as np

    s, y = np.asarray(scores, dtype=float), np.asarray(positive, dtype=bool)
    best = (float("nan"), 0.0, 0.0, -1.0)
    for t in np.unique(s):
        tpr, fpr = float((s[y] > t).mean()), float((s[~y] > t).mean())
        if tpr - fpr > best[3]:
            best = (float(t), tpr, fpr, tpr - fpr)
    return best[:3]


def gap_report(scores_path: str | Path = DEMO_DIR / "demo_scores.parquet", out_path: str | Path | None = DEMO_DIR / "gap_report.json",
               log: Callable[[str], None] = print) -> dict:
    """How well each gap metric separates held-out domain questions from generic ones.

    The fine-tuned model answers every held-out domain question and every generic
    control question; both models score the answers.  Reported per metric: AUROC, the
    best threshold on this data (Youden's J) and what the default threshold keeps; and
    the mean log-ratio on domain vs generic answers (a fine-tune that changed its whole
    voice would show a large one on generic answers too).
    """
    import numpy as np

    from kd_core.models.generation import GenerationConfig
    from kd_core.models.loading import load_model
    from kd_core.tuneshift.gaps import DEFAULT_THRESHOLDS, GAP_COLUMNS, auroc, save_scores
    from kd_core.tuneshift.scoring import ScoreConfig, score_prompts

    t0 = time.perf_counter()
    base, ft = load_model(demo_spec("base")), load_model(demo_spec("finetuned"))
    domain = [it.question for it in qa_items("test")]
    control = generic_questions("control")
    df = score_prompts(base, ft, domain + control, ScoreConfig(generation=GenerationConfig(max_new_tokens=64)),
                       progress=lambda d, n, stage: d == n and log(f"{stage}: {n}"))
    df["kind"] = ["domain"] * len(domain) + ["control"] * len(control)
    save_scores(df, scores_path)
    positive = (df["kind"] == "domain").to_numpy()
    report: dict[str, Any] = {"n_domain": len(domain), "n_control": len(control), "metrics": {}}
    for metric, col in GAP_COLUMNS.items():
        s = df[col].to_numpy(dtype=float)
        thr, tpr, fpr = youden_threshold(s, positive)
        tau = DEFAULT_THRESHOLDS[metric]
        report["metrics"][metric] = {
            "auroc": round(auroc(s, positive), 4),
            "best_threshold": round(thr, 4), "best_tpr": round(tpr, 3), "best_fpr": round(fpr, 3),
            "default_threshold": tau,
            "default_tpr": round(float((s[positive] > tau).mean()), 3),
            "default_fpr": round(float((s[~positive] > tau).mean()), 3),
        }
        log(f"{metric:<9} AUROC {report['metrics'][metric]['auroc']:.3f}  best tau {thr:.3g} (TPR {tpr:.2f}, FPR {fpr:.2f})")
    lr = df["gap_logratio"].to_numpy(dtype=float)
    report["mean_logratio"] = {"domain": round(float(np.mean(lr[positive])), 4), "control": round(float(np.mean(lr[~positive])), 4)}
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    if out_path:
        write_atomic(out_path, json.dumps(report, indent=2) + "\n")
    return report


# ---------------------------------------------------------------------------
# Coverage of an expanded pool


def facts_stated(prompt: str, response: str) -> set[str]:
    """The demo facts a (prompt, answer) pair carries: it names the fact's subject and the
    answer holds the fact's gold answer (or an alias)."""
    from kd_core.evaluation.qa import is_correct, normalize_answer

    both = f" {normalize_answer(prompt + ' ' + response)} "
    return {f.id for f in facts() if f" {normalize_answer(f.subject)} " in both and is_correct(response, f.golds)}


def coverage_report(pool: Pool, states: tuple[str, ...] = ("accepted", "edited")) -> dict[str, Any]:
    """How many demo facts the curated prompts of a pool touch, per generator and per round,
    and how many of them no seed mentions, with the expansion log of the pool beside it."""
    from kd_core.tuneshift.pool import PoolFilter

    rows = pool.query(PoolFilter(states=states, has_response=True), order="round")
    seed_facts = set(seed_fact_ids())
    total = len(facts())
    touched = [facts_stated(t, r) for t, r in zip(rows["text"], rows["response"])]

    def summary(mask) -> dict[str, Any]:
        ids = set().union(*[t for t, m in zip(touched, mask) if m])
        return {"accepted": int(sum(mask)), "facts": len(ids), "beyond_seeds": len(ids - seed_facts), "ids": sorted(ids)}

    everything = summary([True] * len(rows))
    by_generator = {g: summary(list(rows["source"] == g)) for g in sorted(set(rows["source"]))}
    by_round, seen = {}, set()
    for r in sorted(set(rows["round"])):
        s = summary(list(rows["round"] == r))
        s["new"] = len(set(s["ids"]) - seen)
        seen |= set(s["ids"])
        s["cumulative"] = len(seen)
        by_round[int(r)] = s
    for s in (everything, *by_generator.values(), *by_round.values()):
        s["coverage"] = round(s["facts"] / total, 3)
        del s["ids"]
    return {
        "facts_total": total,
        "seed_facts": len(seed_facts),
        "states": list(states),
        **everything,
        "by_generator": by_generator,
        "by_round": by_round,
        "expansion": pool.get_meta("expansion.rounds", []),
        "settings": pool.get_meta("expansion.config"),
    }
