"""Progress of long steps: the record's rate and ETA, the CLI's bar on a terminal and
plain lines in a log (a real `kd-studio eval` on the tiny model, both ways), a run's
status read as a record, and the UI's HTML bar."""

import io
import json
import os
import pty
import re
import select
import subprocess
import sys

from kd_core.runtime.progress import ProgressBar, ProgressClock, ProgressRecord, parse_stage


def test_eta_is_what_is_left_at_the_pace_seen_since_the_stage_began():
    record = ProgressRecord("score base", done=30, total=100, started=1000.0, updated=1010.0, first_done=10)
    assert record.rate == 2.0  # 20 done in 10 s
    assert record.eta_s == 35.0  # 70 left at 2/s
    assert record.fraction == 0.3
    assert ProgressRecord("x", 100, 100, started=0, updated=5).eta_s == 0.0
    assert ProgressRecord("x", 5, 10, started=0, updated=0).eta_s is None  # no time yet: no pace
    assert ProgressRecord("x", 5, None, started=0, updated=9).eta_s is None  # not counted
    assert ProgressRecord("x", 5, 10, started=0, updated=9, given_eta_s=42).eta_s == 42  # the trainer's own
    assert ProgressRecord("stage 2 of 5", 1, 5, started=0, updated=9, timed=False).eta_s is None  # unequal parts
    assert "ETA 0:00:35" in record.line() and "30/100 (30%)" in record.line()


def test_clock_times_a_stage_from_its_first_record_and_starts_again_on_a_new_stage():
    clock = ProgressClock()
    clock.record("generate", 4, 20, at=100.0)
    later = clock.record("generate", 12, 20, at=104.0)
    assert (later.elapsed_s, later.rate, later.eta_s) == (4.0, 2.0, 4.0)
    other = clock.record("score base", 2, 20, at=105.0)
    assert other.elapsed_s == 0.0 and other.eta_s is None


def test_a_runs_status_is_read_as_a_record():
    clock = ProgressClock()
    assert parse_stage("round 1: score base: 48/120") == ("round 1: score base", 48, 120)
    assert parse_stage("loading the model") is None
    counted = clock.from_status({"state": "running", "stage": "demo-eval: answered 16/64"}, key="a", at=10.0)
    assert (counted.stage, counted.done, counted.total) == ("demo-eval: answered", 16, 64)
    assert clock.from_status({"state": "running", "stage": "demo-eval: answered 48/64"}, key="a", at=14.0).eta_s == 2.0
    staged = clock.from_status({"state": "running", "stage": "answers", "stages": ["ingest", "questions", "answers", "train"]},
                               key="b", at=1.0)
    assert (staged.done, staged.total, staged.eta_s) == (2, 4, None) and "stage 3 of 4: answers" in staged.stage
    assert clock.from_status({"state": "completed", "stage": None}, key="a") is None


def test_a_pipe_gets_a_line_per_stage_and_every_tenth_not_one_per_step():
    out = io.StringIO()
    bar = ProgressBar(out, tty=None)  # a StringIO is no terminal
    assert not bar.tty
    for done in range(1, 101):
        bar(done, 100, "score base")
    bar(1, 1, "write")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("    score base: 1/100 (1%)")
    assert [ln.split(":")[1].split()[0] for ln in lines[:-1]] == [f"{n}/100" for n in (1, *range(10, 101, 10))]
    assert lines[-1].startswith("    write: 1/1 (100%)")
    assert "\r" not in out.getvalue()


def test_a_terminal_gets_one_bar_redrawn_in_place_with_done_total_and_eta():
    master, slave = pty.openpty()
    try:
        stream = os.fdopen(slave, "w", closefd=False)
        bar = ProgressBar(stream, redraw_s=0.0)
        assert bar.tty  # found from the stream itself
        bar.show(ProgressRecord("answered", 5, 20, started=100.0, updated=110.0))  # 0.5/s: 30 s left
        bar.show(ProgressRecord("answered", 10, 20, started=100.0, updated=120.0))
        bar.close()
        # A pty may hand the two draws over in separate reads: read until nothing more comes.
        chunks = []
        while select.select([master], [], [], 0.5)[0]:
            chunk = os.read(master, 4096)
            if not chunk:
                break
            chunks.append(chunk)
        text = b"".join(chunks).decode()
    finally:
        os.close(master)
        os.close(slave)
    assert text.count("\r\x1b[K") == 2  # the same line, drawn twice
    assert "answered |######------------------| 5/20  25%  2.0 s each  ETA 0:00:30" in text
    assert "10/20  50%" in text and "ETA 0:00:20" in text
    assert text.endswith("\n")  # the last state stays on the terminal


def _eval(tmp_path, tiny_llama_dir, stderr):
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"question": f"Who built tower {i}?", "answer": "the guild"}) + "\n"
                                 for i in range(6)))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TERM": "xterm"}
    return subprocess.run([sys.executable, "-m", "kd_core.cli", "eval", "--base", str(tiny_llama_dir), "--role", "base",
                           "--questions", str(questions), "--batch-size", "2", "--max-new-tokens", "3"],
                          stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=300, env=env)


