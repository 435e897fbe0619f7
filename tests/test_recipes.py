"""The TuneShift-KD recipe: one YAML file runs every stage, resumes, and writes a report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kd_core.errors import KDError
from kd_core.tuneshift.pool import Pool, PoolFilter
from kd_core.tuneshift.recipe import run_recipe
from kd_core.tuneshift.recipe_config import DATA_DIR, REPORT_DIR, TuneShiftRecipe, load_recipe, recipe_yaml
from tests import tiny_models

REPO = Path(__file__).resolve().parents[1]
SEEDS = ["Who founded the harbor city?", "Where was the inventor born?", "What is the salt market known for?",
         "Which guild built the old tower?"]
QUESTIONS = [("Who founded the harbor city?", "Ostra Vane"), ("Where was the inventor born?", "Kell")]


def _recipe(tmp_path: Path, llama: Path, adapter: Path, gpt2: Path, **overrides) -> dict:
    (tmp_path / "seeds.txt").write_text("\n".join(SEEDS) + "\n")
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in QUESTIONS))
    data = {
        "name": "tiny",
        "base": str(llama),
        "finetuned": {"name": str(llama), "adapter": str(adapter)},
        "seeds": "seeds.txt",  # relative to the recipe file
        # A threshold far below any gap: every answer of a random tiny model is "above".
        "expand": {"rounds": 1, "per_round": 3, "generators": ["list"], "gap": {"threshold": -100.0},
                   "sampling": {"max_new_tokens": 12, "do_sample": True, "batch_size": 4},
                   "answer": {"max_new_tokens": 6, "batch_size": 4}, "score_batch_size": 4},
        "targets": {"gpt2": str(gpt2)},
        "arms": [{"name": "gpt2", "target": "gpt2"},
                 {"name": "gpt2-random", "target": "gpt2", "select": "random", "size": 2, "seed": 1},
                 {"name": "gpt2-seeds", "target": "gpt2", "select": "seeds"},
                 {"name": "gpt2-gap", "target": "gpt2", "select": "threshold", "threshold": 1000.0}],
        "train": {"max_steps": 2, "batch_size": 2, "save_steps": 1},
        "eval": {"questions": "qa.jsonl", "control": "qa.jsonl", "max_new_tokens": 4},
        **overrides,
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"tuneshift": data}))
    return data


def test_a_recipe_runs_every_stage_writes_its_report_and_a_second_run_redoes_nothing(
        tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, lock_dir, monkeypatch):
    import kd_core.tuneshift.generators as gens
    from tests.expansion_helpers import ScriptedGenerator

    # A random tiny model writes no parsable prompt: a scripted "list" keeps the rounds going.
    monkeypatch.setitem(gens.GENERATORS, "list", lambda: ScriptedGenerator("list"))
    _recipe(tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir,
            more_rounds=[{"generators": ["quiz"], "per_round": 2}],
            arms=[{"name": "gpt2", "target": "gpt2"},
                  {"name": "gpt2-random", "target": "gpt2", "select": "random", "size": 2, "seed": 1},
                  {"name": "gpt2-seeds", "target": "gpt2", "select": "seeds"}])
    recipe = load_recipe(tmp_path / "recipe.yaml")
    project = tmp_path / "proj"
    lines: list[str] = []
    report = run_recipe(recipe, project, log=lines.append)

    with Pool(project) as pool:
        total, seeds = pool.count(), pool.count(PoolFilter(sources="seed"))
        rounds = pool.get_meta("expansion.rounds")
        frame = pool.query(PoolFilter())
        blank = sum(not (r or "").strip() for r in frame.response)
        answered_seeds = sorted(t for t, r, src in zip(frame.text, frame.response, frame.source) if src == "seed" and (r or "").strip())
    assert seeds == len(SEEDS) and [list(r["generators"]) for r in rounds] == [["list"], ["quiz"]]  # then more_rounds
    arms = report["arms"]
    # Every prompt is above a threshold of -100 and auto-accepted; a random tiny model
    # sometimes answers with nothing, and such a pair is left out, and said so.
    assert arms["gpt2"]["prompts"] == total - blank
    assert ("left out: the teacher's answer is blank" in " ".join(lines)) == (blank > 0)
    assert total > len(SEEDS) and arms["gpt2-random"]["prompts"] == 2 and arms["gpt2-seeds"]["prompts"] == len(answered_seeds)
    seed_data = [json.loads(x)["messages"][0]["content"] for x in (project / DATA_DIR / "gpt2-seeds" / "dataset.jsonl").open()]
    assert sorted(seed_data) == answered_seeds and len(answered_seeds) >= 2
    # Both held-out questions are seeds here: the report says so (of those the data holds).
    assert arms["gpt2-seeds"]["held_out_repeated"] == sum(q in answered_seeds for q, _ in QUESTIONS) > 0
    for name, arm in arms.items():
        assert re.fullmatch(rf"{re.escape(name)}-[0-9a-f]{{8}}", arm["job"]) and arm["train"]["steps"] == 2
        assert arm["test"]["n"] == 2 and arm["control"]["n"] == 2 and arm["test"]["model"].endswith("/adapter")
    assert report["teacher"]["test"]["n"] == 2 and report["targets"]["gpt2"]["test"]["model"] == str(tiny_gpt2_dir)
    md = (project / REPORT_DIR / "report.md").read_text()
    arms_table = md.split("## Paired comparisons")[0]
    assert sum(line.startswith("| gpt2") for line in arms_table.splitlines()) == 3 and "## Rounds" in md and "## Stage wall times" in md
    # The questions are a file of the user's, not the demo world: the report counts the held-out questions the data answers.
    assert report["coverage_unit"] == "questions" and report["facts_total"] == len(QUESTIONS) and "| questions carried |" in arms_table
    assert all(isinstance(a["facts_covered"], int) and a["split"][f"{name}-test"] for name, a in arms.items())
    # Each arm against its target before training and against the first arm, on both question sets.
    paired = [line for line in md.splitlines() if line.startswith("| gpt2-random vs gpt2 (test) | 2 |")]
    assert len(paired) == 1 and "p = " in paired[0] and "| gpt2 after vs before (control) | 2 |" in md
    page = (project / REPORT_DIR / "report.html").read_text()
    assert page.count("Plotly.newPlot") == 5  # the scatter, three loss curves, the accuracy bars
    assert "<table>" in page and not re.search(r"<script[^>]*\bsrc=", page)  # plotly.js inlined: opens offline
    results = json.loads((project / REPORT_DIR / "results.json").read_text())
    assert set(results["stage_wall_s"]) >= {"expand", "evaluate", "train gpt2", "data gpt2"}

    again: list[str] = []
    run_recipe(recipe, project, log=again.append)
    assert any("expand: 2 rounds done before" in m for m in again)
    assert sum("already completed" in m for m in again) == 3
    assert sum("(measured before)" in m for m in again) == 10  # teacher, target before, 3 arms; test and control


def test_a_more_rounds_round_cut_short_resumes_with_its_own_generators(
        tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, lock_dir, monkeypatch):
    import kd_core.tuneshift.generators as gens
    from kd_core.tuneshift.expansion import META_CURRENT
    from tests.expansion_helpers import ScriptedGenerator

    monkeypatch.setitem(gens.GENERATORS, "list", lambda: ScriptedGenerator("list"))
    monkeypatch.setitem(gens.GENERATORS, "crawl", lambda: ScriptedGenerator("crawl"))
    _recipe(tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, more_rounds=[{"generators": ["crawl"], "per_round": 2}])
    recipe = load_recipe(tmp_path / "recipe.yaml")
    project = tmp_path / "proj"
    run_recipe(load_recipe(tmp_path / "recipe.yaml"), project, stages=["expand"], log=lambda m: None)
    with Pool(project) as pool:  # as if the run died inside round 2 (the more_rounds one), before its record
        rounds = pool.get_meta("expansion.rounds")
        pool.update_meta({"expansion.rounds": rounds[:1], META_CURRENT: {"round": 2, "planned": ["crawl"], "generators": {}}})
    lines: list[str] = []
    run_recipe(recipe, project, stages=["expand"], log=lines.append)
    with Pool(project) as pool:
        again = pool.get_meta("expansion.rounds")
    assert [list(r["generators"]) for r in again] == [["list"], ["crawl"]]  # not the first config's "list"
    assert any(m.startswith("round 2 · crawl") for m in lines) and not any(m.startswith("round 2 · list") for m in lines)


def test_manual_curation_stops_for_a_person_and_trains_only_what_they_accepted(
        tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, lock_dir):
    _recipe(tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, curation="manual",
            arms=[{"name": "gpt2", "target": "gpt2"}])
    recipe = load_recipe(tmp_path / "recipe.yaml")
    project = tmp_path / "proj"
    lines: list[str] = []
    report = run_recipe(recipe, project, stages=["expand", "data", "train"], log=lines.append)
    assert report["waiting_for_curation"] > 0 and any("the Curate tab" in m for m in lines)
    assert not (project / DATA_DIR).exists() and not (project / "jobs").exists()
    with Pool(project) as pool:
        answered = pool.query(PoolFilter(has_response=True))
        chosen = [int(r.id) for r in answered.itertuples() if r.response.strip()][:2]  # a blank answer is left out
        for i in chosen:
            pool.accept(i, who="test")
    report = run_recipe(recipe, project, stages=["expand", "data", "train"], log=lines.append)
    trained = [json.loads(x)["id"] for x in (project / DATA_DIR / "gpt2" / "dataset.jsonl").open()]
    assert sorted(trained) == sorted(chosen) and report["arms"]["gpt2"]["train"]["examples"] == 2


def test_arms_run_one_at_a_time_add_up_to_one_report(tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, lock_dir):
    _recipe(tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, eval={"questions": "qa.jsonl", "max_new_tokens": 4},
            arms=[{"name": "gpt2", "target": "gpt2"}, {"name": "gpt2-seeds", "target": "gpt2", "select": "seeds"}])
    recipe = load_recipe(tmp_path / "recipe.yaml")
    project = tmp_path / "proj"
    first = run_recipe(recipe, project, arms=["gpt2"], log=lambda m: None)
    assert first["arms"]["gpt2"]["test"] and first["arms"]["gpt2-seeds"]["test"] is None  # not run yet, still listed
    with pytest.raises(KDError, match="no arm named 'gpt3' \\(arms: gpt2, gpt2-seeds\\)"):
        run_recipe(recipe, project, arms=["gpt3"], log=lambda m: None)
    lines: list[str] = []
    second = run_recipe(recipe, project, arms=["gpt2-seeds"], log=lines.append)
    assert not any(m.startswith("train gpt2-") and "already" in m for m in lines)  # the other arm is not touched
    assert second["arms"]["gpt2"]["test"] == first["arms"]["gpt2"]["test"] and second["arms"]["gpt2-seeds"]["test"]["n"] == 2
    rows = [line.split(" | ")[0] for line in (project / REPORT_DIR / "report.md").read_text().splitlines() if " | gpt2 | " in line]
    assert rows == ["| gpt2", "| gpt2-seeds"]


def test_each_selection_picks_its_prompts_from_the_pool_leaving_out_rejected_and_blank_answers(
        tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, lock_dir):
    from kd_core.tuneshift.recipe import selected_ids, write_arm_data

    _recipe(tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir)
    recipe = load_recipe(tmp_path / "recipe.yaml")
    project = tmp_path / "proj"
    run_recipe(recipe, project, stages=["expand"], log=lambda m: None)
    with Pool(project) as pool:
        first, second = pool.ids()[:2]  # both seeds (the first prompts in)
        pool.reject(first, who="test")  # a rejected prompt is never trained on, whatever the selection
        pool.set_results(second, "  ")  # nor one whose answer is blank: it teaches nothing
        gaps = pool.query(PoolFilter(has_response=True))
        median = float(gaps["gap"].median())
        by = {a.name: a for a in recipe.arms}
        by["gpt2-gap"].threshold = median
        picked = {name: selected_ids(pool, arm, recipe) for name, arm in by.items()}
        _, rows, blank = write_arm_data(pool, project, by["gpt2-seeds"], recipe)
    assert all(first not in ids and second not in ids for ids in picked.values())
    live = gaps[(gaps["id"] != first) & (gaps["response"].str.strip() != "")]
    assert sorted(picked["gpt2-gap"]) == sorted(int(i) for i in live[live["gap"] >= median]["id"])
    assert len(picked["gpt2-random"]) == 2 and set(picked["gpt2-random"]) <= set(int(i) for i in live["id"])
    assert picked["gpt2-random"] == selected_ids(Pool(project), by["gpt2-random"], recipe)  # seeded: the same draw again
    assert sorted(picked["gpt2-seeds"]) == sorted(int(i) for i in live[live["source"] == "seed"]["id"])
    assert rows == len(picked["gpt2-seeds"]) <= len(SEEDS) - 2 and blank >= 1  # the blank one is counted


def test_an_arm_with_replay_trains_on_the_targets_own_generic_answers_kept_for_the_next_run(
        tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, lock_dir):
    from kd_core.models.generation import GenerationConfig, generate, trim_to_sentence
    from kd_core.models.loading import ModelSpec, load_model

    (tmp_path / "generic.txt").write_text("How do I boil an egg?\nWhat is a good name for a cat?\nWhy is the sky blue?\n")
    _recipe(tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, replay="generic.txt",
            arms=[{"name": "gpt2", "target": "gpt2", "replay": 2}])
    recipe = load_recipe(tmp_path / "recipe.yaml")
    project = tmp_path / "proj"
    first = run_recipe(recipe, project, stages=["expand", "data", "train"], log=lambda m: None)
    rows = [json.loads(line) for line in (project / DATA_DIR / "gpt2" / "dataset.jsonl").open()]
    replay = [r for r in rows if r["source"] == "replay"]
    own = generate(load_model(ModelSpec(name=str(tiny_gpt2_dir))), ["How do I boil an egg?", "What is a good name for a cat?"],
                   GenerationConfig(max_new_tokens=6))
    assert [r["messages"][0]["content"] for r in replay] == ["How do I boil an egg?", "What is a good name for a cat?"]
    assert [r["messages"][1]["content"] for r in replay] == [trim_to_sentence(a) for a in own if a.strip()]
    card = json.loads((project / DATA_DIR / "gpt2" / "data_card.json").read_text())
    assert card["rows"] == len(rows) and card["added"]["rows"] == 2 and card["added"]["answered_by"] == tiny_gpt2_dir.name
    assert first["arms"]["gpt2"]["replay"] == 2 and first["arms"]["gpt2"]["prompts"] == len(rows) - 2
    assert first["arms"]["gpt2"]["train"]["examples"] == len(rows)  # trained on both
    lines: list[str] = []
    run_recipe(recipe, project, stages=["data"], log=lines.append)  # the target's answers are read back
    assert not any("replay prompts" in m for m in lines)
    assert [json.loads(line) for line in (project / DATA_DIR / "gpt2" / "dataset.jsonl").open()] == rows
    recipe.arms[0].replay = 4
    with pytest.raises(KDError, match=r"tuneshift.arms\[0\].replay: 4 replay prompts asked, .*generic.txt holds 3"):
        run_recipe(recipe, project, stages=["data"], log=lambda m: None)


def test_sampled_answers_are_kept_only_when_new_and_stating_every_high_gap_name_of_the_stored_answer(
        tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, lock_dir):
    from kd_core.data.files import jsonl_text, read_jsonl
    from kd_core.tuneshift.recipe import SAMPLES_FILE, sampled_rows, write_arm_data

    def scores(words, gaps):  # an answer's tokens and per-token log-probs: the base model misses the named ones
        return {"tokens": [f" {w}" for w in words], "token_lp_ft": [0.0] * len(words), "token_lp_base": [-g for g in gaps]}

    _recipe(tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, arms=[{"name": "s", "target": "gpt2", "samples": 2}])
    recipe = load_recipe(tmp_path / "recipe.yaml")
    project = tmp_path / "proj"
    project.mkdir()
    stored = [("Who founded Kell?", ["Ostra", "Vane", "founded", "it."], [6, 6, 0, 0]),
              ("Where is Kell?", ["On", "the", "Saltmere", "coast."], [0, 0, 7, 0]),
              ("What is a harbor?", ["A", "place", "for", "ships."], [0, 0, 0, 0])]  # names nothing high-gap: not sampled
    with Pool(project) as pool:
        ids = pool.add_prompts([p for p, _, _ in stored], "seed").added
        for i, (_, words, gaps) in zip(ids, stored):
            pool.set_results(i, " ".join(words), scores(words, gaps), gap=1.0, gap_metric="logratio", auto_label="above")
            pool.accept(i, "test")
        # The fine-tuned tiny model really samples: random text, which loses the names, so nothing is kept.
        said: list[str] = []
        rows, card = sampled_rows(recipe, project, recipe.arms[0], pool, ids, log=said.append)
        cache = project / DATA_DIR / "s" / SAMPLES_FILE
        cached = read_jsonl(cache)
        assert [c["prompt"] for c in cached] == ["Who founded Kell?"] * 2 + ["Where is Kell?"] * 2
        assert rows == [] and card["left_out_for_a_lost_name"] == sum(bool(c["response"].strip()) for c in cached)
        assert any("samples 2 more answers to each of 2 prompts" in m for m in said)
        # Samples read back from the cache: kept when new and holding every name (any case).
        texts = ["Ostra Vane built Kell and founded it.", "Ostra Vane founded it.",  # new / the stored answer itself
                 "Kell lies on the saltmere coast.", "Kell is on the Brine coast."]  # new / lost "Saltmere"
        cache.write_text(jsonl_text([{**c, "response": t} for c, t in zip(cached, texts)]))
        said.clear()
        rows, card = sampled_rows(recipe, project, recipe.arms[0], pool, ids, log=said.append)
        assert [r["messages"][1]["content"] for r in rows] == [texts[0], texts[2]] and {r["source"] for r in rows} == {"sample"}
        assert card["rows"] == 2 and card["left_out_for_a_lost_name"] == 1 and not any("samples 2 more" in m for m in said)
        path, n, _ = write_arm_data(pool, project, recipe.arms[0], recipe, log=lambda m: None)
    data = [json.loads(line) for line in path.open()]
    assert n == len(data) == 5 and [r["source"] for r in data].count("sample") == 2
    assert json.loads((path.parent / "data_card.json").read_text())["added"]["samples"]["rows"] == 2


def test_an_arm_sets_its_own_training_a_kd_loss_from_the_fine_tuned_model_or_a_full_fine_tune_and_another_tokenizer_is_refused(
        tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, lock_dir):
    other = tiny_models.build_llama(tmp_path / "other-vocab", vocab_texts=["zzyzx qwerty " * 50] * 200)  # another tokenizer
    _recipe(tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, eval={"questions": "qa.jsonl", "max_new_tokens": 4},
            targets={"llama": str(tiny_llama_dir), "other": str(other)},
            arms=[{"name": "llama", "target": "llama"}, {"name": "llama-mix", "target": "llama", "loss": "mix"},
                  {"name": "llama-full", "target": "llama", "train": {"learning_rate": 1.0e-4, "lora": {"full_blocks": True}}},
                  {"name": "other-mix", "target": "other", "loss": "mix"}])
    recipe = load_recipe(tmp_path / "recipe.yaml")
    project = tmp_path / "proj"
    report = run_recipe(recipe, project, stages=["expand", "data", "train"], arms=["llama", "llama-mix", "llama-full"],
                        log=lambda m: None)
    jobs = {name: yaml.safe_load((project / "jobs" / report["arms"][name]["job"] / "config.yaml").read_text())
            for name in ("llama", "llama-mix", "llama-full")}
    full = jobs["llama-full"]["train"]
    assert full["lora"]["full_blocks"] and full["learning_rate"] == 1.0e-4 and full["loss"] == "sft"
    assert full["epochs"] == jobs["llama"]["train"]["epochs"] and not jobs["llama"]["train"]["lora"]["full_blocks"]
    saved = json.loads((project / "jobs" / report["arms"]["llama-full"]["job"] / "adapter" / "adapter_config.json").read_text())
    assert "model.layers.0" in saved["modules_to_save"]
    assert jobs["llama"]["train"]["loss"] == "sft" and jobs["llama"]["teacher"] is None  # the recipe's loss
    assert jobs["llama-mix"]["train"]["loss"] == "mix"  # the arm's own, with the fine-tuned model as its teacher
    assert Path(jobs["llama-mix"]["teacher"]["adapter"]) == Path(tiny_llama_adapter).resolve()
    assert report["arms"]["llama"]["job"] != report["arms"]["llama-mix"]["job"]  # same data, another loss: another job
    with pytest.raises(KDError, match="share one tokenizer"):
        run_recipe(recipe, project, stages=["data", "train"], arms=["other-mix"], log=lambda m: None)


@pytest.mark.parametrize("change, message", [
    ({"arms": [{"name": "a", "target": "nope"}]}, "tuneshift.arms[0].target: 'nope' is not one of the targets (gpt2)"),
    ({"arms": [{"name": "a", "target": "gpt2", "select": "best"}]}, "tuneshift.arms[0].select: 'best' is not a selection"),
    ({"arms": [{"name": "a", "target": "gpt2", "select": "threshold"}]}, "tuneshift.arms[0].threshold: select 'threshold' needs"),
    ({"arms": [{"name": "a/b", "target": "gpt2"}]}, "tuneshift.arms[0].name: 'a/b' must be letters"),
    ({"arms": [{"name": "a", "target": "gpt2", "replay": -1}]}, "tuneshift.arms[0].replay: a number of generic prompts >= 0"),
    ({"arms": [{"name": "a", "target": "gpt2", "samples": -2}]}, "tuneshift.arms[0].samples: a number of sampled answers"),
    ({"arms": [{"name": "a", "target": "gpt2", "sample_temperature": 0}]}, "tuneshift.arms[0].sample_temperature: a temperature > 0"),
    ({"arms": [{"name": "a", "target": "gpt2", "loss": "distill"}]}, "tuneshift.arms[0].loss: 'distill' is not a loss"),
    ({"arms": [{"name": "a", "target": "gpt2", "train": {"lora": {"full_block": True}}}]},
     "tuneshift.arms[0].train.lora.full_block: unknown setting (did you mean 'full_blocks'?)"),
    ({"arms": [{"name": "a", "target": "gpt2", "train": {"learning_rate": 0}}]}, "tuneshift.arms[0].train.learning_rate: must be > 0"),
    ({"curation": "sometimes"}, "tuneshift.curation: 'sometimes' is not a policy"),
    ({"more_rounds": [{"generators": ["quizz"]}]}, "tuneshift.more_rounds: unknown generator 'quizz'"),
    ({"more_rounds": [{"generators": ["quiz"], "rounds": 0}]}, "tuneshift.more_rounds: rounds must be >= 1"),
    ({"more_rounds": [{"generators": ["crawl"], "stop_when": "dry"}]}, "tuneshift.more_rounds: expansion setting stop_when must be one of"),
    ({"expand": {"rounds": 2, "generatorz": ["list"]}}, "tuneshift.expand.generatorz: unknown setting (did you mean 'generators'?)"),
    ({"expand": {"generators": ["crawl", "dream"]}}, "tuneshift.expand: unknown generator"),
    ({"train": {"learning_rate": "fast"}}, "tuneshift.train.learning_rate: expected a number, got str 'fast'"),
    ({"eval": {"questionz": "x"}}, "tuneshift.eval.questionz: unknown setting"),
    ({"targetz": {}}, "tuneshift.targetz: unknown setting (did you mean 'targets'?)"),
])
def test_a_bad_recipe_setting_is_named_with_its_file_and_path(tmp_path, change, message):
    _recipe(tmp_path, tmp_path, tmp_path, tmp_path, **change)
    with pytest.raises(KDError) as e:
        load_recipe(tmp_path / "recipe.yaml")
    assert str(e.value).startswith(f"{tmp_path / 'recipe.yaml'}: ") and message in str(e.value), str(e.value)


def test_more_rounds_crawl_until_dry_after_rounds_that_stop_on_prompts(tmp_path):
    _recipe(tmp_path, tmp_path, tmp_path, tmp_path,
            more_rounds=[{"generators": ["quiz"]}, {"generators": ["crawl"], "rounds": 8, "stop_when": "no-new-name"}])
    plan = load_recipe(tmp_path / "recipe.yaml").expansion_plan()
    assert [(c.generators, c.stop_when) for c in plan[1:]] == [(("quiz",), "no-new-prompt"), (("crawl",), "no-new-name")]
    assert plan[2].rounds == plan[1].rounds + 8  # the crawl's budget counts every round before it


def test_a_recipe_saved_as_yaml_reads_back_the_same():
    recipe = load_recipe(REPO / "recipes" / "demo-tuneshift.yaml")
    again = TuneShiftRecipe.from_dict(yaml.safe_load(recipe_yaml(recipe, "saved by a test"))["tuneshift"])
    assert again == recipe
    assert recipe.finetuned["adapter"] == str(REPO / "assets" / "demo" / "adapter")  # relative to the recipe file
    assert [a.select for a in recipe.arms] == ["accepted", "accepted", "random", "seeds", "threshold", "threshold"]


def test_kd_studio_run_names_a_bad_recipe_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tuneshift:\n  arms:\n    - {name: x, target: missing}\n")
    proc = subprocess.run([sys.executable, "-m", "kd_core.cli", "run", str(bad), "--project", str(tmp_path / "p")],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    assert f"{bad}: tuneshift.arms[0].target: 'missing' is not one of the targets" in proc.stderr
    assert not (tmp_path / "p").exists()


@pytest.mark.browser
def test_a_browser_user_opens_a_recipe_project_and_sees_its_pool_evaluations_and_report(
        served_app, browser, tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, lock_dir):
    from playwright.sync_api import expect

    from tests.pages import project_page

    _recipe(tmp_path, tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir, arms=[{"name": "gpt2", "target": "gpt2"}])
    project = tmp_path / "proj"
    proc = subprocess.run([sys.executable, "-m", "kd_core.cli", "run", str(tmp_path / "recipe.yaml"), "--project", str(project)],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| gpt2 | gpt2 | accepted |" in proc.stdout  # the CLI prints the report's table
    with project_page(browser, served_app, project) as page:  # the session's shared server
        page.get_by_role("tab", name="Evaluate").click()
        expect(page.locator("#eval-recipe-status")).to_contain_text("Recipe run: completed", timeout=60_000)
        expect(page.locator("#eval-report")).to_contain_text("TuneShift-KD run: tiny")
        expect(page.locator("#eval-report-file")).to_contain_text(re.compile(r"report\s*\.html"))
        expect(page.locator("#eval-table")).to_contain_text("gpt2-before-test")
        page.get_by_role("tab", name="Expand").click()
        expect(page.locator("#expand-rounds-table")).to_contain_text("1", timeout=30_000)
        expect(page.locator("#expand-counts")).to_contain_text("accepted")
