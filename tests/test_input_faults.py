"""Every input path fed bad data, counted: seed files (through the Expand tab's upload
path, into a project), question sets, documents, recipes, training configs, accounts
files, model and adapter paths.  Each input must be either read correctly (a BOM, many
scripts, duplicates) or rejected with a message naming the file and the line or field;
nothing crashes, and a rejected input changes nothing in the project.

After the module the table is printed (inputs tried / read / rejected clearly / crashed);
any crash fails its test; `pytest -s tests/test_input_faults.py` shows it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from kd_core.errors import KDError

OUTCOMES: list[tuple[str, str, str, str]] = []  # (path, input, outcome, message)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()} if folder.exists() else {}


def _try(path: str, name: str, run: Callable[[], object], expect: str, names: str | None = None,
         project: Path | None = None) -> str:
    """Run one input; record read / rejected / crashed; check the message names `names`
    and that a rejected input left `project` as it was."""
    before = _files(project) if project else None
    try:
        run()
        outcome, message = "read", ""
    except KDError as e:
        outcome, message = "rejected", str(e)
    except Exception as e:  # anything else is a crash: the suite's goal is none
        outcome, message = "crashed", f"{type(e).__name__}: {e}"
    OUTCOMES.append((path, name, outcome, message.splitlines()[0][:110] if message else ""))
    assert outcome == expect, f"{path} / {name}: expected {expect}, got {outcome}: {message}"
    if outcome == "rejected" and names:
        assert re.search(names, message), f"{path} / {name}: the message does not name {names!r}: {message}"
    if outcome == "rejected" and project is not None:
        assert _files(project) == before, f"{path} / {name}: a rejected input changed {project}"
    return message


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return p


# --- seed prompt files, through the Expand tab's upload path --------------------------

SEED_CASES = [
    # (name, file name, content, expected outcome, what the message must name)
    ("empty file", "seeds.txt", b"", "rejected", r"seeds\.txt: the file is empty"),
    ("binary file", "seeds.txt", bytes(range(256)) * 8, "rejected", r"seeds\.txt: the file is binary"),
    ("not UTF-8 (Latin-1)", "seeds.txt", "Wer gründete Kell?\nCafé?\n".encode("latin-1"), "rejected", r"seeds\.txt: line 1 is not valid UTF-8"),
    ("UTF-16", "seeds.txt", "Who founded Kell?\n".encode("utf-16"), "rejected", r"seeds\.txt: the file is UTF-16"),
    ("UTF-8 with a BOM", "seeds.txt", "\ufeffWho founded Kell?\nWho built the Brine?\n".encode(), "read", None),
    ("CSV without a prompt column", "seeds.csv", "name,value\na,1\nb,2\n", "rejected",
     r"seeds\.csv: no 'prompt' column in the header \(columns: 'name', 'value'\)"),
    ("CSV with ragged rows", "seeds.csv", "prompt,id\nWho founded Kell?,1\nWhere?,2,extra\n", "read", None),
    ("JSONL with one broken line", "seeds.jsonl", '{"prompt": "Who founded Kell?"}\n{"prompt": "Who bu\n{"prompt": "Where?"}\n', "read", None),
    ("JSONL with no usable line", "seeds.jsonl", '{"text": 1}\n[1, 2]\n', "rejected",
     r"seeds\.jsonl: no usable prompt \(2 bad rows; first at line 1"),
    ("JSON of one object without a prompt", "seeds.json", '{"a": 1}', "rejected",
     r"seeds\.json: no usable prompt \(1 bad rows; first at item 1: no 'prompt', 'messages', 'conversations' or 'instruction' field"),
    ("JSON cut short", "seeds.json", '["Who founded Kell?", "Wh', "rejected", r"seeds\.json: line 1: not valid JSON"),
    ("Parquet that is not Parquet", "seeds.parquet", b"PAR1 this is not parquet", "rejected",
     r"seeds\.parquet: (not a Parquet file|cannot read Parquet)"),
    ("a 100,000-character prompt", "seeds.txt", "Who founded Kell?\n" + "x" * 100_000 + "\n", "read", None),
    ("50,000 duplicate prompts", "seeds.txt", "Who founded Kell?\n" * 50_000, "read", None),
    ("CJK, RTL and emoji prompts", "seeds.txt", "誰がケルを創設した？\nمن أسس كيل؟\nWho founded Kell? 🏝️\nקל נוסדה מתי?\n", "read", None),
    ("a directory named like a file", "dir.txt", None, "rejected", r"dir\.txt is a directory"),
]


@pytest.mark.parametrize("name, filename, content, expect, names", SEED_CASES, ids=[c[0] for c in SEED_CASES])
def test_seed_files(tmp_path, name, filename, content, expect, names):
    from kd_core.data.prompt_files import read_prompts
    from ui import expand

    project = tmp_path / "project"
    project.mkdir()
    (project / "seeds").mkdir()
    (project / "seeds" / "earlier.txt").write_text("Kept?\n")
    upload_dir = tmp_path / "upload"
    upload_dir.mkdir()
    if content is None:
        (upload_dir / filename).mkdir()
        path = upload_dir / filename
    else:
        path = _write(upload_dir, filename, content)
    _try("seed file (Expand upload)", name, lambda: expand.stage_seeds(str(project), str(path), None, False), expect, names, project)
    if expect == "read":
        found = read_prompts(path)
        if name == "UTF-8 with a BOM":
            assert found.prompts[0] == "Who founded Kell?"
        if name == "CSV with ragged rows":
            assert found.prompts == ["Who founded Kell?"]
            assert str(found.problems[0]) == "line 3: 3 fields, expected 2 (quote a prompt that holds a comma)"
        if name == "JSONL with one broken line":
            assert found.prompts == ["Who founded Kell?", "Where?"] and str(found.problems[0]).startswith("line 2")
        if name == "a 100,000-character prompt":
            assert found.prompts == ["Who founded Kell?"] and "100,000 characters" in str(found.problems[0])
        if name == "50,000 duplicate prompts":
            assert found.prompts == ["Who founded Kell?"] and found.duplicates == 49_999
        if name == "CJK, RTL and emoji prompts":
            assert found.prompts[0] == "誰がケルを創設した？" and found.prompts[2].endswith("🏝️")


def test_a_200_mb_seed_file_is_refused_before_it_is_read(tmp_path):
    from kd_core.data.prompt_files import MAX_FILE_MB, read_prompts

    big = tmp_path / "big.txt"
    with open(big, "wb") as f:  # sparse: 200 MB without writing them
        f.truncate(200 * 1024 * 1024)
    _try("seed file (Expand upload)", "a 200 MB file", lambda: read_prompts(big), "rejected",
         rf"big\.txt: 200 MB is more than the {MAX_FILE_MB} MB a prompt file may hold")


# --- question sets, documents ---------------------------------------------------------

QUESTION_CASES = [
    ("a line without an answer", '{"question": "Who founded Kell?"}\n', r"qa\.jsonl, line 1: needs a 'question' and an 'answer'"),
    ("a broken line", '{"question": "Who founded Kell?", "answer": "Ostra"}\n{"question": \n', r"qa\.jsonl, line 2: not valid JSON"),
    ("empty file", "", r"qa\.jsonl"),
    ("binary file", bytes(range(256)).decode("latin-1"), r"qa\.jsonl"),
]


@pytest.mark.parametrize("name, content, names", QUESTION_CASES, ids=[c[0] for c in QUESTION_CASES])
def test_question_sets(tmp_path, name, content, names):
    from kd_core.evaluation.qa import question_set

    path = _write(tmp_path, "qa.jsonl", content)
    _try("question set (eval, recipes)", name, lambda: question_set(str(path)), "rejected", names)


DOCUMENT_CASES = [
    ("empty document", "notes.txt", b"", r"notes\.txt: the file is empty"),
    ("binary document", "notes.txt", bytes(range(256)) * 4, r"notes\.txt"),
    ("JSONL document without text", "docs.jsonl", b'{"id": "a"}\n', r"docs\.jsonl, line 1: expected an object with a 'text' field"),
    ("an unknown kind of file", "notes.pdf", b"%PDF-1.4", r"notes\.pdf"),
]


@pytest.mark.parametrize("name, filename, content, names", DOCUMENT_CASES, ids=[c[0] for c in DOCUMENT_CASES])
def test_documents(tmp_path, name, filename, content, names):
    from kd_core.data.documents import read_documents

    path = _write(tmp_path, filename, content)
    _try("document (Documents upload, pd --docs)", name, lambda: read_documents([path]), "rejected", names)


# --- recipes, training configs, accounts ------------------------------------------------

RECIPE_CASES = [
    ("an unknown key", "tuneshift:\n  rounds: 3\n", r"recipe\.yaml: tuneshift\.rounds: unknown setting"),
    ("a wrong type", "tuneshift:\n  expand: {rounds: three}\n", r"recipe\.yaml: tuneshift\.expand\.rounds: expected an integer, got str 'three'"),
    ("not YAML", "tuneshift:\n\t- a: [\n", r"recipe\.yaml"),
    ("a list, not a mapping", "- 1\n- 2\n", r"recipe\.yaml"),
    ("a prompt-distillation key mistyped", "pd:\n  chunk_token: 12\n",
     r"recipe\.yaml: pd\.chunk_token: unknown setting \(did you mean 'chunk_tokens'\?\)"),
]


@pytest.mark.parametrize("name, content, names", RECIPE_CASES, ids=[c[0] for c in RECIPE_CASES])
def test_recipes(tmp_path, name, content, names):
    from kd_core.tuneshift.recipe_config import load_recipe

    path = _write(tmp_path, "recipe.yaml", content)
    _try("recipe YAML (kd-studio run)", name, lambda: load_recipe(path), "rejected", names)


JOB_CASES = [
    ("an unknown key", "student: demo:gemma3-270m\ndata: d.jsonl\nepochs: 3\n", r"job\.yaml: epochs: unknown setting"),
    ("a wrong type", "student: demo:gemma3-270m\ndata: d.jsonl\ntrain: {learning_rate: fast}\n", r"job\.yaml: train\.learning_rate"),
    ("no data", "student: demo:gemma3-270m\n", r"job\.yaml: data: missing"),
]


@pytest.mark.parametrize("name, content, names", JOB_CASES, ids=[c[0] for c in JOB_CASES])
def test_training_configs(tmp_path, name, content, names):
    from kd_core.runtime.jobs import load_job_config

    (tmp_path / "d.jsonl").write_text('{"prompt": "a", "response": "b"}\n')
    path = _write(tmp_path, "job.yaml", content)
    _try("training config (kd-studio train, Train tab)", name, lambda: load_job_config(path), "rejected", names)


def test_accounts_files(tmp_path):
    from kd_core.access.accounts import add_user, read_accounts

    good = tmp_path / "good.txt"
    add_user(good, "ana", "a-long-password", "admin")
    loose = _write(tmp_path, "open.txt", good.read_text())
    os.chmod(loose, 0o644)
    _try("accounts file (serve --auth-file)", "readable by others", lambda: read_accounts(loose), "rejected", r"open\.txt")
    bad = _write(tmp_path, "bad.txt", good.read_text() + "no colon here\n")
    os.chmod(bad, 0o600)
    _try("accounts file (serve --auth-file)", "a line of one field", lambda: read_accounts(bad), "rejected",
         r"bad\.txt, line 4: expected user:role:projects:hash")
    plain = _write(tmp_path, "plain.txt", "ana:a-long-password\n")
    os.chmod(plain, 0o600)
    message = _try("accounts file (serve --auth-file)", "a plain-text password (old format)", lambda: read_accounts(plain),
                   "rejected", r"plain\.txt, line 1: account 'ana' has a plain-text password .*kd-studio users add ana")
    assert "a-long-password" not in message  # never the password


# --- model and adapter paths -------------------------------------------------------------


def test_model_paths(tmp_path, tiny_llama_dir, other_llama_dir, tiny_llama_adapter):
    from kd_core.models.loading import ModelSpec, load_model

    text = _write(tmp_path, "notes.txt", "not a model")
    fake_gguf = _write(tmp_path, "model.gguf", b"GGUF" + bytes(64))
    cases = [
        ("a path that does not exist", ModelSpec(str(tmp_path / "missing")), r"missing"),
        ("a text file", ModelSpec(str(text)), r"notes\.txt"),
        ("a folder that is no model", ModelSpec(str(tmp_path)), str(tmp_path)),
        ("a damaged GGUF file", ModelSpec(str(fake_gguf)), r"model\.gguf"),
        ("an adapter for another base", ModelSpec(str(other_llama_dir), adapter=str(tiny_llama_adapter)), r"adapter"),
        ("an unknown demo name", ModelSpec("demo:gpt-9"), r"demo:gpt-9"),
    ]
    for name, spec, names in cases:
        _try("model path (every --base/--finetuned/--target, Models tab)", name, lambda: load_model(spec), "rejected", names)


# --- the table -----------------------------------------------------------------------------


def fault_table(outcomes: list[tuple[str, str, str, str]]) -> tuple[list[str], pd.Series]:
    """The counted table's Markdown lines (one row per input path, then all) and its totals."""
    df = pd.DataFrame(outcomes, columns=["path", "input", "outcome", "message"])
    table = df.groupby("path", sort=False)["outcome"].value_counts().unstack(fill_value=0)
    for col in ("read", "rejected", "crashed"):
        if col not in table:
            table[col] = 0
    table["tried"] = table[["read", "rejected", "crashed"]].sum(axis=1)
    table = table[["tried", "read", "rejected", "crashed"]]
    total = table.sum()
    lines = ["| input path | tried | read correctly | rejected clearly | crashed |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {p} | {r.tried} | {r.read} | {r.rejected} | {r.crashed} |" for p, r in table.iterrows()]
    lines.append(f"| **all** | {total.tried} | {total.read} | {total.rejected} | {total.crashed} |")
    return lines, total


