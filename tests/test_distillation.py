"""Prompt distillation on tiny random models: the teacher's prompt holds the chunk and the
student's does not, the KD loss reads answer positions only, the teacher's logits are
the adapter-disabled model's, curation decides what is trained on, every stage resumes,
and bad input (a writer with no parsable question, bad settings) is named and loses
nothing.  One test runs the real demo model as the question writer."""

import json
import re
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from torch.nn import functional as F

from kd_core.data.documents import Document
from kd_core.distill.config import META_QUESTIONS, PD_DIR, EvalSettings, PDConfig, QuestionSettings, TeacherSettings
from kd_core.distill.pipeline import run_pd
from kd_core.distill.stages import answer_questions, answers_path, generate_questions, ingest, training_data
from kd_core.errors import KDError
from kd_core.models.loading import ModelSpec, load_model
from kd_core.training.data import PairDataset, collate, read_examples
from kd_core.training.losses import _teacher_side, response_losses
from kd_core.tuneshift.pool import Pool
from kd_core.tuneshift.questions import parse_questions
from tests import tiny_models

DOC = ("The harbor of Kell was founded by Ostra Vane in the year 1402. Its lamp is called Brine.\n\n"
       "The ship Marrow sank near the north tower of Kell. Its captain was Tobin Quell.")
QUESTIONS = ["Who founded the harbor of Kell?", "What is the lamp of Kell called?", "Who was the captain of the Marrow?"]
quiet = lambda message: None  # noqa: E731


def _project(tmp_path, lm, chunk_tokens: int = 48):  # one paragraph a chunk
    """A project with DOC ingested and QUESTIONS in its pool (as a person would upload or
    edit them), answered by the teacher in both modes."""
    chunks = ingest(tmp_path, [Document("kell", DOC)], lm.tokenizer, chunk_tokens, 512, 64, log=quiet)
    assert len(chunks) == 2
    pool = Pool(tmp_path)
    pool.add_prompts(QUESTIONS[:2], source=chunks[0].id)
    pool.add_prompts(QUESTIONS[2:], source=chunks[1].id)
    settings = TeacherSettings(max_new_tokens=12, temperature=1.0, batch_size=4)
    for mode in ("kd", "sft"):
        answer_questions(tmp_path, pool, lm, chunks, settings, mode, log=quiet)
    return pool, chunks


def test_parse_questions_reads_numbered_and_inline_lists_and_drops_what_is_no_question():
    chunk = "Ostra Vane founded the harbor of Kell. The lamp Brine burns there."
    out = (" Who founded the harbor of Kell?\n2. What is the lamp of Kell called? 3. Where does Brine burn?\n"
           "4) The harbor is old.\nQuestion 5: Who is Ostra Vane?\n6. What year was it built?")
    parsed = parse_questions(out, chunk, limit=10)
    assert parsed.questions == ["Who founded the harbor of Kell?", "What is the lamp of Kell called?",
                                "Where does Brine burn?", "Who is Ostra Vane?"]
    assert parsed.unparseable == 1  # "The harbor is old."
    assert parsed.unnamed == 1  # "What year was it built?" names nothing of the chunk
    assert parse_questions(out, chunk, limit=2).questions == parsed.questions[:2]
    assert len(parse_questions(out, chunk, limit=10, require_name=False).questions) == 5


