"""No code from a project's files: trust_remote_code and allow_pickle come only from the
command line of the process that loads a model, never from a pool's meta, a run.yaml, a
recipe or a job config. A crafted model folder (config.json with auto_map and a .py file
that writes a marker when imported) proves it: whatever the files claim, the marker never
appears, and the load fails with one clear line."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
import yaml

from kd_core.cli import build_parser, main
from kd_core.cli.common import grant_model_flags
from kd_core.errors import KDError, ModelLoadError
from kd_core.models import loading
from kd_core.models.loading import ModelSpec, grant, granted_flags, load_model
from kd_core.runtime import background, jobs
from kd_core.runtime.jobs import model_spec_from
from kd_core.tuneshift.expansion import META_SPECS, ExpansionConfig, expand_project, project_models
from kd_core.tuneshift.pool import Pool
from tests import tiny_models


@pytest.fixture(autouse=True)
def no_grant():
    """Every test starts, and leaves, with nothing granted (as a process without the flags)."""
    grant(False, False)
    yield
    grant(False, False)


@pytest.fixture
def rigged(tmp_path_factory) -> tuple[Path, Path]:
    """(a model folder whose config asks for its own code, the marker that code writes)."""
    root = tmp_path_factory.mktemp("rigged")
    model = tiny_models.build_llama(root / "model")
    marker = root / "REMOTE_CODE_RAN"
    (model / "rigged.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
                                     "raise ImportError('the rigged code ran')\n")
    config = json.loads((model / "config.json").read_text())
    config["model_type"] = "rigged"  # no local class: only the repository's code could load it
    config["auto_map"] = {"AutoConfig": "rigged.RiggedConfig", "AutoModelForCausalLM": "rigged.RiggedModel"}
    (model / "config.json").write_text(json.dumps(config))
    return model, marker


def test_a_spec_read_from_a_file_drops_trust_remote_code_and_allow_pickle_and_says_so(caplog):
    asked = {"name": "org/model", "trust_remote_code": True, "allow_pickle": True, "dtype": "float32"}
    with caplog.at_level(logging.WARNING, logger="kd_core.models.loading"):
        spec = model_spec_from(asked, "student")
    assert (spec.trust_remote_code, spec.allow_pickle, spec.dtype) == (False, False, "float32")
    assert "student: trust_remote_code: true and allow_pickle: true ignored" in caplog.text
    assert "--trust-remote-code" in caplog.text
    assert ModelSpec.from_file_dict({"name": "x"}) == ModelSpec("x")

    grant(trust_remote_code=True)  # the process's own command line said so
    spec = model_spec_from({"name": "org/model", "allow_pickle": True}, "student")
    assert (spec.trust_remote_code, spec.allow_pickle) == (True, False)


def test_a_pool_meta_claiming_trust_remote_code_never_runs_the_models_code(tmp_path, rigged, lock_dir):
    model, marker = rigged
    project = tmp_path / "project"
    project.mkdir()
    with Pool(project) as pool:
        pool.add_prompts(["What is a gap?", "Why distil?"], "seed")
    claimed = {"name": str(model), "trust_remote_code": True, "allow_pickle": True}
    with sqlite3.connect(project / "pool.sqlite") as db:  # what someone with the project's files could write
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                   (META_SPECS, json.dumps({"base": claimed, "finetuned": claimed})))

    with Pool(project, create=False) as pool:
        base, finetuned = project_models(pool)
    assert not (base.trust_remote_code or finetuned.trust_remote_code or base.allow_pickle)
    with pytest.raises(KDError, match="contains custom code"):  # resuming the expansion from the pool's specs
        expand_project(project, ExpansionConfig(rounds=1, per_round=1))
    assert not marker.exists()


def test_a_run_yaml_claiming_trust_remote_code_never_runs_the_models_code(tmp_path, rigged, lock_dir, capsys, caplog):
    model, marker = rigged
    project = tmp_path / "project"
    questions = tmp_path / "qa.jsonl"
    questions.write_text(json.dumps({"question": "2+2?", "answer": "4"}) + "\n")
    folder = project / "evaluate"
    folder.mkdir(parents=True)
    (folder / background.RUN_FILE).write_text(yaml.safe_dump({
        "kind": "evaluate", "project": str(project), "questions": str(questions), "name": "rigged",
        "model": {"name": str(model), "trust_remote_code": True}, "generation": {"max_new_tokens": 2}}))

    with caplog.at_level(logging.WARNING, logger="kd_core.models.loading"):
        assert main(["worker", str(folder)]) == 2
    assert "contains custom code" in capsys.readouterr().err
    assert "model: trust_remote_code: true ignored" in caplog.text  # the run's log says why
    assert not marker.exists()


def test_the_crafted_folder_does_run_its_code_when_the_command_line_grants_it(rigged):
    # The control: the rigged folder is a real threat, so the tests above prove something.
    model, marker = rigged
    with pytest.raises(Exception, match="rigged code ran"):
        load_model(ModelSpec(str(model), trust_remote_code=True))
    assert marker.exists()


def test_workers_and_jobs_get_the_flags_only_from_the_starting_process_command_line(tmp_path):
    folder = tmp_path / "p" / "expand"
    assert granted_flags() == [] and "--trust-remote-code" not in background.worker_command(folder)
    assert "--allow-pickle" not in jobs.launch_command(tmp_path / "job")

    grant_model_flags(build_parser().parse_args(["worker", str(folder), "--trust-remote-code"]))
    assert background.worker_command(folder)[-1] == "--trust-remote-code"
    assert jobs.launch_command(tmp_path / "job")[-1] == "--trust-remote-code"
    assert model_spec_from("org/model", "model").trust_remote_code  # the worker's own argv, for the run's specs

    main(["jobs", "list", "--project", str(tmp_path / "none")])  # any command without the flag takes the grant back
    assert loading.granted_flags() == []


def test_a_model_folder_with_pickle_weights_only_is_refused_even_when_a_file_allows_pickle(tmp_path, tiny_llama_dir):
    import shutil

    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_llama_dir, folder)
    weights = folder / "model.safetensors"
    torch.save(load_file(weights), folder / "pytorch_model.bin")
    weights.unlink()
    spec = model_spec_from({"name": str(folder), "allow_pickle": True}, "model")
    with pytest.raises(ModelLoadError, match="only pickle weights"):
        load_model(spec)
