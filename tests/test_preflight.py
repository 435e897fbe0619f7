"""Pre-flight: what would load and the memory it needs, from configs alone; the checks
between roles; the same report from the CLI and the Models tab."""

from __future__ import annotations

import pytest

from kd_core.cli import main
from kd_core.errors import KDError
from kd_core.models.loading import ModelSpec, load_model
from kd_core.models.preflight import MARGIN, preflight, report_markdown
from ui.models import specs_from


def test_the_plan_counts_the_parameters_a_real_load_has_and_4bit_needs_less(tiny_llama_dir):
    specs = {"base": ModelSpec(str(tiny_llama_dir), device="cpu"), "target": ModelSpec(str(tiny_llama_dir), device="cpu", load_in_4bit=True)}
    report = preflight(specs)
    base, target = report["models"]
    assert base["parameters"] == load_model(specs["base"]).parameter_count()
    assert base["dtype"] == "float32" and base["weights_bytes"] == base["parameters"] * 4
    assert base["needed_bytes"] == int(base["weights_bytes"] * MARGIN)
    assert target["weights_bytes"] < base["weights_bytes"] and target["dtype"].endswith("4-bit nf4")
    assert report["memory"]["cpu"]["needed_bytes"] == base["needed_bytes"] + target["needed_bytes"]
    assert report["memory"]["cpu"]["available_bytes"] > 0 and report["fits"]


@pytest.mark.real_models
def test_base_and_finetuned_on_other_tokenizers_are_flagged_and_a_different_target_is_told_to_use_sft(tiny_llama_adapter):
    # The tiny test models share one tokenizer; the demo's two models do not.
    report = preflight({"base": ModelSpec("demo:gemma3-270m"), "finetuned": ModelSpec("demo:smollm2-135m-instruct",
                        adapter=str(tiny_llama_adapter)), "target": ModelSpec("demo:gemma3-270m")})
    text = report_markdown(report)
    assert "base and fine-tuned use different tokenizers: scoring and expansion will refuse them" in text
    assert "target's tokenizer differs from the fine-tuned model's (262,144 vs 49,152 tokens): train the target with loss sft" in text
    assert f"adapter {tiny_llama_adapter}" in text
    assert "target: no chat template of its own" in text


def test_a_model_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(KDError, match="model path does not exist: ./nowhere"):
        preflight({"base": ModelSpec("./nowhere")})
    assert main(["models", "preflight", "--base", str(tmp_path)]) == 2


def test_the_models_tab_fills_empty_roles_with_the_demo_and_puts_an_adapter_on_the_base(tiny_llama_dir):
    specs = specs_from(str(tiny_llama_dir), "", "/some/lora", "", "cpu", "auto", True)
    assert specs["finetuned"].name == str(tiny_llama_dir) and specs["finetuned"].adapter == "/some/lora"
    assert specs["target"].name == "demo:gemma3-270m" and all(s.load_in_4bit for s in specs.values())
    assert specs_from("", "", "", "", "auto", "auto", False)["finetuned"].adapter  # the demo's LoRA


@pytest.mark.real_models
def test_the_cli_reports_the_demo_models(capsys):
    assert main(["models", "preflight"]) == 0
    out = capsys.readouterr().out
    assert "| base | `demo:smollm2-135m-instruct` | LlamaForCausalLM | 134.5M |" in out
    assert "| target | `demo:gemma3-270m` | Gemma3ForCausalLM | 268.1M |" in out


@pytest.mark.browser
@pytest.mark.real_models
def test_a_browser_user_checks_the_demo_models_before_loading_them(served_app, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        page.goto(served_app)
        page.get_by_role("tab", name="Models").click()
        page.locator("#models-check").click()
        report = page.locator("#models-report")
        expect(report).to_contain_text("134.5M", timeout=60_000)
        expect(report).to_contain_text("available: fits")
        expect(report).to_contain_text("base and fine-tuned share a tokenizer")
        expect(page.locator("#models-command")).to_contain_text("kd-studio models preflight --device auto --dtype auto")
    finally:
        page.close()


@pytest.mark.browser
def test_load_puts_the_models_in_the_servers_cache_once_and_unload_empties_it(served_app, browser, tiny_llama_dir,
                                                                              tiny_llama_adapter):
    from playwright.sync_api import expect

    from tests.pages import fill

    page = browser.new_page()
    try:
        page.goto(served_app)
        page.get_by_role("tab", name="Models").click()
        loaded = page.locator("#models-loaded")
        expect(loaded).to_contain_text("No model loaded in this server", timeout=30_000)
        fill(page, "models-base", str(tiny_llama_dir))
        fill(page, "models-adapter", str(tiny_llama_adapter))
        fill(page, "models-target", str(tiny_llama_dir))
        page.locator("#models-load").click()
        # While they load, the box shows a progress bar (model n of 3); then the list of what is loaded.
        expect(loaded).to_contain_text("Loaded in this server", timeout=60_000)
        expect(loaded).to_contain_text(f"{tiny_llama_dir} + {tiny_llama_adapter}")
        shown = loaded.inner_text().split(": ", 1)[1].split(", ")
        assert sorted(shown) == sorted([str(tiny_llama_dir), f"{tiny_llama_dir} + {tiny_llama_adapter}"])  # base = target: loaded once
        page.reload()  # the cache belongs to the server, not the page
        page.get_by_role("tab", name="Models").click()
        expect(loaded).to_contain_text(f"{tiny_llama_dir} + {tiny_llama_adapter}", timeout=30_000)
        page.locator("#models-unload").click()
        expect(loaded).to_contain_text("No model loaded in this server", timeout=30_000)
    finally:
        page.close()
