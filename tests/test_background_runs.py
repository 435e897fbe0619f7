"""One protocol for every background run (kd_core.runtime.background): the starter writes
the resolved settings into ``<project>/<kind>/run.yaml``, the worker (``kd-studio worker
FOLDER``) reads only that file and calls the function the matching command calls, with
every setting as given."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import yaml

from kd_core.cli import build_parser, expansion_config, main
from kd_core.demo.models import demo_spec
from kd_core.distill.config import PDConfig
from kd_core.errors import KDError
from kd_core.models.generation import GenerationConfig
from kd_core.models.loading import ModelSpec
from kd_core.runtime import background, runs
from kd_core.tuneshift import expansion
from kd_core.tuneshift.gaps import GapConfig
from kd_core.tuneshift.pool import Pool


@pytest.fixture
def started(monkeypatch):
    """runs.start records the command instead of starting a process."""
    calls = []

    def start(project, name, cmd, what, **fields):
        calls.append({"project": project, "name": name, "cmd": list(cmd), "fields": fields})
        return {"state": "running", "pid": 0}

    monkeypatch.setattr(runs, "start", start)
    return calls


def _capture(monkeypatch, module, name, result):
    seen = {}

    def fake(*args, **kwargs):
        seen.update(args=args, kwargs=kwargs)
        return result

    monkeypatch.setattr(module, name, fake)
    return seen


COUNTS = SimpleNamespace(total=0, by_label={"above": 0}, by_state={"accepted": 0})


def test_a_background_expansion_keeps_every_setting_from_the_starter_to_the_worker(tmp_path, started, monkeypatch):
    config = expansion.ExpansionConfig(
        rounds=2, per_round=5, generators=("list", "few-shot"),
        sampling=GenerationConfig(max_new_tokens=40, do_sample=True, temperature=0.7, top_p=0.9, batch_size=3),
        answer=GenerationConfig(max_new_tokens=33, batch_size=5), gap=GapConfig(metric="diff", threshold=0.25),
        score_batch_size=7, chunk=2, system="Answer briefly.", max_pool=90, auto_accept=True, seed=4, like=(1, 2))
    base = ModelSpec("org/base", dtype="float32", device="cpu")
    finetuned = ModelSpec("org/base", adapter=str(tmp_path / "adapter"), device="cpu")
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("What is the harbor called?\nWho founded it?\n")

    expansion.start_expand(tmp_path / "p", config, str(seeds), base, finetuned)

    folder = tmp_path / "p" / "expand"
    run = yaml.safe_load((folder / background.RUN_FILE).read_text())
    assert run["kind"] == "expand" and run["base"] == base.to_dict() and run["finetuned"] == finetuned.to_dict()
    assert run["config"]["chunk"] == 2 and run["config"]["score_batch_size"] == 7
    [call] = started
    assert call["cmd"] == background.worker_command(folder)  # no setting travels as a flag
    assert call["name"] == "expand"

    seen = _capture(monkeypatch, expansion, "expand_project", ([], COUNTS))
    assert main(["worker", str(folder)]) == 0
    project, got, seed_file, got_base, got_ft, writer = seen["args"]
    assert got == config  # the batch sizes of sampling, answers and scoring, and chunk, as given
    assert (got_base, got_ft, writer) == (base, finetuned, None)
    assert seed_file.prompts == ["What is the harbor called?", "Who founded it?"]
    assert project == str((tmp_path / "p").resolve())

    # What the flags of `kd-studio expand` carried before: one batch size for all three, no chunk.
    flags = build_parser().parse_args(["expand", "--project", "p", *expansion.cli_args(config)])
    assert expansion_config(flags) != config


def test_a_run_without_models_resolves_the_projects_own_then_the_demos(tmp_path, started):
    recorded = ModelSpec("org/base", adapter="/abs/adapter", dtype="bfloat16")
    (tmp_path / "old").mkdir()
    with Pool(tmp_path / "old") as pool:
        pool.add_prompts(["a seed"], source="seed", round=0)
        pool.set_meta(expansion.META_SPECS, {"base": ModelSpec("org/base").to_dict(), "finetuned": recorded.to_dict()})
    expansion.start_expand(tmp_path / "old", expansion.ExpansionConfig())
    run = yaml.safe_load((tmp_path / "old" / "expand" / background.RUN_FILE).read_text())
    assert run["finetuned"] == recorded.to_dict() and run["base"]["name"] == "org/base" and run["seeds"] is None
    assert run["notes"] == [f"models of {tmp_path / 'old'}: base org/base, fine-tuned org/base + /abs/adapter"]

    expansion.start_expand(tmp_path / "new", expansion.ExpansionConfig(), "demo:seeds")
    run = yaml.safe_load((tmp_path / "new" / "expand" / background.RUN_FILE).read_text())
    assert run["base"] == demo_spec("base").to_dict() and run["finetuned"] == demo_spec("finetuned").to_dict()

    with pytest.raises(KDError, match="base and the fine-tuned model"):
        expansion.start_expand(tmp_path / "half", expansion.ExpansionConfig(), "demo:seeds", ModelSpec("org/base"))
    assert expansion.named_models(None, " ", "") == (None, None)
    assert expansion.named_models("org/base", None, "/a") == (ModelSpec("org/base"), ModelSpec("org/base", adapter="/a"))


def test_evaluation_prompt_distillation_and_recipe_runs_use_the_same_protocol(tmp_path, started, monkeypatch):
    from kd_core.distill import pipeline
    from kd_core.evaluation import qa
    from kd_core.tuneshift import recipe as recipe_run
    from kd_core.tuneshift.recipe_config import TuneShiftRecipe

    qa.start_eval(tmp_path, "org/model", "/abs/adapter", "demo:test", 12, name="mine", batch_size=3)
    seen = _capture(monkeypatch, qa, "evaluate_model", SimpleNamespace(summary={"accuracy": 0.5}))
    assert main(["worker", str(tmp_path / "evaluate")]) == 0
    spec, questions, generation = seen["args"]
    assert spec == ModelSpec("org/model", adapter="/abs/adapter") and questions == "demo:test"
    assert (generation.max_new_tokens, generation.batch_size) == (12, 3)
    assert seen["kwargs"] == {"project": str(tmp_path.resolve()), "name": "mine"}

    config = PDConfig(chunk_tokens=100, documents=["demo:documents"], seed=3)
    config.questions.per_call = 7
    pipeline.start_pd(tmp_path, config, ["ingest", "questions"])
    assert (tmp_path / "pd" / "config.yaml").exists()  # what `kd-studio pd --config` reads from a shell
    seen = _capture(monkeypatch, pipeline, "run_pd", {})
    assert main(["worker", str(tmp_path / "pd")]) == 0
    got, project, stages = seen["args"]
    assert got.to_dict() == config.to_dict() and stages == ["ingest", "questions"]

    recipe = TuneShiftRecipe(name="mine", expand=expansion.ExpansionConfig(chunk=3, score_batch_size=5))
    recipe_run.start_recipe(tmp_path, recipe, ["expand", "data"], ["gemma3-270m"])
    seen = _capture(monkeypatch, recipe_run, "run_recipe", {"waiting_for_curation": 0})
    assert main(["worker", str(tmp_path / "recipe")]) == 0
    got, project, stages = seen["args"]
    assert got.to_dict() == recipe.to_dict() and stages == ["expand", "data"] and seen["kwargs"]["arms"] == ["gemma3-270m"]
    assert [c["name"] for c in started] == ["evaluate", "pd", "recipe"]
    assert all(c["cmd"][-2:] == ["worker", str(tmp_path.resolve() / c["name"])] for c in started)


def test_a_worker_refuses_a_folder_without_a_run_file(tmp_path, capsys):
    assert main(["worker", str(tmp_path)]) == 2
    (tmp_path / background.RUN_FILE).write_text("kind: nonsense\n")
    assert main(["worker", str(tmp_path)]) == 2
    assert "not a run file" in capsys.readouterr().err


def test_throttled_progress_passes_each_stage_start_the_end_and_a_step_per_interval():
    heard = []
    progress = background.throttled(lambda d, t, s: heard.append((d, t, s)), every_s=None)
    for stage in ("answer", "score"):
        for done in range(1, 5):
            progress(done, 4, stage)
    assert heard == [(1, 4, "answer"), (4, 4, "answer"), (1, 4, "score"), (4, 4, "score")]
    heard.clear()
    progress = background.throttled(lambda d, t, s: heard.append(d), every_s=0.0)
    for done in range(1, 4):
        progress(done, 3)
    assert heard == [1, 2, 3]