def test_eval_in_a_log_prints_plain_progress_lines_with_eta(tmp_path, tiny_llama_dir):
    done = _eval(tmp_path, tiny_llama_dir, subprocess.PIPE)
    assert done.returncode == 0, done.stderr
    lines = [ln.strip() for ln in done.stderr.splitlines()]
    assert f"loading {tiny_llama_dir}" in lines
    assert "answered: 2/6 (33%)" in "\n".join(lines)
    assert any(re.fullmatch(r"answered: 4/6 \(67%\) .*ETA \d:\d\d:\d\d", ln) for ln in lines), lines
    assert any(ln.startswith("answered: 6/6 (100%)") for ln in lines), lines
    assert json.loads(done.stdout.splitlines()[-1])["n"] == 6


def test_eval_on_a_terminal_draws_a_bar(tmp_path, tiny_llama_dir):
    master, slave = pty.openpty()
    try:
        done = _eval(tmp_path, tiny_llama_dir, slave)
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    text = b"".join(chunks).decode()
    assert done.returncode == 0, text
    assert "\r\x1b[K" in text and re.search(r"answered \|#+-*\| [246]/6", text), text
    assert re.search(r"answered \|#{24}\| 6/6 100%", text), text


def test_progress_html_escapes_the_stage_and_shows_done_total_and_eta():
    from ui.progress import progress_html

    html = progress_html(ProgressRecord("<script>x</script> & more", 3, 12, started=0.0, updated=6.0))
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt; &amp; more" in html
    assert '<progress style="width:100%" max="12" value="3">' in html
    assert "<b>3/12</b> (25%)" in html and "ETA 0:00:18" in html and "0:00:06 elapsed" in html
    assert progress_html(None) == ""
    loading = progress_html(ProgressRecord("loading the model", 0, None, started=0.0, updated=0.0))
    assert "<progress" in loading and "ETA" not in loading


def test_a_run_folders_status_shows_as_a_bar(tmp_path):
    from kd_core.data.files import write_json
    from ui.progress import run_progress

    status = {"state": "running", "stage": "round 1: generate: 8/32"}
    write_json(tmp_path / "status.json", status)
    shown = run_progress(tmp_path, status)
    assert shown.startswith("\n\n<div") and "round 1: generate" in shown and "<b>8/32</b>" in shown
    assert run_progress(tmp_path, {"state": "completed"}) == ""


def test_load_reports_model_n_of_n_while_each_loads(tiny_llama_dir):
    from kd_core.models.chat import MODELS
    from kd_core.models.loading import ModelSpec
    from ui.models import load_all

    MODELS.clear()
    try:
        records = list(load_all({"base": ModelSpec(str(tiny_llama_dir)), "target": ModelSpec(str(tiny_llama_dir))}))
    finally:
        MODELS.clear()
    assert records[0].stage == f"loading model 1 of 2: base {tiny_llama_dir}" and (records[0].done, records[0].total) == (0, 2)
    assert any(r.stage.startswith("loading model 2 of 2: target") and r.done == 1 for r in records)
    assert (records[-1].stage, records[-1].done) == ("loaded 2 models", 2)


def test_a_runs_status_followed_while_it_works_gives_its_progress_lines(tmp_path):
    import time

    from kd_core.data.files import write_json
    from kd_core.runtime.progress import following

    out = io.StringIO()
    with following(tmp_path, ProgressBar(out, tty=False), every_s=0.05):
        for stage in ("ingest", "questions"):
            write_json(tmp_path / "status.json", {"state": "running", "stage": stage, "stages": ["ingest", "questions", "train"]})
            time.sleep(0.3)
        for done in (10, 20, 30):
            write_json(tmp_path / "status.json", {"state": "running", "stage": f"round 1: score base: {done}/30"})
            time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("    stage 1 of 3: ingest: 0/3") and lines[1].startswith("    stage 2 of 3: questions: 1/3")
    assert "ETA" not in lines[0] + lines[1]  # stages are unequal parts: no ETA from them
    assert lines[2].startswith("    round 1: score base: 10/30 (33%)")
    assert re.match(r"    round 1: score base: 20/30 \(67%\) .*ETA 0:00:0\d", lines[3]), lines
    assert lines[-1].startswith("    round 1: score base: 30/30 (100%)")


def test_training_steps_draw_the_bar_up_to_max_steps(tiny_llama_dir, tmp_path):
    from kd_core.models.loading import ModelSpec
    from kd_core.runtime import jobs
    from kd_core.training.config import LoraSettings, TrainConfig

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Who built tower {i}?", "response": "The guild."}) + "\n" for i in range(8)))
    config = jobs.JobConfig(student=ModelSpec(str(tiny_llama_dir)), data=str(data),
                            train=TrainConfig(max_steps=3, batch_size=4, logging_steps=1, lora=LoraSettings(r=4)))
    out = io.StringIO()
    bar = ProgressBar(out, tty=True, redraw_s=0.0)
    status = jobs.run_job(jobs.create_job(tmp_path / "proj", config), echo=lambda line: None, progress=bar)
    bar.close()
    assert status["state"] == "completed", status.get("error")
    drawn = out.getvalue()
    assert "train |########----------------| 1/3  33%" in drawn and "ETA" in drawn
    assert "train |########################| 3/3 100%" in drawn
