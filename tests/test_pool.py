"""The project's prompt pool: adding with dedup, results, filters, curation with undo,
exports with a data card, and what happens to the file when things go wrong (killed
writers, two processes at once, read-only folders, files that are not pools)."""

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from kd_core.errors import KDError
from kd_core.project import POOL_FILE
from kd_core.tuneshift.pool import APPLICATION_ID, SCHEMA_VERSION, Pool, PoolFilter, Results
from kd_core.tuneshift.pool_export import export_dataset

REPO = Path(__file__).resolve().parent.parent

SEEDS = [
    "Who founded Brindlecove?",
    "What is the main export of Brindlecove?",
    "Which river runs through Marrowick?",
    "Who built the lighthouse of Brindlecove?",
]


@pytest.fixture
def pool(tmp_path):
    with Pool(tmp_path) as p:
        yield p


def seeded(pool: Pool) -> list[int]:
    return pool.add_prompts(SEEDS, "seed").added


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_script(code: str, *args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


# ---------------------------------------------------------------------------
# The file


def test_new_pool_is_one_sqlite_file_in_wal_mode_with_a_schema_version(tmp_path):
    Pool(tmp_path).close()
    path = tmp_path / POOL_FILE
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"prompts", "decisions", "meta"} <= tables
    conn.close()
    with Pool(tmp_path, create=False) as again:  # reopens what it made
        assert again._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_missing_folder_or_pool_is_a_clear_error(tmp_path):
    with pytest.raises(KDError, match=f"project folder not found: {tmp_path / 'nope'}"):
        Pool(tmp_path / "nope")
    with pytest.raises(KDError, match=f"no prompt pool in {tmp_path}"):
        Pool(tmp_path, create=False)
    assert not (tmp_path / POOL_FILE).exists()  # looking does not create


