"""What one person's input may cost a shared server (kd_core.limits): prompt files and
Parquet footers, documents, chat answers (their length, their end when the session goes,
the default template's next "Question:"), GGUF pre-flight without dequantizing, a load
that would not fit, and the runs working at once across the projects of a server."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

from kd_core.data.documents import read_document_file, read_documents
from kd_core.data.prompt_files import read_prompts
from kd_core.errors import InputFileError, KDError
from kd_core.limits import Limits
from kd_core.models import chat
from kd_core.models.generation import GenerationConfig, encode_prompt, stopping_criteria
from kd_core.models.loading import ModelSpec, load_model
from kd_core.runtime import runs
from tests.waiting import wait_until

LONG = "Tell me everything about gradient descent, step by step. " * 80  # ~4.6k characters


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def _reset_peak() -> bool:
    try:  # Linux: writing 5 resets the peak resident set size (VmHWM) to the current one
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _repeated_parquet(path: Path, rows: int, value: str, group: int = 1_000_000) -> Path:
    """`rows` copies of `value`, dictionary-encoded: a file of kilobytes that decodes to rows x len(value)
    bytes. Written without the Arrow schema, so a reader sees plain strings."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("prompt", pa.dictionary(pa.int32(), pa.string()))])
    with pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=True, store_schema=False) as writer:
        for start in range(0, rows, group):
            n = min(group, rows - start)
            column = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value]))
            writer.write_table(pa.table({"prompt": column}, schema=schema))
    return path


def _refused_within(megabytes: float, fn, match: str) -> None:
    """`fn` raises InputFileError matching `match`, the process growing by less than `megabytes`."""
    tracked = _reset_peak()
    before = _rss_mb()
    with pytest.raises(InputFileError, match=match):
        fn()
    grew = (_peak_rss_mb() if tracked else _rss_mb()) - before
    assert grew < megabytes, f"grew {grew:.0f} MB"


# --- prompt files and documents --------------------------------------------------


def test_a_parquet_bomb_is_refused_from_its_footer_before_any_page_is_decoded(tmp_path):
    bomb = _repeated_parquet(tmp_path / "bomb.parquet", 20_000_000, LONG)  # ~90 GB once decoded
    assert bomb.stat().st_size < 4 * 2**20
    _refused_within(200, lambda: read_prompts(bomb), r"bomb\.parquet: 20,000,000 rows is more than the 200,000 allowed "
                                                     r"\(limit parquet_rows\)")


def test_a_parquet_file_of_repeated_values_under_the_limits_is_read_without_a_copy_per_row(tmp_path):
    value = LONG * 4  # ~18k characters, a prompt still
    path = _repeated_parquet(tmp_path / "repeats.parquet", 40_000, value)  # ~740 MB if each row were decoded
    _reset_peak()
    before = _rss_mb()
    got = read_prompts(path)
    assert (got.prompts, got.duplicates) == ([value.strip()], 39_999)
    assert _peak_rss_mb() - before < 200


def test_a_parquet_file_whose_pages_decode_past_the_limit_is_refused_and_one_within_it_is_read(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"prompt": [f"{i}: {LONG}" for i in range(400)]}), path, use_dictionary=False, compression="zstd")
    with pytest.raises(InputFileError, match=r"plain\.parquet: 2 MB uncompressed is more than the 1 MB"):
        read_prompts(path, Limits(parquet_uncompressed_mb=1))
    assert len(read_prompts(path).prompts) == 400
    with pytest.raises(InputFileError, match=r"plain\.parquet: 400 rows \(prompts\) is more than the 399 allowed \(limit prompts\)"):
        read_prompts(path, Limits(prompts=399))


@pytest.mark.parametrize("name,text", [
    ("p.txt", "\n".join(f"prompt {i}" for i in range(6))),
    ("p.csv", "prompt\n" + "\n".join(f"prompt {i}" for i in range(6))),
    ("p.jsonl", "\n".join(json.dumps({"prompt": f"prompt {i}"}) for i in range(6))),
    ("p.json", json.dumps([f"prompt {i}" for i in range(6)])),
])
def test_a_prompt_file_of_any_format_with_more_prompts_than_the_limit_is_refused_whole(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputFileError, match=rf"{name}: 6 prompts is more than the 5 allowed \(limit prompts\)"):
        read_prompts(path, Limits(prompts=5))
    assert len(read_prompts(path, Limits(prompts=6)).prompts) == 6


