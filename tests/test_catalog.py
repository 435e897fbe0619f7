"""kd_core.project.catalog: what a project holds, listed by name for the pickers, read
from job and evaluation folders written the way the job API and the evaluation write them."""

from __future__ import annotations

import json

import pandas as pd

from kd_core.data.files import jsonl_text, write_atomic
from kd_core.evaluation.qa import EvalResult
from kd_core.models.loading import ModelSpec
from kd_core.project import Project, catalog
from kd_core.runtime.jobs import JobConfig, create_job, job_id_for
from kd_core.runtime.lifecycle import update_status
from kd_core.training.config import TrainConfig


def make_job(place: Project, data, arm: str, epochs: float, state: str = "completed", adapter: bool = True):
    spec, train = ModelSpec("demo:gemma3-270m"), TrainConfig(epochs=epochs)
    job_id = job_id_for(arm, data, spec, train)  # <arm>-<8 hex>, as recipes name their jobs
    folder = create_job(place, JobConfig(student=spec, data=str(data), train=train, name=f"demo: {arm}"), job_id)
    update_status(folder, state=state)
    if adapter:  # what the trainer leaves in a finished job's folder
        (folder / "adapter").mkdir()
        write_atomic(folder / "adapter" / "adapter_config.json", "{}")
    return folder


def record_evaluation(place: Project, name: str, adapter, questions: str, correct: list[bool]):
    items = pd.DataFrame([{"id": f"q{i}", "question": f"Question {i}?", "answer": "a", "gold": "a", "correct": c}
                          for i, c in enumerate(correct)])
    label = ModelSpec("demo:gemma3-270m", adapter=str(adapter) if adapter else None).label()
    summary = {"model": label, "n": len(correct), "correct": sum(correct), "accuracy": round(sum(correct) / len(correct), 4),
               "wall_s": 1.0, "max_new_tokens": 48, "compute": "fp32", "questions": questions}
    EvalResult(items, summary).save(place.evaluation(name))


def test_the_catalog_names_jobs_with_their_adapter_accuracy_and_picks_the_best_evaluated_one(tmp_path):
    place = Project.at(tmp_path / "p")
    data = tmp_path / "dataset.jsonl"
    data.write_text(jsonl_text([{"prompt": "Who founded Kell?", "response": "Ada Kell."}] * 3))
    low = make_job(place, data, "gemma3-270m", 1.0)
    high = make_job(place, data, "gemma3-270m-replay", 2.0)
    make_job(place, data, "gemma3-270m-failed", 3.0, state="failed", adapter=False)
    record_evaluation(place, "low-test", low / "adapter", "demo:test", [True, False, False, False])
    # Recorded where the job first ran (a copied project): matched by <job id>/adapter.
    record_evaluation(place, "high-test", f"/elsewhere/jobs/{high.name}/adapter", "demo:test", [True, True, True, False])
    record_evaluation(place, "high-control", high / "adapter", "demo:control", [True, True, True, True])
    record_evaluation(place, "teacher-test", None, "demo:test", [True, True, False, False])

    jobs = {j.arm: j for j in catalog.jobs(place)}
    assert set(jobs) == {"gemma3-270m", "gemma3-270m-replay", "gemma3-270m-failed"}
    assert jobs["gemma3-270m"].accuracy == 0.25 and jobs["gemma3-270m"].adapter == low / "adapter"
    # The control set is not held-out accuracy: the replay job's is its test evaluation's.
    assert (jobs["gemma3-270m-replay"].accuracy, jobs["gemma3-270m-replay"].evaluation) == (0.75, "high-test")
    assert jobs["gemma3-270m-failed"].adapter is None and jobs["gemma3-270m-failed"].accuracy is None
    assert jobs["gemma3-270m-replay"].student == "demo:gemma3-270m"
    label = jobs["gemma3-270m-replay"].label()
    assert label.startswith("gemma3-270m-replay · gemma3-270m · 20") and label.endswith("· 75.0%")

    best = catalog.best_job(place)
    assert best is not None and best.id == high.name

    evals = {e.name: e for e in catalog.evaluations(place)}
    assert evals["teacher-test"].adapter is None and evals["high-control"].control
    assert (evals["low-test"].n, evals["low-test"].correct) == (4, 1)


def test_a_project_without_evaluations_has_no_best_job_and_a_damaged_status_hides_only_its_job(tmp_path):
    place = Project.at(tmp_path / "p")
    data = tmp_path / "dataset.jsonl"
    data.write_text(jsonl_text([{"prompt": "Who founded Kell?", "response": "Ada Kell."}]))
    good = make_job(place, data, "a", 1.0)
    bad = make_job(place, data, "b", 2.0)
    (bad / "status.json").write_text("{not json")
    assert [j.id for j in catalog.jobs(place)] == [good.name]
    assert catalog.best_job(place) is None
    assert catalog.best_job(tmp_path / "empty") is None and catalog.jobs(tmp_path / "empty") == []


def test_datasets_seeds_question_sets_and_documents_are_listed_by_name(tmp_path):
    place = Project.at(tmp_path / "p")
    rows = jsonl_text([{"prompt": "p", "response": "r"}] * 2)
    for path in (place.exports_dir / "dataset.jsonl", place.arm_data("gemma3-270m") / "dataset.jsonl", place.pd_train_data("kd")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rows)
    place.seeds_dir.mkdir()
    (place.seeds_dir / "quiz.txt").write_text("Who founded Kell?\n")
    (place.root / "my-questions.jsonl").write_text(json.dumps({"question": "Who?", "answer": "Ada"}) + "\n")
    (place.root / "not-questions.jsonl").write_text(json.dumps({"prompt": "Who?"}) + "\n")
    place.documents_dir.mkdir()
    place.documents_file.write_text(json.dumps({"id": "d1", "title": "The isles", "text": "Kell lies north."}) + "\n")

    assert [i.label for i in catalog.datasets(place)] == [
        "curated export · dataset.jsonl · 2 rows", "arm gemma3-270m · dataset.jsonl · 2 rows",
        "prompt distillation (kd) · train-kd.jsonl · 2 rows"]
    assert [i.path for i in catalog.seed_files(place)] == [str(place.seeds_dir / "quiz.txt")]
    sets = [i.path for i in catalog.question_sets(place)]
    assert sets == ["demo:test", "demo:control", str(place.root / "my-questions.jsonl")]
    docs = catalog.documents(place)
    assert [d.label for d in docs] == ["The isles"]
    assert catalog.document_text(place, docs[0].path) == "Kell lies north."
