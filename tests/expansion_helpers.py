"""An expansion run on tiny models with a scripted generator, runnable in a subprocess
(durability and concurrency tests kill it or race it)."""

from __future__ import annotations

import sys
import time

from kd_core.models.generation import GenerationConfig
from kd_core.models.loading import ModelSpec, load_model
from kd_core.tuneshift.expansion import ExpansionConfig, add_seeds, run_expansion
from kd_core.tuneshift.gaps import GapConfig
from kd_core.tuneshift.generators import Candidate, GenContext, Generator, Proposal
from kd_core.tuneshift.pool import Pool

SEEDS = ["Who founded the harbor city?", "Where was the inventor born?", "What is the salt market known for?"]
TOPICS = ["bridge", "tower", "lamp", "ship", "guild", "festival", "river", "stone", "song", "boat", "glass", "wind"]


class ScriptedGenerator(Generator):
    """Writes prompts from a fixed list, a different slice each round; a real generator
    as far as the loop can tell (it sees the same context and seeds)."""

    needs_model = False

    def __init__(self, name: str, per_call: int = 4, delay: float = 0.0):
        self.name, self.per_call, self.delay = name, per_call, delay

    def propose(self, ctx: GenContext, n: int) -> Proposal:
        time.sleep(self.delay)
        start = (ctx.seed % 97) * self.per_call
        words = [TOPICS[(start + i) % len(TOPICS)] for i in range(min(n, self.per_call))]
        parent = (ctx.exemplars[0].id,) if ctx.exemplars else ()
        texts = [f"Who built the {w} of {self.name} number {ctx.seed % 1000 + i}?" for i, w in enumerate(words)]
        return Proposal([Candidate(t, parent) for t in texts], attempts=len(texts))


def config(rounds: int = 3, threshold: float = -100.0, auto_accept: bool = True) -> ExpansionConfig:
    # A threshold far below any gap labels every answer "above": the loop keeps going on tiny random models.
    return ExpansionConfig(
        rounds=rounds, per_round=4, generators=("crawl",), chunk=5, auto_accept=auto_accept,
        answer=GenerationConfig(max_new_tokens=6, batch_size=4), gap=GapConfig(threshold=threshold), score_batch_size=4,
    )


def run(project: str, base_dir: str, adapter_dir: str, rounds: int = 3, delay: float = 0.0, auto_accept: bool = True):
    base = load_model(ModelSpec(base_dir))
    ft = load_model(ModelSpec(base_dir, adapter=adapter_dir))
    cfg = config(rounds, auto_accept=auto_accept)
    gens = [ScriptedGenerator("alpha", delay=delay), ScriptedGenerator("beta", delay=delay)]
    with Pool(project) as pool:
        if pool.count() == 0:
            add_seeds(pool, SEEDS, ft, cfg)
        return run_expansion(pool, base, ft, cfg, generators=gens)


if __name__ == "__main__":
    project, base_dir, adapter_dir, rounds, delay, auto = sys.argv[1:7]
    run(project, base_dir, adapter_dir, int(rounds), float(delay), auto == "1")
    print("EXPANSION DONE", flush=True)