def test_documents_past_the_limit_are_refused_in_one_file_and_across_files(tmp_path):
    many = tmp_path / "many.jsonl"
    many.write_text("".join(json.dumps({"text": f"Document {i}."}) + "\n" for i in range(4)))
    with pytest.raises(InputFileError, match=r"many\.jsonl: 4 documents or more is more than the 3 allowed \(limit documents\)"):
        read_document_file(many, Limits(documents=3))
    notes = [tmp_path / f"note{i}.md" for i in range(2)]
    for i, note in enumerate(notes):
        note.write_text(f"Note {i}.")
    with pytest.raises(InputFileError, match=r"the documents of 3 files: 6 documents is more than the 5 allowed"):
        read_documents([many, *notes], Limits(documents=5))
    assert len(read_documents([many, *notes], Limits(documents=6))) == 6


def test_limits_are_server_flags_with_their_defaults_and_help():
    import argparse

    parser = argparse.ArgumentParser()
    Limits.add_arguments(parser)
    assert Limits.from_args(parser.parse_args([])) == Limits()
    assert Limits.from_args(parser.parse_args(["--limit-runs-at-once", "4"])).runs_at_once == 4
    assert "--limit-parquet-uncompressed-mb" in parser.format_help() and "decompressed" in Limits.help("parquet_uncompressed_mb")
    with pytest.raises(KDError, match="limit prompts: must be a whole number >= 1"):
        Limits(prompts=0)


# --- chat ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llama(tiny_llama_dir):
    return load_model(ModelSpec(str(tiny_llama_dir)))


def test_an_answer_is_capped_by_the_limit_and_by_the_context_left_after_the_prompt(llama):
    assert chat.answer_tokens(llama, 10, 5000) == 502  # the tiny model's context is 512
    assert chat.answer_tokens(llama, 10, 5000, Limits(max_new_tokens=64)) == 64
    assert chat.answer_tokens(llama, 500, 100) == 12
    with pytest.raises(KDError, match="the prompt is 512 tokens, the model's whole context"):
        chat.answer_tokens(llama, 512, 10)


def test_a_generation_ends_at_its_next_step_once_its_session_is_gone(tiny_gpt2_dir):
    cache = chat.ModelCache(max_models=1)
    found = [chat.Contestant("gpt2", ModelSpec(str(tiny_gpt2_dir)))]
    config = GenerationConfig(max_new_tokens=200)
    lm = cache.get(found[0].spec)
    full = list(chat.compare(found, "Who founded the harbor?", config, cache=cache))[-1]["answers"][0]
    assert len(lm.tokenizer(full)["input_ids"]) > 20  # left alone, the random model writes on

    gone = threading.Event()
    events = []
    for event in chat.compare(found, "Who founded the harbor?", config, cache=cache, should_stop=gone.is_set):
        events.append(event)
        gone.set()  # the browser tab closes after the first piece
    answer = events[-1]["answers"][0]
    assert "perplexities" not in events[-1]  # nothing more is computed for a session that left
    assert len(lm.tokenizer(answer)["input_ids"]) <= 3 and full.startswith(answer)


def test_a_model_without_a_chat_template_stops_where_it_starts_the_next_question(tiny_gpt2_dir):
    lm = load_model(ModelSpec(str(tiny_gpt2_dir)))
    assert lm.default_template
    prompt = encode_prompt(lm.tokenizer, "Question: 2+2?\nAnswer:")
    stop = stopping_criteria(lm, len(prompt))
    import torch

    def stops_after(answer: str) -> str | None:
        """The answer as far as generation goes, a token at a time, before the criterion ends it."""
        ids = encode_prompt(lm.tokenizer, answer)
        for n in range(1, len(ids) + 1):
            if bool(stop(torch.tensor([prompt + ids[:n]]), None)[0]):
                return lm.tokenizer.decode(ids[:n])
        return None

    assert stops_after(" It is 4.") is None and stops_after(" Four.\nAnswer: Four") is None
    assert stops_after(" It is 4.\nQuestion: and 3+3? Answer: 6.").endswith("\nQuestion:")


def test_a_model_with_its_own_chat_template_needs_no_stop_text(llama):
    assert not llama.default_template and stopping_criteria(llama, 3) is None
    assert stopping_criteria(llama, 3, should_stop=lambda: False) is not None


# --- models ----------------------------------------------------------------------


