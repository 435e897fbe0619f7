"""Prompt distillation (methods.md section 2): a document's knowledge into a LoRA.

The recipe, stage by stage, every stage writing into the project folder and skipping
what an earlier run already wrote (kill it anywhere, run it again, it goes on):

1. ingest     documents -> ``documents/documents.jsonl`` and ``documents/chunks.jsonl``
              (kd_core.data.documents: paragraphs packed into chunks of `chunk_tokens`).
2. questions  a writer model (the model itself by default) reads each chunk and writes
              `per_call` self-contained questions per call, `calls` calls per chunk;
              they go into the project's prompt pool (``pool.sqlite``, source = the
              chunk id), so the curation of TuneShift-KD applies: reject a question
              and it is not trained on; edit it and it is answered again.
3. answers    the teacher (the model with the chunk in its prompt, laid out as
              ``{chunk}\\n\\n---\\n\\n{question}``) answers every live question twice:
              sampled as the method prescribes, for the KD student, and at a low
              temperature, for the SFT baseline (``pd/answers-kd.jsonl``,
              ``pd/answers-sft.jsonl``: ``prompt`` (the student's), ``teacher_prompt``,
              ``completion``); the train files ``pd/train-kd.jsonl`` and
              ``pd/train-sft.jsonl`` are in TRL's prompt-completion form, described by
              the dataset card ``pd/README.md``.
4. train      ``jobs/pd-kd-<digest>``: LoRA with the `kd` loss, the teacher being the
              student with its adapter disabled, reading the teacher prompt;
              ``jobs/pd-sft-<digest>``: cross-entropy on the low-temperature answers
              (kd_core.training.trainer); the digest is of the data and settings, so changed
              data trains anew and unchanged data finds its finished job.
5. evaluate   held-out questions, greedy: closed-book base model, SFT, PD, RAG (BM25
              top-k chunks in the base model's prompt) and PD + RAG
              (``pd/eval/<system>/``, ``pd/results.json``, ``pd/results.md``).

`run_pd(config, project)` runs them in order; the CLI is ``kd-studio pd``.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from kd_core.data.documents import Document
from kd_core.data.files import write_atomic
from kd_core.distill.config import MODES, PD_DIR, STAGES, WHAT, Log, PDConfig
from kd_core.distill.report import evaluate_stage, load_question_set, pd_report, results_markdown
from kd_core.distill.stages import (
    add_documents,
    answer_questions,
    generate_questions,
    load_chunks,
    resolve_documents,
    training_data,
)
from kd_core.errors import KDError
from kd_core.project import Project
from kd_core.runtime import runs

# ---------------------------------------------------------------------------
# The whole recipe


def run_pd(config: PDConfig, project: str | Path, stages: Sequence[str] = STAGES, log: Log = print) -> dict[str, Any]:
    """Run the prompt-distillation recipe's stages into `project` (see the module docstring).

    One run per project at a time (an OS lock on ``pd/run.lock``); ``pd/status.json``
    says which stage runs, and how the run ended, for the UI and `pd_status`."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise KDError(f"unknown stage '{unknown[0]}' (stages: {', '.join(STAGES)})")
    config.validate()
    project = Path(project).expanduser()
    config.model_spec()  # a bad model setting fails before anything is written
    docs = resolve_documents(config.documents) if "ingest" in stages and config.documents else None  # bad files fail before loading
    if "evaluate" in stages and config.eval.questions:
        load_question_set(config.eval.questions)
    with runs.recorded(project, PD_DIR, WHAT, stages=list(stages), stage=None):
        return _run_stages(config, project, docs, stages, log)


