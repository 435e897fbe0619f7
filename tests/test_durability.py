"""Durability: a kill during any durable write leaves the old file or the new one, never a
broken one; readers of a damaged state file name it and go on; reports and command hints
keep what people typed inert.

The kill tests kill for real: a writer process (multiprocessing, forkserver: a clean
process, torch imported once, children forked from it) writes in a loop and is SIGKILLed
at a random moment; the file is then read back whole, as one of the versions written.
"""

from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import random
import shlex
import threading
import time
from pathlib import Path

import pytest
import yaml

from kd_core.data.files import read_json, recover_dir, replace_dir, temp_dir_beside, write_atomic, write_atomic_many, write_json

ROUNDS = 20
MAX_ROUNDS = 200  # more kills, until one lands inside a write (the check the test is for)
BLOB = 400_000  # characters per payload: a write takes long enough for kills to land inside it


def _blob(v: int) -> str:
    return (f"{v:08d}" * (BLOB // 8 + 1))[:BLOB]


def _dataset(v: int) -> str:
    return "".join(json.dumps({"v": v, "i": i, "text": "x" * 200}) + "\n" for i in range(2000))


def _lora_b_key(names) -> str:
    """The saved adapter's first lora_B tensor (its first value carries the version)."""
    return sorted(n.replace(".default", "") for n in names if "lora_B" in n)[0]


def _write_forever(kind: str, target: str, ready: str, base_dir: str | None = None) -> None:
    """The writer process: version 1, 2, 3... of `target`, until killed; the file `ready`
    appears once version 1 is whole on disk."""
    target = Path(target)
    if kind == "adapter":
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from kd_core.training.trainer import save_adapter
        from tests.tiny_models import random_lora

        torch.set_num_threads(1)
        tok = AutoTokenizer.from_pretrained(base_dir)
        model = random_lora(AutoModelForCausalLM.from_pretrained(base_dir))
        params = dict(model.named_parameters())
        key = _lora_b_key(params)
        marker = next(p for n, p in params.items() if n.replace(".default", "") == key)
    v = 0
    while True:
        v += 1
        if kind == "config":
            write_atomic(target, yaml.dump({"version": v, "blob": "v" + _blob(v)}, Dumper=yaml.CSafeDumper))
        elif kind == "summary":
            write_json(target, {"version": v, "accuracy": v / 1000, "blob": _blob(v)})
        elif kind == "export":
            data = _dataset(v)
            write_atomic_many({target / "dataset.jsonl": data,
                               target / "data_card.json": json.dumps({"version": v, "rows": 2000, "bytes": len(data)})})
        elif kind == "adapter":
            with torch.no_grad():
                marker.view(-1)[0] = float(v)
            save_adapter(model, tok, target)
        if v == 1:
            Path(ready).touch()


def _kill_while_writing(kind: str, target: Path, check, rounds: int = ROUNDS, max_delay: float = 0.05,
                        base_dir: Path | None = None) -> tuple[set, int]:
    """Start a writer, kill it (SIGKILL) at a random moment, check the target; `rounds`
    times. Returns the versions seen, and how many kills landed inside a write (they
    leave the writer's temporary file or folder behind).  Where none of the first `rounds`
    kills landed inside a write (a write is a small part of the writer's loop on some
    machines), it goes on killing, up to MAX_ROUNDS, until one has."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "transformers", "peft", "kd_core.training.trainer", "tests.tiny_models", __name__])
    rng = random.Random(kind)
    seen = set()
    folder = target.parent if kind != "export" else target
    torn = 0
    signals = target.parent.parent / f"ready-{kind}"
    signals.mkdir(parents=True, exist_ok=True)
    for n in itertools.count():
        if n >= rounds and (torn or n >= MAX_ROUNDS):
            break
        before = set(folder.glob(".*.tmp")) if folder.exists() else set()
        ready = signals / str(n)
        proc = ctx.Process(target=_write_forever, args=(kind, str(target), str(ready), str(base_dir) if base_dir else None), daemon=True)
        proc.start()
        try:
            deadline = time.monotonic() + 60
            while not ready.exists():
                assert proc.is_alive() and time.monotonic() < deadline, f"the {kind} writer never wrote its first version"
                time.sleep(0.002)
            time.sleep(rng.uniform(0, max_delay))
        finally:
            proc.kill()
            proc.join(10)
        assert proc.exitcode is not None and proc.exitcode < 0, f"the {kind} writer was not killed: {proc.exitcode}"
        seen.add(check(target))
        torn += bool(set(folder.glob(".*.tmp")) - before)
    return seen, torn


def test_a_kill_while_writing_a_job_config_leaves_the_old_or_the_new_config_whole(tmp_path):
    target = tmp_path / "job" / "config.yaml"

    def check(path: Path) -> int:
        data = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        assert data == {"version": data["version"], "blob": "v" + _blob(data["version"])}
        return data["version"]

    seen, torn = _kill_while_writing("config", target, check)
    assert max(seen) >= 1 and torn >= 1, (seen, torn)


def test_a_kill_while_writing_a_summary_leaves_the_old_or_the_new_summary_whole(tmp_path):
    target = tmp_path / "eval" / "x" / "summary.json"

    def check(path: Path) -> int:
        data = json.loads(path.read_text())
        v = data["version"]
        assert data == {"version": v, "accuracy": v / 1000, "blob": _blob(v)}
        assert read_json(path) == data
        return v

    seen, torn = _kill_while_writing("summary", target, check)
    assert torn >= 1, (seen, torn)


def test_a_kill_while_exporting_a_dataset_leaves_each_file_old_or_new_and_whole(tmp_path):
    target = tmp_path / "export"

    def check(folder: Path) -> int:
        rows = [json.loads(line) for line in (folder / "dataset.jsonl").read_text().splitlines()]
        assert len(rows) == 2000 and len({r["v"] for r in rows}) == 1
        assert (folder / "dataset.jsonl").read_text() == _dataset(rows[0]["v"])
        card = json.loads((folder / "data_card.json").read_text())
        assert card["rows"] == 2000 and card["bytes"] == len(_dataset(card["version"]))
        # The two files are renamed one after the other: a kill between the renames may
        # leave the card one version behind its dataset, never ahead, never broken.
        assert card["version"] in (rows[0]["v"], rows[0]["v"] - 1)
        return rows[0]["v"]

    seen, torn = _kill_while_writing("export", target, check)
    assert torn >= 1, (seen, torn)


def test_a_kill_while_the_trainer_saves_an_adapter_leaves_the_old_or_the_new_adapter_whole(tmp_path, tiny_llama_dir):
    from safetensors.torch import load_file

    target = tmp_path / "job" / "adapter"

    def check(folder: Path) -> int:
        if not folder.exists():
            # Killed between the swap's two renames: the old adapter waits aside, and the
            # next save (or a reader) puts it back.
            recover_dir(folder)
        assert json.loads((folder / "adapter_config.json").read_text())["peft_type"] == "LORA"
        assert json.loads((folder / "tokenizer_config.json").read_text())
        assert json.loads((folder / "tokenizer.json").read_text())["model"]
        tensors = load_file(folder / "adapter_model.safetensors")  # refuses a truncated file
        v = tensors[_lora_b_key(tensors)].view(-1)[0].item()
        assert v == int(v) and v >= 1, f"the adapter's marker is {v}: not one whole version"
        return int(v)

    seen, torn = _kill_while_writing("adapter", target, check, rounds=10, max_delay=0.3, base_dir=tiny_llama_dir)
    print(f"adapter: versions seen {sorted(seen)}, {torn} of 10 kills inside a save")
    assert seen
    recover_dir(target)  # what the next save does first: aside copies of killed swaps are removed
    assert not list(tmp_path.joinpath("job").glob(".adapter.*.old"))


def test_replacing_a_folder_puts_the_new_one_in_place_and_a_kill_between_the_renames_is_recovered(tmp_path):
    target = tmp_path / "adapter"
    for version in ("old", "new"):
        staged = temp_dir_beside(target)
        (staged / "weights").write_text(version)
        replace_dir(staged, target)
        assert (target / "weights").read_text() == version and not staged.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]
    # A kill after the old folder went aside and before the new one came in:
    target.rename(tmp_path / ".adapter.123.abcd.old")
    recover_dir(target)
    assert (target / "weights").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]


def test_concurrent_writers_of_one_path_never_collide_and_leave_one_whole_version(tmp_path):
    target = tmp_path / "status.json"
    errors = []

    def writer(w: int) -> None:
        try:
            for i in range(40):
                write_json(target, {"writer": w, "i": i, "blob": _blob(w * 100 + i)[:20_000]})
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    data = json.loads(target.read_text())
    assert data["blob"] == _blob(data["writer"] * 100 + data["i"])[:20_000]
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temp file left behind


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    import os

    target = tmp_path / "config.yaml"
    write_atomic(target, "old\n")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomic(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]


def test_write_atomic_syncs_the_file_and_its_folder(tmp_path, monkeypatch):
    import os
    import stat

    synced = []
    real = os.fsync

    def spy(fd):
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        return real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write_atomic(tmp_path / "a.bin", b"\x00\x01binary")
    assert synced == ["file", "folder"]
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01binary"


# ---------------------------------------------------------------------------
# Readers of damaged state files


def _summary(path: Path, accuracy: float) -> None:
    write_json(path, {"model": "m", "questions": "demo:test", "accuracy": accuracy, "correct": 1, "n": 2, "wall_s": 1.0})


def test_a_truncated_summary_is_named_and_the_other_evaluations_still_read(tmp_path, caplog):
    from kd_core.evaluation.qa import measured_before, project_results
    from kd_core.project import Project

    where = Project.at(tmp_path)
    _summary(where.evaluation("good") / "summary.json", 0.5)
    broken = where.evaluation("broken") / "summary.json"
    _summary(broken, 0.7)
    broken.write_text(broken.read_text()[:25])  # a crash mid-write, as a plain writer could leave
    pd_broken = where.pd_eval_dir / "pd" / "summary.json"
    pd_broken.parent.mkdir(parents=True)
    pd_broken.write_text('{"accuracy": 0.')
    with caplog.at_level(logging.WARNING):
        results = project_results(tmp_path)
        assert measured_before(broken.parent, model="m") is None  # measured again, not a crash
    assert list(results["name"]) == ["good"]
    assert str(broken) in caplog.text and str(pd_broken) in caplog.text
    assert "damaged" in caplog.text


def test_a_truncated_job_status_names_the_file_and_the_other_jobs_still_list(tmp_path, caplog):
    from kd_core.runtime import jobs

    root = jobs.jobs_dir(tmp_path)
    for job_id, status in (("a-good", '{"id": "a-good", "state": "completed", "summary": {"steps": 3}}'),
                           ("b-broken", '{"id": "b-broken", "state": "compl')):
        (root / job_id).mkdir(parents=True)
        (root / job_id / jobs.CONFIG).write_text("name: x\n")
        (root / job_id / jobs.STATUS).write_text(status)
    with caplog.at_level(logging.WARNING):
        listed = jobs.list_jobs(tmp_path)
    assert [j["id"] for j in listed] == ["a-good"]
    assert str(root / "b-broken" / jobs.STATUS) in caplog.text


def test_a_truncated_summary_in_a_tuneshift_report_counts_as_missing(tmp_path, caplog):
    from kd_core.data.files import load_json

    path = tmp_path / "eval" / "teacher-test" / "summary.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"accuracy": 0.5, "corr')
    with caplog.at_level(logging.WARNING):
        assert load_json(path) is None
        assert load_json(path) is None
    assert caplog.text.count(str(path)) == 1  # said once, not at every poll


# ---------------------------------------------------------------------------
# What people typed stays inert


EVIL = "<script>alert(1)</script>"


def test_report_html_escapes_recipe_arm_and_model_names(tmp_path):
    from kd_core.tuneshift.pool import Pool
    from kd_core.tuneshift.recipe_config import TuneShiftRecipe
    from kd_core.tuneshift.report import report_markdown, write_report

    report = {
        "recipe": EVIL, "pool": {"total": 0, "by_state": {}}, "rounds": [],
        "teacher": {"test": None, "control": None},
        "targets": {EVIL: {"test": None, "control": None}},
        "arms": {EVIL: {"target": EVIL, "select": "accepted", "threshold": None, "prompts": None, "replay": 0,
                        "test": None, "control": None}},
        "facts_total": None,
    }
    assert EVIL in report_markdown(report)  # the Markdown keeps the names as typed
    with Pool(tmp_path) as pool:
        page = Path(write_report(tmp_path, report, pool, TuneShiftRecipe(name=EVIL))).read_text()
    assert EVIL not in page
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_command_hints_quote_project_paths_and_typed_text(tmp_path):
    from kd_core.distill.pipeline import pd_args, pd_command
    from kd_core.tuneshift.expansion import ExpansionConfig, cli_args, cli_command

    project = tmp_path / "my project; rm -rf ~ $(id)"
    line = pd_command(project, ["chunk", "questions"])
    assert shlex.split(line) == ["kd-studio", *pd_args(project, ["chunk", "questions"])]
    config = ExpansionConfig(system="be 'nice' && `reboot`")
    line = cli_command(project, "seeds file.txt", config)
    assert shlex.split(line) == ["kd-studio", "expand", "--project", str(project), "--seeds", "seeds file.txt", *cli_args(config)]


def test_a_run_error_cannot_close_its_code_fence():
    from kd_core.runtime.runs import status_markdown

    text = status_markdown("Run", {"state": "failed", "error": "boom\n```\n<img src=x onerror=alert(1)>"}, idle="")
    fence = text.split("\n\n", 1)[1].split("\n", 1)[0]
    assert set(fence) == {"`"} and len(fence) > 3
    assert text.rstrip().endswith(fence)