def test_garbage_file_named_pool_sqlite_is_refused_untouched(tmp_path):
    path = tmp_path / POOL_FILE
    path.write_bytes(b"these are my notes, not a database\n" * 50)
    before = sha(path)
    with pytest.raises(KDError, match=rf"{path} is not a KD Studio pool \(not an SQLite database\)"):
        Pool(tmp_path)
    assert sha(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [POOL_FILE]  # no journal files left either


def test_another_programs_sqlite_database_is_refused_untouched(tmp_path):
    path = tmp_path / POOL_FILE
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    before = sha(path)
    with pytest.raises(KDError, match="an SQLite database of another program"):
        Pool(tmp_path)
    assert sha(path) == before


def test_pool_from_a_newer_version_is_refused(tmp_path):
    Pool(tmp_path).close()
    conn = sqlite3.connect(tmp_path / POOL_FILE)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(KDError, match="made by a newer KD Studio"):
        Pool(tmp_path)


def test_damaged_pool_file_is_a_clear_error(tmp_path):
    with Pool(tmp_path) as p:
        p.add_prompts([f"Question number {i} about Brindlecove?" for i in range(500)], "seed")
    path = tmp_path / POOL_FILE
    data = bytearray(path.read_bytes())
    data[4096:12288] = b"\xff" * 8192  # overwrite pages after the header
    path.write_bytes(bytes(data))
    with pytest.raises(KDError, match="damaged or not a KD Studio pool"):
        with Pool(tmp_path) as p:
            p.query()
            p.add_prompts(["one more"], "seed")


def _as_unprivileged(fn) -> str:
    """Run fn as a user without root's power to ignore permissions; its KDError message
    ('' when none).  Root forks and drops to 'nobody' (no exec: the interpreter may sit
    in root's home)."""
    if os.geteuid() != 0:
        try:
            fn()
        except KDError as e:
            return str(e)
        return ""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        message = b""
        try:
            os.setgid(65534)
            os.setuid(65534)
            fn()
        except KDError as e:
            message = str(e).encode()
        except BaseException as e:  # anything else is a failure the parent must see
            message = f"UNEXPECTED {type(e).__name__}: {e}".encode()
        os.write(write, message)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        out = f.read().decode()
    os.waitpid(pid, 0)
    return out


@pytest.fixture
def shared_dir():
    """A folder other users can reach (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="kd-pool-"))
    d.chmod(0o755)
    yield d
    for p in [d, *d.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(d)


def test_read_only_project_folder_is_a_clear_error_and_nothing_changes(shared_dir):
    project = shared_dir / "project"
    project.mkdir()
    with Pool(project) as p:
        seeded(p)
    (project / POOL_FILE).chmod(0o644)
    before = {f.name: sha(f) for f in project.iterdir()}
    project.chmod(0o555)
    message = _as_unprivileged(lambda: Pool(project).add_prompts(["Who named Brindlecove?"], "seed"))
    assert message == f"project folder is read-only: {project} (the pool needs to write {POOL_FILE} and its journal there)"
    project.chmod(0o755)
    assert {f.name: sha(f) for f in project.iterdir()} == before


def test_read_only_pool_file_is_a_clear_error(shared_dir):
    project = shared_dir / "project"
    project.mkdir()
    Pool(project).close()
    project.chmod(0o777)
    (project / POOL_FILE).chmod(0o444)
    message = _as_unprivileged(lambda: Pool(project))
    assert message == f"the pool file is read-only: {project / POOL_FILE}"


# ---------------------------------------------------------------------------
# Adding prompts


def test_add_prompts_records_where_they_came_from(pool):
    ids = seeded(pool)
    assert ids == [1, 2, 3, 4]
    r = pool.add_prompts(["  Who sailed from Brindlecove in the storm?  "], "gen:self-query", round=2, parent_ids=[1, 3])
    row = pool.get(r.added[0])
    assert (row.text, row.original_text, row.source, row.round, row.parent_ids, row.state) == (
        "Who sailed from Brindlecove in the storm?", "Who sailed from Brindlecove in the storm?", "gen:self-query", 2, [1, 3], "pending",
    )
    assert row.response is None and row.gap is None and not row.edited
    per_text = pool.add_prompts(["Who mapped Marrowick?", "Who taxed the salt of Marrowick?"], "gen", 3, parent_ids=[[1], [2, 4]])
    assert [pool.get(i).parent_ids for i in per_text.added] == [[1], [2, 4]]


def test_add_prompts_skips_exact_and_near_duplicates_of_the_pool_and_the_batch(pool):
    seeded(pool)
    r = pool.add_prompts(
        [
            "who founded brindlecove ?",  # exact of 1
            "Who founded the town of Brindlecove?",  # new
            "What is the main export of Brindlecove today?",  # near of 2
            "In what year was Marrowick founded?",  # new
            "What year was Marrowick founded?",  # near of the one before, same call
            "   ",  # empty
        ],
        "gen",
        round=1,
    )
    assert len(r.added) == 2
    assert [(d.text, d.of_id, d.similarity) for d in r.exact_dups] == [("who founded brindlecove ?", 1, 1.0)]
    assert [(d.text, d.of_id) for d in r.near_dups] == [
        ("What is the main export of Brindlecove today?", 2), ("What year was Marrowick founded?", r.added[1]),
    ]
    assert all(0.8 <= d.similarity < 1 for d in r.near_dups)
    assert r.empty == 1
    assert r.summary() == "2 added, 1 exact duplicates, 2 near duplicates, 1 empty"
    assert pool.count() == 6


def test_rejected_prompts_stay_dedup_keys(pool):
    ids = seeded(pool)
    pool.reject(ids[0], "ann")
    r = pool.add_prompts(["Who founded Brindlecove?", "So who founded Brindlecove?"], "gen", round=1)
    assert r.added == [] and [d.of_id for d in r.exact_dups + r.near_dups] == [ids[0], ids[0]]


def test_dedup_sees_what_other_pool_handles_add_and_edit(tmp_path):
    with Pool(tmp_path) as a, Pool(tmp_path) as b:
        seeded(a)
        assert b.add_prompts(["WHO FOUNDED BRINDLECOVE"], "gen").exact_dups[0].of_id == 1  # b's index catches up
        a.edit(1, "Who founded the old town of Brindlecove?", "ann")
        r = b.add_prompts(["Who founded Brindlecove?", "who founded the old town of brindlecove"], "gen")
        assert r.added == [] and [d.of_id for d in r.exact_dups] == [1, 1]  # the text before the edit stays a key


def test_bad_input_is_refused_before_anything_is_written(pool):
    seeded(pool)
    with pytest.raises(KDError, match="prompt 2 is int, not text"):
        pool.add_prompts(["A fine new question?", 42], "gen")
    with pytest.raises(KDError, match="source must be a non-empty name"):
        pool.add_prompts(["A fine new question?"], " ")
    with pytest.raises(KDError, match="round must be a whole number"):
        pool.add_prompts(["A fine new question?"], "gen", round=-1)
    with pytest.raises(KDError, match="parent_ids has 1 lists for 2 prompts"):
        pool.add_prompts(["A fine new question?", "And another?"], "gen", parent_ids=[[1]])
    assert pool.count() == 4


# ---------------------------------------------------------------------------
# Results


def test_set_results_stores_answer_scores_gap_and_label(pool):
    ids = seeded(pool)
    scores = {"ll_ft": -0.4, "ll_base": -1.9, "ppl_ft": 1.49, "ppl_base": 6.69, "n_tokens": 7, "odd": float("nan")}
    numpy_scores = {**scores, "ll_ft": np.float64(-0.4), "n_tokens": np.int64(7), "odd": np.float32("nan")}  # as scoring makes them
    assert pool.set_results(ids[0], "Aldric Venn, in 1702.", numpy_scores, gap=np.float64(1.5), gap_metric="logratio", auto_label="above")
    row = pool.get(ids[0])
    assert (row.response, row.gap, row.gap_metric, row.auto_label) == ("Aldric Venn, in 1702.", 1.5, "logratio", "above")
    assert row.scores == {**scores, "odd": None}  # NaN is stored as null: valid JSON
    assert row.state == "pending"  # results are not a decision


def test_set_results_many_is_one_transaction_and_skips_stale_prompts(pool):
    ids = seeded(pool)
    pool.edit(ids[1], "What is the chief export of Brindlecove?", "ann")
    done = pool.set_results_many([
        Results(ids[0], "Aldric Venn.", gap=0.9, gap_metric="diff", auto_label="below", prompt_text=SEEDS[0]),
        Results(ids[1], "Salt.", gap=2.0, prompt_text=SEEDS[1]),  # answered the text before the edit
    ])
    assert (done.written, done.stale) == ([ids[0]], [ids[1]])
    assert pool.get(ids[1]).response is None
    with pytest.raises(KDError, match="no prompt with id 999"):
        pool.set_results_many([Results(ids[2], "Lonely river."), Results(999, "nothing")])
    assert pool.get(ids[2]).response is None  # rolled back with the failing item
    with pytest.raises(KDError, match="auto_label must be"):
        pool.set_results(ids[2], "x", auto_label="maybe")


def test_pending_for_scoring_lists_prompts_without_a_response(pool):
    ids = seeded(pool)
    pool.set_results(ids[0], "Aldric Venn.")
    pool.reject(ids[1], "ann")
    assert pool.pending_for_scoring()["id"].tolist() == [ids[2], ids[3]]
    assert pool.pending_for_scoring(include_rejected=True)["id"].tolist() == ids[1:]
    pool.edit(ids[0], "Who first founded Brindlecove?", "ann")  # its answer was to the old text
    assert pool.pending_for_scoring()["id"].tolist() == [ids[0], ids[2], ids[3]]


# ---------------------------------------------------------------------------
# Reading


def _scored_pool(pool: Pool) -> list[int]:
    ids = pool.add_prompts(SEEDS, "seed").added
    ids += pool.add_prompts(["Why is Brindlecove's salt grey?", "Where does the Marrow river end?"], "gen", round=1).added
    for i, gap in zip(ids, [2.0, 0.1, None, 1.2, 0.7, -0.3]):
        if gap is not None:
            pool.set_results(i, f"answer {i}", gap=gap, gap_metric="logratio", auto_label="above" if gap > 0.5 else "below")
    return ids


def test_query_filters_by_state_gap_round_source_text_and_label(pool):
    ids = _scored_pool(pool)
    pool.accept(ids[0], "ann")
    pool.reject(ids[1], "ann")
    q = lambda **kw: pool.query(PoolFilter(**kw))["id"].tolist()  # noqa: E731
    assert q() == ids
    assert q(states="accepted") == [ids[0]]
    assert q(states=["accepted", "rejected"]) == ids[:2]
    assert q(min_gap=0.5) == [ids[0], ids[3], ids[4]]
    assert q(min_gap=0.0, max_gap=1.0) == [ids[1], ids[4]]  # no gap: left out by a bound
    assert q(rounds=1) == ids[4:]
    assert q(sources=["seed"], rounds=[0, 1]) == ids[:4]
    assert q(search="BRINDLECOVE") == [ids[0], ids[1], ids[3], ids[4]]
    assert q(search="marrow") == [ids[2], ids[5]]
    assert q(auto_label="below") == [ids[1], ids[5]]
    assert q(auto_label="none") == [ids[2]]
    assert q(has_response=False) == [ids[2]]
    assert q(ids=[ids[5], ids[0]], states="accepted") == [ids[0]]
    assert pool.query(order="-gap")["id"].tolist() == [ids[0], ids[3], ids[4], ids[1], ids[5], ids[2]]
    assert pool.query(limit=2, offset=1)["id"].tolist() == ids[1:3]
    with pytest.raises(KDError, match="unknown state 'done'"):
        q(states="done")


def test_query_returns_every_column_also_when_empty(pool):
    empty = pool.query()
    assert list(empty.columns)[:3] == ["id", "text", "original_text"] and "edited" in empty.columns and len(empty) == 0
    _scored_pool(pool)
    df = pool.query(PoolFilter(ids=[1]))
    assert df.loc[0, "scores"] is None and df.loc[0, "parent_ids"] == [] and df.loc[0, "gap"] == 2.0


def test_search_is_case_insensitive_beyond_ascii(pool):
    pool.add_prompts(["Was kostet ein STRASSENBAHN-Ticket in Ölberg?", "Who rules Émeraude?"], "seed")
    assert pool.query(PoolFilter(search="ölberg"))["id"].tolist() == [1]
    assert pool.query(PoolFilter(search="émeraude"))["id"].tolist() == [2]


def test_counts_by_state_round_source_and_label(pool):
    ids = _scored_pool(pool)
    pool.accept(ids[0], "ann")
    pool.reject(ids[4], "ann")
    c = pool.counts()
    assert c.total == 6 and c.scored == 5
    assert c.by_state == {"pending": 4, "accepted": 1, "rejected": 1, "edited": 0}
    assert c.by_round[0] == {"pending": 3, "accepted": 1, "rejected": 0, "edited": 0, "total": 4}
    assert c.by_round[1]["rejected"] == 1 and c.by_source["gen"]["total"] == 2
    assert c.by_label == {"above": 3, "below": 2, "none": 1}


def test_meta_holds_project_settings(pool):
    pool.set_meta("models", {"base": "demo:base", "finetuned": "demo:finetuned"})
    pool.update_meta({"thresholds": {"gap_metric": "logratio", "tau": 0.5}})
    assert pool.get_meta("models")["base"] == "demo:base"
    assert set(pool.meta()) == {"models", "thresholds", "dedup"}  # the dedup setting in use is recorded
    assert pool.get_meta("missing", 7) == 7


# ---------------------------------------------------------------------------
# Curation


def test_accept_and_reject_are_logged_and_repeating_one_changes_nothing(pool):
    ids = seeded(pool)
    assert pool.accept(ids[0], "ann") is True
    assert pool.accept(ids[0], "ann") is False
    assert pool.reject(ids[1], "bob") is True
    assert pool.set_state(ids[0], "pending", "ann") is True
    log = pool.decisions()
    assert log[["action", "prompt_id", "old_state", "new_state", "who"]].values.tolist() == [
        ["accept", ids[0], "pending", "accepted", "ann"],
        ["reject", ids[1], "pending", "rejected", "bob"],
        ["pending", ids[0], "accepted", "pending", "ann"],
    ]
    assert log["batch"].tolist() == [1, 2, 3]
    with pytest.raises(KDError, match="not 'edited'"):
        pool.set_state(ids[0], "edited", "ann")
    with pytest.raises(KDError, match="no prompt with id 99"):
        pool.accept(99, "ann")
    with pytest.raises(KDError, match="needs the name of who"):
        pool.accept(ids[0], "")


def test_edit_keeps_the_original_beside_the_new_text(pool):
    ids = seeded(pool)
    pool.set_results(ids[0], "Aldric Venn.", {"n_tokens": 4}, gap=1.1, gap_metric="logratio", auto_label="above")
    assert pool.edit(ids[0], "Who founded the harbour town of Brindlecove?", "ann")
    row = pool.get(ids[0])
    assert (row.text, row.original_text, row.state, row.edited) == (
        "Who founded the harbour town of Brindlecove?", SEEDS[0], "edited", True,
    )
    assert (row.response, row.scores, row.gap, row.auto_label) == (None, None, None, None)  # they answered the old text
    assert pool.query(PoolFilter(states="edited"))["original_text"].tolist() == [SEEDS[0]]
    assert pool.edit(ids[0], "Who founded the harbour town of Brindlecove?", "ann") is False  # unchanged
    assert pool.accept(ids[0], "ann") is False  # already in, with its edit
    # The dedup key follows the text: the new text is taken, and so is the old one.
    r = pool.add_prompts(["who founded the harbour town of brindlecove", SEEDS[0]], "gen")
    assert [d.of_id for d in r.exact_dups] == [ids[0], ids[0]]


def test_edit_may_not_duplicate_another_prompt(pool):
    ids = seeded(pool)
    before = pool.get(ids[1])
    with pytest.raises(KDError, match=f"is the same as prompt {ids[0]}"):
        pool.edit(ids[1], "who founded Brindlecove", "ann")
    with pytest.raises(KDError, match=rf"nearly duplicates \(0\.\d\d similar\) prompt {ids[0]}"):
        pool.edit(ids[1], "So who founded Brindlecove?", "ann")
    with pytest.raises(KDError, match="the edited prompt is empty"):
        pool.edit(ids[1], "  ", "ann")
    assert pool.get(ids[1]) == before and pool.decisions().empty
    assert pool.edit(ids[1], "What is the MAIN export of Brindlecove?", "ann")  # only its own text is near


def test_bulk_set_state_changes_every_matching_row_whatever_its_state(pool):
    ids = _scored_pool(pool)  # gaps 2.0, 0.1, None, 1.2, 0.7, -0.3
    pool.reject(ids[3], "ann")
    assert pool.bulk_set_state(PoolFilter(min_gap=0.5), "accepted", "bob") == 3
    assert pool.query(PoolFilter(states="accepted"))["id"].tolist() == [ids[0], ids[3], ids[4]]
    assert pool.bulk_set_state(PoolFilter(states="accepted"), "rejected", "bob") == 3
    assert pool.count(PoolFilter(states="rejected")) == 3


def test_bulk_accept_of_a_filter(pool):
    ids = _scored_pool(pool)
    pool.edit(ids[3], "Who built the old lighthouse of Brindlecove?", "ann")
    n = pool.bulk_set_state(PoolFilter(search="brindlecove"), "accepted", "bob")
    # ids 0, 1, 4 change; ids[3] is 'edited', already accepted with its edit.
    assert n == 3
    assert pool.query(PoolFilter(states="accepted"))["id"].tolist() == [ids[0], ids[1], ids[4]]
    bulk = pool.decisions().query("action == 'bulk'")
    assert bulk["batch"].nunique() == 1 and sorted(bulk["prompt_id"]) == [ids[0], ids[1], ids[4]]
    assert pool.bulk_set_state(PoolFilter(search="brindlecove"), "accepted", "bob") == 0
    with pytest.raises(KDError):
        pool.bulk_set_state(None, "edited", "bob")


def test_undo_is_per_user_and_never_overwrites_a_later_decision_of_someone_else(pool):
    ids = seeded(pool)
    pool.accept(ids[0], "ann")
    pool.reject(ids[1], "bob")
    pool.reject(ids[2], "ann")
    assert pool.undo("bob").summary() == "undid reject by bob on 1 prompt"  # bob's own, not ann's later one
    assert [pool.get(i).state for i in ids[:3]] == ["accepted", "pending", "rejected"]
    assert pool.undo("bob") is None  # nothing more of bob's
    pool.reject(ids[0], "bob")  # bob overrides ann's accept
    assert pool.undo("ann").prompt_ids == [ids[2]]
    with pytest.raises(KDError, match=f"cannot undo accept of prompt {ids[0]}: bob changed it since"):
        pool.undo("ann")
    assert pool.get(ids[0]).state == "rejected"  # bob's decision stands


def test_undo_walks_back_single_decisions_one_at_a_time(pool):
    ids = seeded(pool)
    pool.accept(ids[0], "ann")
    pool.reject(ids[0], "bob")
    pool.reject(ids[1], "ann")
    assert pool.undo("ann", only_own=False).summary() == "undid reject by ann on 1 prompt"
    assert pool.get(ids[1]).state == "pending"
    u = pool.undo("ann", only_own=False)  # anyone's latest (an admin's undo from the shell)
    assert (u.action, u.prompt_ids, u.who) == ("reject", [ids[0]], "bob")
    assert pool.get(ids[0]).state == "accepted"
    assert pool.undo("ann", only_own=False).action == "accept"
    assert pool.get(ids[0]).state == "pending"
    assert pool.undo("ann", only_own=False) is None
    undos = pool.decisions().query("action == 'undo'")
    assert undos["undoes"].tolist() == [3, 2, 1] and set(undos["who"]) == {"ann"}  # undos are logged too


def test_undo_reverts_a_bulk_decision_as_a_whole(pool):
    ids = _scored_pool(pool)
    pool.reject(ids[5], "ann")
    pool.bulk_set_state(PoolFilter(states="pending"), "accepted", "bob")
    assert pool.count(PoolFilter(states="accepted")) == 5
    u = pool.undo("bob")
    assert (u.action, u.prompt_ids) == ("bulk", ids[:5])
    assert pool.count(PoolFilter(states="pending")) == 5 and pool.get(ids[5]).state == "rejected"
    pool.accept(ids[0], "ann")  # a new decision after an undo is undone first
    assert pool.undo("ann").action == "accept"
    assert pool.undo("ann").action == "reject"  # the undone bulk is skipped, not redone
    assert pool.count(PoolFilter(states="pending")) == 6


def test_undo_of_an_edit_restores_text_and_results(pool):
    ids = seeded(pool)
    pool.set_results(ids[0], "Aldric Venn.", {"n_tokens": 4}, gap=1.1, gap_metric="logratio", auto_label="above")
    pool.accept(ids[0], "ann")
    pool.edit(ids[0], "Who founded the harbour town of Brindlecove?", "ann")
    pool.set_results(ids[0], "Aldric Venn, a salt merchant.", gap=1.4, gap_metric="logratio", auto_label="above")
    assert pool.undo("ann").action == "edit"
    row = pool.get(ids[0])
    assert (row.text, row.state, row.response, row.scores, row.gap) == (SEEDS[0], "accepted", "Aldric Venn.", {"n_tokens": 4}, 1.1)
    # The edited text was in the pool once, and stays a dedup key.
    assert pool.add_prompts(["Who founded the harbour town of Brindlecove?"], "gen").exact_dups[0].of_id == ids[0]


def test_decision_log_is_append_only(tmp_path):
    with Pool(tmp_path) as p:
        seeded(p)
        p.accept(1, "ann")
    conn = sqlite3.connect(tmp_path / POOL_FILE)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE decisions SET who = 'mallory'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM decisions")
    conn.close()


# ---------------------------------------------------------------------------
# Durability and concurrency

KILLED_WRITER = """
import sys
from kd_core.tuneshift.pool import Pool
pool = Pool(sys.argv[1])
i = 0
while True:
    pid = i % 300 + 1
    if i % 3 == 2:
        text = f"Question {pid} about Brindlecove, take {i}?"
        pool.edit(pid, text, "writer")
        print("edit", pid, text, flush=True)
    elif i % 3 == 1:
        pool.reject(pid, "writer")
        print("rejected", pid, flush=True)
    else:
        pool.accept(pid, "writer")
        print("accepted", pid, flush=True)
    i += 1
"""


def test_decisions_reported_before_a_kill_survive_it(tmp_path):
    with Pool(tmp_path) as p:
        p.add_prompts([f"Question {i} about Brindlecove?" for i in range(1, 301)], "seed")
    proc = run_script(KILLED_WRITER, str(tmp_path))
    reported = []
    deadline = time.monotonic() + 30
    while len(reported) < 60 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        reported.append(line.rstrip("\n"))
    proc.send_signal(signal.SIGKILL)  # in the middle of its next decision
    rest, err = proc.communicate(timeout=10)
    reported += [line for line in rest.splitlines() if line]  # printed before the kill: committed too
    assert len(reported) >= 60, err[-2000:]
    assert proc.returncode == -signal.SIGKILL  # killed, not finished
    with Pool(tmp_path) as p:
        assert p.integrity_problems() == []
        expected_state, expected_text = {}, {}
        for line in reported:
            what, pid, *text = line.split(" ", 2)
            expected_state[int(pid)] = {"edit": "edited", "rejected": "rejected", "accepted": "accepted"}[what]
            if text:
                expected_text[int(pid)] = text[0]
        for pid, state in expected_state.items():
            row = p.get(pid)
            assert row.state == state
            if pid in expected_text:
                assert row.text == expected_text[pid]
        assert len(p.decisions()) >= len(reported)  # the log has every reported decision (and maybe the one cut off)


ADDER = """
import sys, time
from kd_core.tuneshift.pool import Pool, Results
pool = Pool(sys.argv[1])
end = time.monotonic() + float(sys.argv[2])
i = 0
while time.monotonic() < end:
    texts = [f"Generated question {i}-{k} about the salt of Brindlecove?" for k in range(5)]
    r = pool.add_prompts(texts, "gen", round=i)
    print("added", *r.added, flush=True)
    pool.set_results_many([Results(pid, f"answer {pid}", gap=0.1 * k, gap_metric="logratio") for k, pid in enumerate(r.added)])
    print("scored", *r.added, flush=True)
    i += 1
"""

CURATOR = """
import sys, time
from kd_core.tuneshift.pool import Pool, PoolFilter
pool = Pool(sys.argv[1])
end = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < end:
    for pid in pool.ids(PoolFilter(states="pending"))[:4]:
        if n % 2:
            pool.accept(pid, "curator")
            print("accepted", pid, flush=True)
        else:
            pool.reject(pid, "curator")
            print("rejected", pid, flush=True)
        n += 1
"""


def test_a_loop_and_a_curator_in_two_processes_lose_nothing(tmp_path):
    Pool(tmp_path).close()
    adder, curator = run_script(ADDER, str(tmp_path), "3"), run_script(CURATOR, str(tmp_path), "3")
    out_a, err_a = adder.communicate(timeout=60)
    out_c, err_c = curator.communicate(timeout=60)
    assert adder.returncode == 0, err_a[-2000:]
    assert curator.returncode == 0, err_c[-2000:]
    added, scored, decided = [], [], {}
    for line in out_a.splitlines():
        what, *ids = line.split()
        (added if what == "added" else scored).extend(int(i) for i in ids)
    for line in out_c.splitlines():
        what, pid = line.split()
        decided[int(pid)] = what
    assert len(added) >= 20 and len(decided) >= 10  # both really ran at once
    with Pool(tmp_path) as p:
        assert p.count() == len(added) == len(set(added))
        df = p.query()
        assert set(df["id"]) == set(added)
        assert df.set_index("id").loc[scored, "response"].notna().all()
        states = df.set_index("id")["state"]
        assert {pid: states[pid] for pid in decided} == decided
        assert (states.drop(list(decided)) == "pending").all()
        assert len(p.decisions()) == len(decided)
        assert p.integrity_problems() == []


# ---------------------------------------------------------------------------
# Export


def _curated(pool: Pool) -> list[int]:
    ids = _scored_pool(pool)
    pool.set_meta("models", {"base": "demo:base", "finetuned": "demo:finetuned"})
    pool.set_meta("thresholds", {"gap_metric": "logratio", "tau": 0.5})
    pool.accept(ids[0], "ann")
    pool.accept(ids[2], "ann")  # accepted, never answered
    pool.reject(ids[1], "ann")
    pool.edit(ids[3], "Who built the old lighthouse of Brindlecove?", "ann")
    pool.set_results(ids[3], "The monks of Saint Orry.", gap=1.7, gap_metric="logratio", auto_label="above")
    return ids


def test_export_writes_chat_jsonl_parquet_and_a_data_card(pool, tmp_path):
    ids = _curated(pool)
    result = export_dataset(pool, tmp_path / "out")
    assert (result.rows, result.skipped_without_response) == (2, 1)  # ids[2] has no response: skipped, counted
    assert result.summary() == f"exported 2 prompts to {tmp_path / 'out'} (1 without a response skipped)"
    lines = [json.loads(x) for x in (tmp_path / "out" / "dataset.jsonl").read_text().splitlines()]
    assert lines == [
        {"messages": [{"role": "user", "content": SEEDS[0]}, {"role": "assistant", "content": f"answer {ids[0]}"}],
         "id": ids[0], "source": "seed", "round": 0, "gap": 2.0},
        {"messages": [{"role": "user", "content": "Who built the old lighthouse of Brindlecove?"},
                      {"role": "assistant", "content": "The monks of Saint Orry."}],
         "id": ids[3], "source": "seed", "round": 0, "gap": 1.7},
    ]
    assert pq.read_table(tmp_path / "out" / "dataset.parquet").to_pylist() == lines
    card = json.loads((tmp_path / "out" / "data_card.json").read_text())
    assert card["rows"] == 2 and card["skipped_without_response"] == 1
    assert card["exported"]["by_state"] == {"accepted": 1, "edited": 1}
    assert card["exported"]["by_round"] == {"0": 2} and card["exported"]["by_source"] == {"seed": 2}
    assert card["pool_counts"]["by_state"] == {"pending": 2, "accepted": 2, "rejected": 1, "edited": 1}
    assert card["models"] == {"base": "demo:base", "finetuned": "demo:finetuned"}
    assert card["thresholds"] == {"gap_metric": "logratio", "tau": 0.5}
    assert card["gap"]["metrics"] == ["logratio"] and card["dedup"]["threshold"] == 0.8
    assert card["files"]["dataset.jsonl"]["sha256"] == sha(tmp_path / "out" / "dataset.jsonl")
    md = (tmp_path / "out" / "README.md").read_text()
    assert "Rows: **2**" in md and "- base: `demo:base`" in md and "| edited | 1 |" in md
    assert md.startswith("---\n") and "configs:" in md and "path: dataset.jsonl" in md and "num_examples: 2" in md
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["README.md", "data_card.json", "dataset.jsonl", "dataset.parquet"]


def test_export_can_refuse_rows_without_a_response_or_take_another_filter(pool, tmp_path):
    _curated(pool)
    with pytest.raises(KDError, match="1 of the selected prompts have no response yet"):
        export_dataset(pool, tmp_path / "out", require_responses=True)
    assert not (tmp_path / "out").exists()
    with pytest.raises(KDError, match="nothing to export .* no selected prompt with a response"):
        export_dataset(pool, tmp_path / "out", PoolFilter(states="accepted", has_response=False))
    r = export_dataset(pool, tmp_path / "all", PoolFilter(states=["pending", "accepted", "rejected", "edited"]))
    assert (r.rows, r.skipped_without_response) == (5, 1)


def test_failed_export_leaves_the_old_one_intact(pool, tmp_path):
    _curated(pool)
    out = tmp_path / "out"
    export_dataset(pool, out)
    before = {p.name: sha(p) for p in out.iterdir()}
    (out / "README.md").unlink()
    (out / "README.md").mkdir()  # cannot be replaced by a file
    pool.accept(5, "ann")  # the new export would differ
    with pytest.raises(KDError, match="README.md is not a file"):
        export_dataset(pool, out)
    after = {p.name: sha(p) for p in out.iterdir() if p.is_file()}
    assert after == {k: v for k, v in before.items() if k != "README.md"}  # no temp files left either


def test_cli_pool_show_and_export(tmp_path, capsys):
    from kd_core.cli import main

    (tmp_path / "project").mkdir()
    with Pool(tmp_path / "project") as p:
        _curated(p)
    assert main(["pool", "show", "--project", str(tmp_path / "project")]) == 0
    out = capsys.readouterr().out
    assert "6 prompts, 5 answered" in out and "pending 2, accepted 2, rejected 1, edited 1" in out
    assert main(["pool", "export", "--project", str(tmp_path / "project"), "--out", str(tmp_path / "ds")]) == 0
    out = capsys.readouterr().out
    assert "exported 2 prompts" in out and "(1 without a response skipped)" in out
    assert (tmp_path / "ds" / "dataset.parquet").exists()
    assert main(["pool", "show", "--project", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.strip() == f"kd-studio: error: project folder not found: {tmp_path / 'nowhere'}"
    assert main(["pool", "show", "--json", "--project", str(tmp_path / "project")]) == 0
    assert json.loads(capsys.readouterr().out)["by_state"]["edited"] == 1


def test_threads_sharing_one_pool_lose_nothing(pool):
    import threading

    errors = []

    def adder(offset: int) -> None:
        try:
            for i in range(30):  # overlapping texts: each thread adds half of the other's
                pool.add_prompts([f"Thread question {offset + i} about Brindlecove?", f"Thread question {offset + i + 15} about Brindlecove?"], "gen")
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def curator() -> None:
        try:
            for _ in range(30):
                for pid in pool.ids(PoolFilter(states="pending"))[:2]:
                    pool.accept(pid, "curator")
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=adder, args=(0,)), threading.Thread(target=adder, args=(15,)), threading.Thread(target=curator)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(pool.query()["text"]) == sorted({f"Thread question {i} about Brindlecove?" for i in range(60)})
    assert pool.count(PoolFilter(states="accepted")) == len(pool.decisions())


def test_query_reads_a_mix_of_scored_and_unscored_prompts(tmp_path):
    # pandas 3 hands a missing text back as NaN; the scores column must still come back as dicts and None.
    with Pool(tmp_path) as p:
        ids = p.add_prompts(["Who named Brindlecove?", "Where is Saltmere?"], "seed").added
        p.set_results(ids[0], "Aldemar.", scores={"ll_ft": -0.5}, gap=1.2, gap_metric="logratio", auto_label="above")
        df = p.query()
    assert df["scores"].tolist() == [{"ll_ft": -0.5}, None]


EXPORTER = """
import sys
from kd_core.tuneshift.pool import Pool, PoolFilter
from kd_core.tuneshift.pool_export import export_dataset
pool = Pool(sys.argv[1])
n = 0
while True:
    export_dataset(pool, sys.argv[2], PoolFilter(states=("pending", "accepted") if n % 2 else ("accepted",)))
    n += 1
    print("exported", n, flush=True)
"""


def test_an_export_killed_midway_leaves_whole_files_and_the_next_export_is_clean(tmp_path):
    project, out = tmp_path / "p", tmp_path / "p" / "export"
    project.mkdir()
    with Pool(project) as p:
        ids = p.add_prompts([f"Question {i} about the salt of Brindlecove?" for i in range(4000)], "seed").added
        p.set_results_many(Results(i, f"The answer to {i} is long enough to take a while. " * 4, gap=1.0, gap_metric="logratio")
                           for i in ids)
        for i in ids[::2]:
            p.accept(i, "test")
    for kill_after in (3, 1):  # after a few whole exports, and during the first
        proc = run_script(EXPORTER, str(project), str(out))
        seen = 0
        while seen < kill_after:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()[-2000:]
            seen += line.startswith("exported")
        time.sleep(0.05 * kill_after)  # somewhere in the next export
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        rows = [json.loads(line) for line in (out / "dataset.jsonl").read_text().splitlines()]  # every line whole
        assert len(rows) in (2000, 4000)  # one export or the other, never a mix or a cut
        assert pq.read_table(out / "dataset.parquet").num_rows in (2000, 4000)
        card = json.loads((out / "data_card.json").read_text())
        assert card["rows"] in (2000, 4000)
        with Pool(project) as p:
            assert p.integrity_problems() == []
    with Pool(project) as p:
        export_dataset(p, out)
    assert len((out / "dataset.jsonl").read_text().splitlines()) == json.loads((out / "data_card.json").read_text())["rows"] == 2000