def test_teacher_prompts_hold_the_chunk_and_student_prompts_do_not(tmp_path, tiny_llama_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    pool, chunks = _project(tmp_path, lm)
    kd_path, n = training_data(tmp_path, pool, chunks, "kd")
    rows = [json.loads(line) for line in kd_path.read_text().splitlines()]
    assert n == len(rows) == 3
    by_question = {c: ch for ch, qs in ((chunks[0], QUESTIONS[:2]), (chunks[1], QUESTIONS[2:])) for c in qs}
    for row in rows:
        chunk = by_question[row["prompt"]].text
        assert row["teacher_prompt"] == f"{chunk}\n\n---\n\n{row['prompt']}"
        assert not any(c.text in row["prompt"] for c in chunks) and row["prompt"] in QUESTIONS
    sft_rows = [json.loads(line) for line in training_data(tmp_path, pool, chunks, "sft")[0].read_text().splitlines()]
    assert [r["prompt"] for r in sft_rows] == [r["prompt"] for r in rows] and all("teacher_prompt" not in r for r in sft_rows)
    # The KD answers are also the pool's responses: what the Curate tab shows beside each question.
    assert {r["prompt"]: r["completion"] for r in rows} == {q.text: q.response for q in pool.query().itertuples()}
    # TRL's prompt-completion form, described by a dataset card that datasets reads
    from datasets import load_dataset

    assert set(rows[0]) == {"prompt", "completion", "teacher_prompt"}
    kd = load_dataset(str(kd_path.parent), "kd", split="train")
    assert kd.num_rows == 3 and set(kd.column_names) == {"prompt", "completion", "teacher_prompt"}
    assert load_dataset(str(kd_path.parent), "sft", split="train").column_names == ["prompt", "completion"]


def test_training_data_still_reads_answers_files_written_with_response(tmp_path, tiny_llama_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    pool, chunks = _project(tmp_path, lm)
    answers = answers_path(tmp_path, "kd")
    old = [{**{k: v for k, v in r.items() if k != "completion"}, "response": r["completion"]}
           for r in map(json.loads, answers.read_text().splitlines())]
    answers.write_text("".join(json.dumps(r) + "\n" for r in old))  # as versions before `completion` wrote it
    rows = [json.loads(line) for line in training_data(tmp_path, pool, chunks, "kd")[0].read_text().splitlines()]
    assert {r["prompt"]: r["completion"] for r in rows} == {r["prompt"]: r["response"] for r in old} and len(rows) == 3


def test_curation_decides_what_is_trained_on_and_an_edit_is_answered_again(tmp_path, tiny_llama_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    pool, chunks = _project(tmp_path, lm)
    ids = pool.ids()
    pool.reject(ids[1], who="test")
    pool.edit(ids[0], "Who built the harbor of Kell?", who="test")
    rows = [json.loads(line) for line in training_data(tmp_path, pool, chunks, "kd")[0].read_text().splitlines()]
    assert [r["prompt"] for r in rows] == [QUESTIONS[2]]  # rejected: out; edited: not answered yet
    result = answer_questions(tmp_path, pool, lm, chunks, TeacherSettings(max_new_tokens=8, batch_size=4), "kd", log=quiet)
    assert result["answered"] == 1
    rows = [json.loads(line) for line in training_data(tmp_path, pool, chunks, "kd")[0].read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["Who built the harbor of Kell?", QUESTIONS[2]]
    assert rows[0]["teacher_prompt"].endswith("---\n\nWho built the harbor of Kell?")


def _pd_batch(tmp_path, lm):
    pool, chunks = _project(tmp_path, lm)
    examples = read_examples(training_data(tmp_path, pool, chunks, "kd")[0])
    data = PairDataset(lm.tokenizer, examples, max_length=256, with_teacher=True)
    return examples, data, collate(lm.tokenizer.pad_token_id)([data[i] for i in range(len(data))])


def test_kd_loss_reads_answer_positions_only(tmp_path, tiny_llama_dir):
    from kd_core.training.data import encode_example

    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    examples, data, batch = _pd_batch(tmp_path, lm)
    for ex, item in zip(examples, data.items):
        p, r = encode_example(lm.tokenizer, ex.prompt, ex.response)
        tp, _ = encode_example(lm.tokenizer, ex.teacher_prompt, ex.response)
        assert item["labels"] == [-100] * len(p) + r  # the student's question: no loss
        assert item["teacher_labels"] == [-100] * len(tp) + r  # the teacher's chunk and question: no loss
        assert item["teacher_input_ids"][len(tp):] == item["input_ids"][len(p):] == r  # one answer, token for token
    student = tiny_models.random_lora(lm.model)
    with torch.no_grad():
        ours = response_losses(student, batch, teacher=None, temperature=2.0)["kd"]
        s_all = F.log_softmax(student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits / 2, -1)
        with student.disable_adapter():
            t_all = F.log_softmax(student(input_ids=batch["teacher_input_ids"], attention_mask=batch["teacher_attention_mask"]).logits / 2, -1)
    s_at = batch["labels"][:, 1:] != -100
    t_at = batch["teacher_labels"][:, 1:] != -100
    per_token = (t_all[:, :-1][t_at].exp() * (t_all[:, :-1][t_at] - s_all[:, :-1][s_at])).sum(-1)
    assert per_token.numel() == sum(x != -100 for d in data.items for x in d["labels"])
    assert torch.allclose(ours, per_token.mean() * 4, rtol=1e-5), (float(ours), float(per_token.mean() * 4))
    # Over every student position instead, the value would differ: the mask matters.
    s_every = s_all[:, :-1][batch["attention_mask"][:, 1:].bool()]
    assert s_every.shape[0] > per_token.numel()


def test_teacher_logits_are_the_adapter_disabled_models(tmp_path, tiny_llama_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    _, _, batch = _pd_batch(tmp_path, lm)
    student = tiny_models.random_lora(lm.model).train()  # as in training: the teacher side must switch dropout off itself
    hidden, to_logits = _teacher_side(student, None, batch)
    ours = to_logits(hidden)
    fresh = load_model(ModelSpec(str(tiny_llama_dir))).model.eval()  # the base model, loaded anew from disk
    at = torch.zeros_like(batch["teacher_labels"], dtype=torch.bool)
    at[:, :-1] = batch["teacher_labels"][:, 1:] != -100
    with torch.no_grad():
        base = fresh(input_ids=batch["teacher_input_ids"], attention_mask=batch["teacher_attention_mask"]).logits[at]
        adapted = student.eval()(input_ids=batch["teacher_input_ids"], attention_mask=batch["teacher_attention_mask"]).logits[at]
    assert torch.allclose(ours, base, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(adapted, base, atol=1e-2)  # the adapter changes the model: the test can tell


def test_a_writer_with_no_parsable_question_is_named_and_leaves_the_pool_as_it_was(tmp_path, tiny_llama_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir)))  # random weights: it writes token soup
    chunks = ingest(tmp_path, [Document("kell", DOC)], lm.tokenizer, 48, 512, 64, log=quiet)
    with Pool(tmp_path) as pool:
        before = pool.meta()
        with pytest.raises(KDError, match=r"the question writer .*tiny-llama.* wrote no parsable question in 4 samples \(first outputs: "):
            generate_questions(pool, lm, chunks, QuestionSettings(calls=2, max_new_tokens=24, temperature=1.0), log=quiet)
        assert pool.count() == 0
        assert pool.get_meta(META_QUESTIONS) == {}  # a rerun with another writer starts afresh
        assert {k: v for k, v in pool.meta().items() if not k.startswith("pd.")} == before


def test_settings_round_trip_through_yaml_and_bad_ones_are_named(tmp_path):
    import yaml

    from kd_core.distill.config import load_pd_config

    config = PDConfig(documents=["demo:documents"], chunk_tokens=128)
    config.eval.questions = "demo:test"
    path = tmp_path / "pd.yaml"
    path.write_text(yaml.safe_dump({"pd": config.to_dict()}))
    again = load_pd_config(path)
    assert again.to_dict() == config.to_dict()
    for body, message in [
        ({"questions": {"per_cal": 5}}, r"pd\.questions\.per_cal: unknown setting \(did you mean 'per_call'\?\)"),
        ({"chunk_tokens": "big"}, r"pd\.chunk_tokens: expected an integer, got str"),
        ({"train_pd": {"loss": "sft"}}, r"pd\.train_pd\.loss: prompt distillation trains with 'kd'"),
        ({"train_sft": {"lora": {"rank": 8}}}, r"pd\.train_sft\.lora\.rank: unknown setting \(known: r, alpha"),
        ({"eval": {"systems": ["rag", "oracle"]}}, r"pd\.eval\.systems: 'oracle' is not a system"),
    ]:
        path.write_text(yaml.safe_dump({"pd": body}))
        with pytest.raises(KDError, match=message):
            load_pd_config(path)
    partial = tmp_path / "partial.yaml"
    partial.write_text(yaml.safe_dump({"pd": {"train_pd": {"epochs": 1, "lora": {"r": 4}}}}))
    loaded = load_pd_config(partial)
    assert loaded.train_pd.epochs == 1 and loaded.train_pd.lora.r == 4 and loaded.train_pd.lora.alpha == 32  # the rest: defaults


def test_the_pipeline_trains_evaluates_every_system_and_resumes_without_redoing(tmp_path, tiny_llama_dir, lock_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    project = tmp_path / "proj"
    _project(project, lm)
    questions = tmp_path / "held-out.jsonl"
    questions.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in
                                 [("Which person founded Kell harbor?", "Ostra Vane"), ("Who captained the Marrow?", "Tobin Quell")]))
    config = PDConfig(model=str(tiny_llama_dir), chunk_tokens=48,
                      teacher=TeacherSettings(max_new_tokens=12, batch_size=4),
                      eval=EvalSettings(questions=str(questions), max_new_tokens=6, rag_k=1))
    config.train_pd = replace(config.train_pd, max_steps=2, batch_size=2, save_steps=1)
    config.train_sft = replace(config.train_sft, max_steps=2, batch_size=2, save_steps=1)
    # A run killed while appending leaves half a line: it is dropped and redone, not an error.
    kd_answers = answers_path(project, "kd")
    kept = kd_answers.read_text().splitlines()[:-1]
    kd_answers.write_text("".join(line + "\n" for line in kept) + '{"id": 3, "prompt": "Who was the cap')
    lines = []
    report = run_pd(config, project, ["answers", "train", "evaluate"], log=lines.append)
    assert set(report["results"]) == {"closed-book", "sft", "pd", "rag", "pd+rag"}
    assert re.search(r"jobs/pd-kd-[0-9a-f]{8}/adapter$", report["results"]["pd"]["model"])
    assert re.search(r"jobs/pd-sft-[0-9a-f]{8}/adapter$", report["results"]["sft"]["model"])
    assert report["train"]["pd"]["examples"] == 3 and report["train"]["pd"]["job"] in report["results"]["pd"]["model"]
    assert report["held_out"]["n"] == 2 and report["questions"] == 3
    assert (project / PD_DIR / "results.md").read_text().count("|") > 20
    retrieved = [json.loads(line) for line in (project / PD_DIR / "eval" / "rag" / "items.jsonl").read_text().splitlines()]
    assert [r["retrieved"] for r in retrieved] == [["kell#1"], ["kell#2"]]
    assert any("answers (kd" in m and "1 new" in m for m in lines)  # the torn line's question answered again
    assert [json.loads(line)["id"] for line in kd_answers.read_text().splitlines()] == [1, 2, 3]

    again: list[str] = []
    run_pd(config, project, ["answers", "train", "evaluate"], log=again.append)
    assert any("every question already answered" in m for m in again)
    assert sum("already completed" in m for m in again) == 2
    assert sum("(measured before)" in m for m in again) == 5

    # A curation change is new training data: new jobs, and only the trained systems measured again.
    with Pool(project) as pool:
        pool.reject(pool.ids()[0], who="test")
    changed: list[str] = []
    report = run_pd(config, project, ["train", "evaluate"], log=changed.append)
    assert sum(bool(re.match(r"train pd-(kd|sft)-[0-9a-f]{8}: (kd|sft), ", m)) for m in changed) == 2
    assert [m.split(":")[0] for m in changed if "(measured before)" in m] == ["evaluate closed-book", "evaluate rag"]
    assert report["questions"] == 2 and report["train"]["pd"]["examples"] == 2


def test_cli_pd_names_a_bad_document_and_exits_2(tmp_path):
    empty = tmp_path / "notes.txt"
    empty.write_text("")
    proc = subprocess.run([sys.executable, "-m", "kd_core.cli", "pd", "--project", str(tmp_path / "p"), "--docs", str(empty)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "notes.txt: the file is empty" in proc.stderr
    assert not (tmp_path / "p").exists()  # nothing was created for a rejected input


@pytest.mark.real_models
def test_the_demo_model_writes_named_questions_about_demo_chunks(tmp_path):
    from kd_core.demo import world as demo

    lm = load_model(ModelSpec("demo:smollm2-135m-instruct"))
    doc = demo.documents()[2]
    chunks = ingest(tmp_path, [Document(doc["id"], doc["text"])], lm.tokenizer, 96, 8192, 128, log=quiet)
    assert len(chunks) >= 3
    with Pool(tmp_path) as pool:  # one call per chunk, all in one batch
        stats = generate_questions(pool, lm, chunks, QuestionSettings(calls=1, temperature=1.0, max_new_tokens=120), log=quiet)
        rows = pool.query()
    assert stats["samples"] == len(chunks)
    assert len(rows) >= 3 and rows["source"].nunique() >= 2, list(rows["text"])
    assert all(q.endswith("?") for q in rows["text"])
    assert set(rows["source"]) <= {c.id for c in chunks}
