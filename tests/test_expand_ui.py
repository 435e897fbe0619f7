"""The Expand tab: seeds checked before anything runs (a bad file changes nothing), the
tab's settings are the command the CLI reads, rounds run in their own process that a
reload re-attaches to and Stop ends; and a user's path in a real browser: upload the
demo seed file, one small round on the demo models, the pool's scatter and its
prompts in the Curate tab."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kd_core.cli import build_parser, expansion_config
from kd_core.errors import KDError
from kd_core.models.generation import GenerationConfig
from kd_core.tuneshift import expansion
from kd_core.tuneshift.gaps import GapConfig
from kd_core.tuneshift.pool import Pool, PoolFilter
from tests.pages import fill, project_page
from tests.waiting import wait_until
from ui import expand

pytestmark = pytest.mark.usefixtures("lock_dir")

# (rounds, per_round, generators, metric, threshold, auto_accept, answer_tokens), as the tab passes them
TINY = (1, 4, ["few-shot"], "logratio", "-100", True, 8)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _finish(project: Path) -> dict:
    wait_until(lambda: expansion.expand_status(project)["state"] not in expansion.runs.ACTIVE, 180, "the rounds to end")
    return expansion.expand_status(project)


def test_the_tab_settings_are_the_config_the_cli_reads_back():
    config = expansion.ExpansionConfig(
        rounds=2, per_round=7, generators=("crawl", "list"), auto_accept=True, max_pool=300, seed=5, system="Be brief.",
        sampling=GenerationConfig(max_new_tokens=40, do_sample=True, temperature=0.8, top_p=0.9, batch_size=4),
        answer=GenerationConfig(max_new_tokens=50, batch_size=4), gap=GapConfig(metric="topk", threshold=1.25),
        score_batch_size=4)
    args = build_parser().parse_args(["expand", "--project", "p", *expansion.cli_args(config)])
    assert expansion_config(args) == config
    dry = expansion.ExpansionConfig(rounds=9, stop_when="no-new-name")
    assert expansion_config(build_parser().parse_args(["expand", "--project", "p", *expansion.cli_args(dry)])) == dry
    shown = expand.command("p", 2, 7, ["crawl"], "diff", "0.5", False, 64)
    assert "--rounds 2 --per-round 7 --generators crawl" in shown and "--metric diff" in shown and "--threshold 0.5" in shown


def test_the_seed_preview_lists_the_prompts_and_names_each_skipped_row(tmp_path):
    seeds = tmp_path / "my seeds.jsonl"
    seeds.write_text('{"prompt": "Who founded Kell?"}\n{"prompt": \n{"text": 3}\n{"prompt": "Who founded Kell?"}\n')
    said, table = expand.preview(str(seeds), None)
    assert said == "1 prompt from my seeds.jsonl (2 bad rows skipped, 1 duplicate dropped)"
    assert list(table["problem"][:2]) == ["line 2: not valid JSON (Expecting value)",
                                          "line 3: no 'prompt', 'messages', 'conversations' or 'instruction' field (fields: text)"]
    assert list(table["prompt"][2:]) == ["Who founded Kell?"]
    said, table = expand.preview(None, "Who built the lamp?\n\nWho named the bridge?")
    assert said == "2 prompts from the pasted prompts" and list(table["prompt"]) == ["Who built the lamp?", "Who named the bridge?"]
    with pytest.raises(KDError, match="seeds.txt: the file is empty"):
        (tmp_path / "seeds.txt").write_text("")
        expand.preview(str(tmp_path / "seeds.txt"), None)
    (tmp_path / "a").mkdir()
    kept = expand.stage_seeds(str(tmp_path / "p"), str(tmp_path / "a" / ".." / seeds.name), None, False)[0]
    assert Path(kept) == tmp_path / "p" / "seeds" / seeds.name  # the upload's name only: nothing lands outside seeds/


def test_save_as_recipe_writes_a_recipe_the_cli_runs_and_keeps_an_earlier_one(tmp_path):
    from kd_core.tuneshift.recipe_config import load_recipe

    project = tmp_path / "p"
    said = expand.save_recipe(str(project), None, "Who built the lamp?\nWho named the bridge?", False, "", "", "", "demo:gemma3-270m", *TINY)
    first = project / "recipe.yaml"
    assert f"kd-studio run {first} --project {project}" in said
    recipe = load_recipe(first)
    assert recipe.expand.rounds == 1 and recipe.expand.generators == ("few-shot",) and recipe.expand.gap.threshold == -100
    assert recipe.curation == "auto" and recipe.targets == {"gemma3-270m": "demo:gemma3-270m"}
    assert Path(recipe.seeds).parent == project / "seeds" and Path(recipe.seeds).read_text().count("?") == 2
    assert recipe.expand.stop_when == "no-new-prompt"
    kept = first.read_text()
    other = (2, *TINY[1:5], False, TINY[6])  # two rounds, a person curates
    said = expand.save_recipe(str(project), None, None, True, "", "", "", "", *other)
    assert first.read_text() == kept  # the earlier recipe is not overwritten
    second = Path(said.split("`")[1])
    assert second != first and load_recipe(second).curation == "manual" and load_recipe(second).seeds == "demo:seeds"
    # "Crawl until a round finds no new name": the recipe's expansion stops on names, Rounds is its budget.
    said = expand.save_recipe(str(project), None, None, True, "", "", "", "", 8, *TINY[1:], True)
    dry = load_recipe(Path(said.split("`")[1])).expand
    assert dry.stop_when == "no-new-name" and dry.rounds == 8
    assert "--stop-when no-new-name" in " ".join(expansion.cli_args(dry))


def test_bad_settings_and_bad_seed_files_are_named_and_change_nothing(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    (project / "keep.txt").write_text("kept")
    before = _files(project)
    with pytest.raises(KDError, match="Rounds: 'two' is not a number"):
        expand.settings("two", 4, ["list"], "logratio", "", False)
    with pytest.raises(KDError, match="Generators: choose at least one"):
        expand.settings(1, 4, [], "logratio", "", False)
    binary = tmp_path / "seeds.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(KDError, match="seeds.txt"):
        expand.start(str(project), str(binary), "", False, "", "", "", *TINY)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(KDError, match="empty.csv: the file is empty"):
        expand.start(str(project), str(empty), "", False, "", "", "", *TINY)
    with pytest.raises(KDError, match="holds no prompts yet"):
        expand.start(str(project), None, "   ", False, "", "", "", *TINY)
    assert _files(project) == before
    assert expansion.expand_status(project)["state"] == "none"


def test_pasted_and_uploaded_seeds_are_kept_in_the_project_under_their_own_name(tmp_path):
    project = tmp_path / "p"
    path, said = expand.stage_seeds(str(project), None, "Who founded Kell?\nWho founded Kell?\nWhat is Brine?", False)
    assert Path(path).parent == project / "seeds" and Path(path).read_text().splitlines()[0] == "Who founded Kell?"
    assert said == "2 prompts from the pasted prompts (1 duplicate dropped)"
    upload = tmp_path / "upload" / "my seeds.jsonl"
    upload.parent.mkdir()
    upload.write_text('{"prompt": "Where is the salt market?"}\n')
    path, said = expand.stage_seeds(str(project), str(upload), None, False)
    assert path == str(project / "seeds" / "my seeds.jsonl") and said == "1 prompt from my seeds.jsonl"
    upload.write_text('{"prompt": "Who sank the Marrow?"}\n')  # another file of the same name
    again, _ = expand.stage_seeds(str(project), str(upload), None, False)
    assert again != path and Path(again).name.startswith("my seeds-")
    assert "salt market" in Path(path).read_text()  # the earlier upload is kept
    assert expand.stage_seeds(str(project), None, "", True)[0] == "demo:seeds"


def test_rounds_run_in_their_own_process_and_the_view_shows_them(tmp_path, tiny_llama_dir):
    project = tmp_path / "p"
    status, said = expand.start(str(project), None, "Who founded the harbor city?\nWhere was the inventor born?", False,
                                str(tiny_llama_dir), str(tiny_llama_dir), "", *TINY)
    assert status["state"] == "running" and said.startswith("2 prompts")
    with pytest.raises(KDError, match=r"the expansion run \(pid \d+, stage .*\) is already working in"):
        expand.start(str(project), None, "Another?", False, str(tiny_llama_dir), str(tiny_llama_dir), "", *TINY)
    done = _finish(project)
    assert done["state"] == "completed", (done, expansion.runs.log_tail(project, expansion.EXPAND_DIR, 40))
    view = expand.read_view(str(project), "logratio", "-100")
    assert list(view["rounds"]["round"]) == [1]
    assert "Expansion: **completed**" in view["status"]
    with Pool(project, create=False) as pool:
        counts = pool.counts()
    assert counts.total >= 2 and f"**{counts.total} prompts** in the pool" in view["counts"]
    assert view["scatter"] is not None  # the seeds are answered and scored


def test_more_like_these_runs_one_round_from_the_chosen_prompts_with_the_projects_models(tmp_path, tiny_llama_dir):
    from ui import explore

    project = tmp_path / "p"
    expand.start(str(project), None, "Who founded the harbor city?\nWhere was the inventor born?\nWho built the lamp?", False,
                 str(tiny_llama_dir), str(tiny_llama_dir), "", *TINY)
    assert _finish(project)["state"] == "completed"
    with Pool(project) as pool:
        chosen = pool.ids()[:2]
    with pytest.raises(KDError, match=r"prompt 999 of .*: not in the pool, rejected, or not answered yet"):
        expansion.more_like(project, [chosen[0], 999])
    with pytest.raises(KDError, match="'x3' is not a prompt id"):
        explore.more_like(str(project), "1, x3")
    said = explore.more_like(str(project), ",".join(map(str, chosen)))  # what the lasso writes into the box
    assert said.startswith("Round started") and "2 prompts" in said
    done = _finish(project)
    log = expansion.runs.log_tail(project, expansion.EXPAND_DIR, 60)
    assert done["state"] == "completed", log
    assert f"models of {project}: base {tiny_llama_dir}" in log  # the project's models, not the demo's
    with Pool(project) as pool:
        history = expansion.round_history(pool)
        assert [h["round"] for h in history] == [1, 2] and pool.get_meta("expansion.config")["like"] == chosen


def test_a_round_from_chosen_prompts_gives_its_generators_those_prompts_only(tmp_path, tiny_llama_dir, tiny_llama_adapter):
    from dataclasses import replace

    from tests import expansion_helpers as helpers

    helpers.run(str(tmp_path), str(tiny_llama_dir), str(tiny_llama_adapter), rounds=1)
    from kd_core.models.loading import ModelSpec, load_model

    base, ft = load_model(ModelSpec(str(tiny_llama_dir))), load_model(ModelSpec(str(tiny_llama_dir), adapter=str(tiny_llama_adapter)))
    seen: list[list[int]] = []

    class Recording(helpers.ScriptedGenerator):
        def propose(self, ctx, n):
            seen.append([e.id for e in ctx.exemplars])
            return super().propose(ctx, n)

    with Pool(tmp_path) as pool:
        chosen = pool.ids()[1:3]
        config = replace(helpers.config(rounds=2), like=tuple(chosen))
        expansion.run_expansion(pool, base, ft, config, generators=[Recording("alpha")])
        new = pool.query(PoolFilter(rounds=2))
    assert [sorted(s) for s in seen] == [sorted(chosen)]
    assert len(new) and all(set(p) <= set(chosen) for p in new["parent_ids"])


def test_stop_ends_the_rounds_and_the_pool_stays_consistent(tmp_path, tiny_llama_dir):
    project = tmp_path / "p"
    expand.start(str(project), None, "Who founded the harbor city?", False, str(tiny_llama_dir), str(tiny_llama_dir), "",
                 50, 64, ["few-shot"], "logratio", "-100", True, 8)
    wait_until(lambda: "round" in (expansion.expand_status(project).get("stage") or ""), 120, "a round to start")
    assert expansion.stop_expand(project)["state"] == "cancelled"
    with Pool(project, create=False) as pool:
        assert pool.integrity_problems() == []
        assert pool.count() >= 1


@pytest.mark.browser
@pytest.mark.real_models
def test_a_browser_user_uploads_the_demo_seeds_runs_a_round_and_sees_the_pool(serve_app, browser, tmp_path):
    from playwright.sync_api import expect

    from kd_core.demo.world import seeds_path

    project = tmp_path / "project"
    url = serve_app("--project", str(project))
    page = browser.new_page()
    try:
        page.goto(url)
        page.get_by_role("tab", name="Expand").click()
        page.locator("#expand-seeds input[type=file]").set_input_files(str(seeds_path()))
        expect(page.locator("#expand-seeds")).to_contain_text(Path(seeds_path()).name, timeout=30_000)
        fill(page, "expand-rounds", "1")
        fill(page, "expand-per-round", "6")
        fill(page, "expand-answer-tokens", "32")
        page.locator("#expand-generators").get_by_label("crawl").uncheck()
        page.locator("#expand-generators").get_by_label("few-shot").uncheck()
        page.locator("#expand-generators").get_by_label("self-query").uncheck()
        expect(page.locator("#expand-command")).to_contain_text("--generators list")
        page.locator("#expand-run").click()
        expect(page.locator("#expand-message")).to_contain_text("Started with 15 prompts", timeout=30_000)
        status = page.locator("#expand-status")
        expect(status).to_contain_text("running", timeout=30_000)

        # A reload re-attaches to the running rounds from the project folder.
        page.reload()
        page.get_by_role("tab", name="Expand").click()
        expect(status).to_contain_text("completed", timeout=300_000)
        assert expansion.expand_status(project)["state"] == "completed"
        expect(page.locator("#expand-rounds-table")).to_contain_text("1")
        expect(page.locator("#expand-scatter .js-plotly-plot .scatterlayer .trace").first).to_be_attached(timeout=30_000)
        with Pool(project, create=False) as pool:
            total = pool.counts().total
        assert total > 15  # the seeds and what the round added
        expect(page.locator("#expand-counts")).to_contain_text(f"{total} prompts")
        if os.environ.get("KD_STUDIO_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["KD_STUDIO_SCREENSHOTS"], "expand.png"), full_page=True)

        page.reload()  # the project's pool, now with the round's prompts, in Curate
        page.get_by_role("tab", name="Curate").click()
        expect(page.locator("#curate-table")).to_contain_text("list", timeout=30_000)
    finally:
        page.close()
        expansion.stop_expand(project)


@pytest.mark.browser
def test_a_browser_user_box_selects_points_of_a_pool_and_asks_for_more_like_them(served_app, browser, tmp_path, tiny_llama_dir):
    import re

    from playwright.sync_api import expect

    project = tmp_path / "p"
    expand.start(str(project), None, "Who founded the harbor city?\nWhere was the inventor born?\nWho built the lamp?", False,
                 str(tiny_llama_dir), str(tiny_llama_dir), "", *TINY)
    assert _finish(project)["state"] == "completed"
    with Pool(project) as pool:
        known = set(pool.ids())
    with project_page(browser, served_app, project) as page:  # the session's shared server
        # The project bar opened the pool in Explore too (a second Load here would redraw
        # the plot under the clicks below).
        page.get_by_role("tab", name="Explore").click()
        named = str(project.relative_to(tmp_path.parent))  # the page names it under the server's projects root
        expect(page.locator("#project-pick input").first).to_have_value(named, timeout=30_000)
        expect(page.locator("#explore-table input").first).to_have_value("the open project's pool", timeout=30_000)
        expect(page.locator("#explore-summary")).to_contain_text(f"{len(known)} prompts", timeout=30_000)
        plot = page.locator("#explore-scatter .js-plotly-plot")
        plot.scroll_into_view_if_needed()  # the clicks below are at the plot's place in the viewport
        # A click on a point shows its prompt, answer and token gaps (plotly's own hit test).
        x, y, pid = plot.evaluate("""(el) => {
            const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis, d = el._fullData[0], r = el.getBoundingClientRect();
            return [r.left + xa._offset + xa.l2p(d.x[0]), r.top + ya._offset + ya.l2p(d.y[0]), d.customdata[0]];
        }""")
        page.mouse.click(x, y)
        with Pool(project) as pool:
            clicked = pool.get(int(pid)).text
        expect(page.locator("#explore-point-said")).to_contain_text(clicked, timeout=15_000)
        plot.hover()
        page.locator('#explore-scatter .modebar-btn[data-title="Box Select"]').click()
        area = page.locator("#explore-scatter .nsewdrag").first.bounding_box()
        page.mouse.move(area["x"] + 2, area["y"] + 2)
        page.mouse.down()
        page.mouse.move(area["x"] + area["width"] - 2, area["y"] + area["height"] - 2, steps=12)
        page.mouse.up()
        box = page.locator("#explore-picked textarea, #explore-picked input").first
        expect(box).to_have_value(re.compile(r"^\d+(,\d+)*$"), timeout=15_000)
        picked = {int(i) for i in box.input_value().split(",")}
        assert picked == known  # the whole plot area: every point, by its pool id
        page.locator("#explore-more").click()
        expect(page.locator("#explore-more-message")).to_contain_text("Round started", timeout=30_000)
    assert _finish(project)["state"] == "completed"
    with Pool(project) as pool:
        assert [h["round"] for h in expansion.round_history(pool)] == [1, 2]