def test_a_gguf_check_reads_its_header_and_never_dequantizes_it(tmp_path, monkeypatch):
    from kd_core.demo.models import demo_gguf
    from kd_core.models import preflight

    try:
        gguf = demo_gguf("smollm2-135m-instruct")
    except Exception:
        pytest.skip("the demo's GGUF is not installed")
    monkeypatch.setenv("KD_STUDIO_CACHE", str(tmp_path / "cache"))  # no converted copy to lean on
    before = _rss_mb()
    plan, tokenizer = preflight.plan_model("base", ModelSpec(str(gguf), dtype="float32", device="cpu"))
    assert (plan.architecture, plan.parameters, plan.context) == ("LlamaForCausalLM", 134_515_008, 8192)
    assert plan.weights_bytes == 134_515_008 * 4 and len(tokenizer) == 49_152
    assert not (tmp_path / "cache" / "models").exists()  # nothing converted
    assert _rss_mb() - before < 300  # the float32 weights alone would be 513 MB


def test_a_load_that_the_estimate_says_will_not_fit_is_refused_before_it_starts(tiny_llama_dir):
    from kd_core.models import preflight

    spec = ModelSpec(str(tiny_llama_dir), dtype="float32", device="cpu")
    plan, _ = preflight.plan_model("model", spec)
    with pytest.raises(KDError, match=r"needs about 0\.5 MB on cpu \(0\.1M parameters at float32\), only 0\.5 MB is free; not loading it"):
        preflight.load_checked(spec, available=plan.needed_bytes - 1)
    assert preflight.load_checked(spec, available=plan.needed_bytes).model is not None
    cache = chat.ModelCache(check_memory=True)  # what a server's chat and Models tab load through
    assert cache.get(spec).spec == spec and cache.loaded() == [spec.label()]


# --- runs at once ----------------------------------------------------------------


@pytest.fixture
def projects(tmp_path):
    root = tmp_path / "projects"
    root.mkdir()
    runs.set_projects_root(root)
    yield root
    runs.set_projects_root(None)
    from kd_core.project import Project

    for project in root.iterdir():
        for kind in Project.RUNS:
            runs.stop(project, Project(project).run_dir(kind).name, wait_s=2)


def test_a_server_refuses_a_run_past_its_runs_at_once_across_projects_and_takes_the_next_when_one_ends(projects):
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    runs.start(projects / "a", "expand", sleep, "expansion run")
    runs.start(projects / "team" / "b", "evaluate", sleep, "evaluation run")  # a project a level further down counts too
    assert sorted(runs.live_runs(projects)) == [f"{projects}/a/expand", f"{projects}/team/b/evaluate"]
    with pytest.raises(KDError, match=r"cannot start the expansion run: 2 runs are already working on this server "
                                      r"\(at most 2 at once, limit runs_at_once"):
        runs.start(projects / "c", "expand", sleep, "expansion run")
    assert not (projects / "c" / "expand" / "status.json").exists()
    runs.check_capacity("evaluation run", limits=Limits(runs_at_once=3))  # a server with a higher limit takes it
    runs.stop(projects / "a", "expand", wait_s=2)
    runs.start(projects / "c", "expand", [sys.executable, "-c", "pass"], "expansion run")
    wait_until(lambda: runs.status(projects / "c", "expand")["state"] not in runs.ACTIVE, 30, "the short run to end")
    assert runs.live_runs(projects) == [f"{projects}/team/b/evaluate"]


def test_an_evaluation_run_waits_for_the_device_a_training_job_holds(tmp_path, lock_dir, tiny_llama_dir):
    from kd_core.evaluation.qa import EVAL_RUN, evaluate_model
    from kd_core.runtime.device_lock import acquire_device_lock, device_name

    questions = tmp_path / "qa.jsonl"
    questions.write_text(json.dumps({"question": "2+2?", "answer": "4"}) + "\n")
    holder = tmp_path / "job"
    holder.mkdir()
    spec = ModelSpec(str(tiny_llama_dir))
    device = device_name(spec.device)
    lock = acquire_device_lock(device, holder, should_leave=lambda: False)  # as a training job holds it
    project = tmp_path / "p"
    result: dict = {}
    run = threading.Thread(target=lambda: result.update(r=evaluate_model(spec, str(questions), GenerationConfig(max_new_tokens=2),
                                                                        project=project)))
    try:
        run.start()
        queued = wait_until(lambda: (s := runs.status(project, EVAL_RUN)).get("state") == "queued" and s, 60,
                            "the evaluation to queue for the device")
        assert queued["waiting_for"] == device and queued["held_by"] == str(holder)
        assert not (project / "eval").exists()  # nothing loaded or answered while it waits
    finally:
        lock.close()
    run.join(120)
    assert result["r"].summary["n"] == 1 and runs.status(project, EVAL_RUN)["state"] == "completed"
