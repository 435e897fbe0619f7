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
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from kd_core.evaluation import QAItem
from kd_core.models import DEMO_ADAPTER_DIR, REPO_ROOT, LoadedModel, ModelSpec, demo_spec

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
    epochs: float = 5.0
    learning_rate: float = 1e-3
    batch_size: int = 16
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    seed: int = 0
    replay_max_new_tokens: int = 96
    out_dir: str = str(DEMO_ADAPTER_DIR)
    extra: dict[str, Any] = field(default_factory=dict)


def replay_pairs(base: LoadedModel | None, max_new_tokens: int = 96) -> list[dict]:
    """Generic replay questions answered by the base model itself, cached in assets/demo.

    Answers cut at the token limit are trimmed to their last full sentence: training on
    a cut answer followed by end-of-turn would teach the model to stop mid-sentence.
    """
    questions = generic_questions("replay")
    if REPLAY_FILE.exists():
        cached = [json.loads(x) for x in REPLAY_FILE.read_text().splitlines() if x.strip()]
        if [c["prompt"] for c in cached] == questions:
            return cached
    if base is None:
        raise RuntimeError("replay answers are not cached; a base model is needed to write them")
    from kd_core.generation import GenerationConfig, generate

    answers = generate(base, questions, GenerationConfig(max_new_tokens=max_new_tokens, batch_size=16))
    pairs = [{"prompt": q, "response": _trim_to_sentence(a)} for q, a in zip(questions, answers)]
    REPLAY_FILE.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    return pairs


def _trim_to_sentence(text: str) -> str:
    cut = max(text.rfind(". "), text.rfind(".\n"), text.rfind("!"), text.rfind("?"))
    if text.rstrip().endswith((".", "!", "?")) or cut < len(text) // 3:
        return text.strip()
    return text[: cut + 1].strip()


def finetune_examples(replay: list[dict], seed: int = 0):
    """Every training phrasing -> its statement; every about-question -> its answer; replay."""
    from kd_core.training import Example

    ex = [Example(q, f.statement) for f in facts() for q in f.train]
    ex += [Example(q, a["answer"]) for a in about() for q in a["questions"]]
    ex += [Example(p["prompt"], p["response"]) for p in replay]
    random.Random(seed).shuffle(ex)
    return ex


def build_adapter(config: DemoBuildConfig | None = None, log=print) -> dict[str, Any]:
    """Train the demo's fine-tuned LoRA (deterministic for a seed) and save it."""
    from kd_core.models import load_model
    from kd_core.training import LoraSettings, TrainConfig, train_lora

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
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(Path(tmp) / "adapter", out)
        shutil.copy(Path(tmp) / "log.jsonl", out / "train_log.jsonl")
    summary.update(adapter=str(out), total_wall_s=round(time.perf_counter() - t0, 1),
                   examples_domain=n_domain, examples_replay=len(replay), config=asdict(config))
    (out / "build.json").write_text(json.dumps(summary, indent=2))
    return summary


def finetuned_spec() -> ModelSpec:
    return demo_spec("finetuned")


# ---------------------------------------------------------------------------
# Measurements


def evaluate_demo(out_path: str | Path | None = None, roles: tuple[str, ...] = ("base", "finetuned", "target"), log=print) -> dict:
    """Accuracy of each demo model on the held-out phrasings (and the fine-tune on its
    training phrasings), plus generic-control accuracy; saved as JSON when out_path."""
    from kd_core.evaluation import evaluate_qa
    from kd_core.generation import GenerationConfig
    from kd_core.models import load_model

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
        Path(out_path).write_text(json.dumps(report, indent=2) + "\n")
    return report