@pytest.fixture(scope="module", autouse=True)
def _the_table_after_the_module():
    """Once the module's tests have run (all, or those -k chose): print the counted table and,
    with KD_STUDIO_FAULT_TABLE=FILE, write it with every input's message.  A crash fails
    its own test (_try expects read or rejected), so no test depends on this one."""
    yield
    if not OUTCOMES:
        return
    lines, _ = fault_table(OUTCOMES)
    print("\n" + "\n".join(lines))
    out = os.environ.get("KD_STUDIO_FAULT_TABLE")
    if out:
        df = pd.DataFrame(OUTCOMES, columns=["path", "input", "outcome", "message"])
        rows = [f"| {r.path} | {r.input} | {r.outcome} | {r.message.replace('|', '/')} |" for r in df.itertuples()]
        Path(out).write_text("\n".join([*lines, "", "| path | input | outcome | message |", "| --- | --- | --- | --- |", *rows]) + "\n")


def test_the_table_counts_each_input_path_by_outcome():
    lines, total = fault_table([("seed file", "a", "read", ""), ("seed file", "b", "rejected", "b: bad"),
                                ("recipe", "c", "crashed", "KeyError: x"), ("seed file", "d", "rejected", "d: bad")])
    assert lines[2:] == ["| seed file | 3 | 1 | 2 | 0 |", "| recipe | 1 | 0 | 0 | 1 |", "| **all** | 4 | 1 | 2 | 1 |"]
    assert (total.tried, total.crashed) == (4, 1)
