"""Opening a project folder: a new one is created, an existing one says what it holds,
and a path that is no folder is named."""

import pytest

from kd_core.errors import KDError
from kd_core.project.summary import describe, open_project
from kd_core.tuneshift.pool import Pool


def test_a_new_folder_is_created_and_an_existing_one_is_counted(tmp_path):
    new = open_project(tmp_path / "a" / "b")
    assert new["created"] and (tmp_path / "a" / "b").is_dir() and describe(new).startswith("Created the project")
    with Pool(tmp_path / "a" / "b") as pool:
        pool.add_prompts(["Who founded Kell?"], source="seed")
    (tmp_path / "a" / "b" / "eval" / "x").mkdir(parents=True)
    (tmp_path / "a" / "b" / "eval" / "x" / "summary.json").write_text("{}")
    again = open_project(tmp_path / "a" / "b")
    assert not again["created"] and again["prompts"] == 1 and again["evaluations"] == 1 and again["jobs"] == 0
    assert "1 prompts in the pool" in describe(again) and "recipe report" not in describe(again)


def test_an_empty_path_a_file_or_a_missing_folder_without_create_is_named(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(KDError, match="Project folder: empty"):
        open_project("  ")
    with pytest.raises(KDError, match="f.txt is a file, not a folder"):
        open_project(tmp_path / "f.txt")
    with pytest.raises(KDError, match="does not exist"):
        open_project(tmp_path / "nope", create=False)
    assert not (tmp_path / "nope").exists()