def _run_stages(config: PDConfig, project: Path, docs: list[Document] | None, stages: Sequence[str], log: Log) -> dict[str, Any]:
    from kd_core.models.loading import load_model
    from kd_core.runtime import jobs
    from kd_core.tuneshift.pool import Pool

    spec = config.model_spec()
    pd_dir = Project.at(project).pd_dir
    write_atomic(pd_dir / "config.yaml", __import__("yaml").safe_dump(config.to_dict(), sort_keys=False))
    lm = None

    def stage(name: str) -> None:
        runs.update(pd_dir, stage=name)

    def model():
        nonlocal lm
        if lm is None:
            lm = load_model(spec)
        return lm

    if "ingest" in stages:
        stage("ingest")
        if docs is None:
            if not load_chunks(project):
                raise KDError("documents: none given and none in the project (give --docs FILE ...)")
        else:
            t0 = time.perf_counter()
            add_documents(project, docs, config, log)
            runs.add_time(Project.at(project).pd_dir, "ingest", time.perf_counter() - t0)
    chunks = load_chunks(project)
    if not chunks and any(s in stages for s in ("questions", "answers", "train", "evaluate")):
        raise KDError(f"{project} holds no documents yet: run the ingest stage with --docs FILE ...")
    with Pool(project) as pool:
        if "questions" in stages:
            stage("questions")
            with runs.DeviceHold(pd_dir, spec.device, log):
                t0 = time.perf_counter()
                writer = model()
                if config.questions.writer:
                    from kd_core.models.loading import ModelSpec

                    writer = load_model(ModelSpec(config.questions.writer, device=spec.device, dtype=spec.dtype))
                generate_questions(pool, writer, chunks, config.questions, config.system, config.seed, log)
                runs.add_time(Project.at(project).pd_dir, "questions", time.perf_counter() - t0)
        if "answers" in stages:
            stage("answers")
            with runs.DeviceHold(pd_dir, spec.device, log):
                for mode in MODES:
                    t0 = time.perf_counter()
                    answer_questions(project, pool, model(), chunks, config.teacher, mode, config.system, config.seed, log)
                    runs.add_time(Project.at(project).pd_dir, f"answers-{mode}", time.perf_counter() - t0)
        adapters: dict[str, str] = {}
        job_ids: dict[str, str] = {}
        if "train" in stages:
            stage("train")  # each job takes the device lock itself
            lm = None  # training loads its own copy (a job may run in another process)
        for mode, train in (("kd", config.train_pd), ("sft", config.train_sft)):
            train = replace(train, system=config.system, seed=config.seed)
            if "train" in stages:
                data, _ = training_data(project, pool, chunks, mode)
            else:
                data = Project.at(project).pd_train_data(mode)
                if not data.exists():
                    continue
            job_id = jobs.job_id_for(f"pd-{mode}", data, spec, train)
            key = "pd" if mode == "kd" else "sft"
            if "train" in stages:
                t0 = time.perf_counter()
                jobs.train_to_completion(project, spec, data, train, job_id, f"prompt distillation: {job_id}", log)
                runs.add_time(Project.at(project).pd_dir, f"train-{mode}", time.perf_counter() - t0)
            adapter = jobs.jobs_dir(project) / job_id / "adapter"
            if (adapter / "adapter_config.json").exists():
                adapters[key], job_ids[key] = str(adapter), job_id
        results = {}
        if "evaluate" in stages:
            stage("evaluate")
            lm = None
            with runs.DeviceHold(pd_dir, spec.device, log):
                t0 = time.perf_counter()
                results = evaluate_stage(project, spec, chunks, config.eval, adapters, log)
                runs.add_time(Project.at(project).pd_dir, "evaluate", time.perf_counter() - t0)
            items = load_question_set(config.eval.questions)
            report = pd_report(project, pool, chunks, items, results, config, job_ids)
            write_atomic(Project.at(project).pd_dir / "results.json", json.dumps(report, indent=2))
            write_atomic(Project.at(project).pd_dir / "results.md", results_markdown(report))
            return report
    return {"stages": runs.stage_times(Project.at(project).pd_dir), "results": results}



# ---------------------------------------------------------------------------
# A run in its own process (the UI's buttons; the run protocol of kd_core.runtime.background)


def pd_args(project: str | Path, stages: Sequence[str]) -> list[str]:
    """The `kd-studio` arguments that run these stages of the project's saved config
    (pd/config.yaml), for people who would rather use a shell (the background run reads
    its run file instead: start_pd)."""
    from kd_core.distill.config import pd_config_path

    return ["pd", "--project", str(project), "--config", str(pd_config_path(project)), "--stages", ",".join(stages)]


def pd_command(project: str | Path, stages: Sequence[str]) -> str:
    """`pd_args` as one shell line to copy (``kd-studio pd ...``), each argument quoted
    (a project path with spaces or shell characters stays one harmless argument)."""
    import shlex

    return shlex.join(["kd-studio", *pd_args(project, stages)])


def start_pd(project: str | Path, config: PDConfig, stages: Sequence[str]) -> dict[str, Any]:
    """Save `config` into the project (pd/config.yaml) and run `stages` in a process of
    its own (kd_core.runtime.background: pd/run.yaml; its output goes to ``pd/process.log``);
    returns the run's status."""
    from kd_core.distill.config import save_pd_config
    from kd_core.runtime.background import start_run

    config.validate()
    project = Path(project).expanduser().resolve()
    runs.check_idle(project, PD_DIR, WHAT)  # before the config a run works from is overwritten
    save_pd_config(project, config)
    settings = {"config": config.to_dict(), "stages": list(stages)}
    return start_run(project, "pd", WHAT, settings, stages=list(stages), stage=None)


def pd_status(project: str | Path) -> dict[str, Any]:
    """The project's last prompt-distillation run: state (running, completed, failed,
    cancelled, or none), stage, error; a run whose process died is recorded as failed."""
    return runs.status(project, PD_DIR)


def stop_pd(project: str | Path, wait_s: float = 10.0) -> dict[str, Any]:
    """End a running stage (SIGTERM to its process group); what it committed stays, and
    running the stage again goes on from there."""
    return runs.stop(project, PD_DIR, wait_s)
