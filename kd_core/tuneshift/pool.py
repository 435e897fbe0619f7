"""The durable prompt pool of a project, with human curation (methods.md section 1, step 5).

One SQLite file per project, ``<project>/pool.sqlite``:

- WAL mode with ``synchronous=FULL``: every call that changes the pool has committed
  and synced before it returns, so a crash or a kill loses nothing it reported done;
- a busy timeout: an expansion loop and a curation call in other processes wait for
  each other instead of failing, and every write takes the write lock up front
  (``BEGIN IMMEDIATE``) so two writers never deadlock;
- ``PRAGMA application_id`` marks the file as a KD Studio pool and ``user_version``
  holds the schema version; anything else named pool.sqlite is refused, not touched.

Tables: ``prompts`` (one row per prompt, its current and original text, where it came
from, the fine-tuned model's answer and scores, the curation state), ``decisions``
(an append-only log of every human decision; triggers refuse updates and deletes)
and ``meta`` (project settings such as the models and thresholds, for the data card).

Curation.  A prompt is 'pending', 'accepted', 'rejected' or 'edited' (accepted with
its text changed; the original is kept).  Every decision call commits one "batch" of
decision rows (one row for a single decision, one per changed prompt for a bulk one);
`Pool.undo` reverts the latest batch not yet undone, as a whole, and logs the undo as a
batch of its own.  Repeated undos walk further back; there is no redo.

Editing a prompt clears its response and scores: they answered the old text, and a
training pair must be the fine-tuned model's answer to exactly this prompt, so the
edited prompt comes back from `pending_for_scoring`.  Undoing the edit restores the
old text with its old results.

Dedup (kd_core.data.dedup) runs against every text the pool has ever held: rejected
prompts, and the texts edited prompts had before, stay keys, so a generator cannot
bring a rejected prompt back round after round.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from kd_core.data.dedup import DedupConfig, DedupIndex, Match, normalize
from kd_core.errors import KDError

POOL_FILE = "pool.sqlite"
SCHEMA_VERSION = 1
APPLICATION_ID = 0x4B445350  # "KDSP"
STATES = ("pending", "accepted", "rejected", "edited")
LABELS = ("above", "below")
DECIDABLE = ("pending", "accepted", "rejected")  # what accept / reject / bulk may set ('edited' comes from edit)
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE prompts (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    original_text TEXT NOT NULL,          -- the text as it entered the pool
    source TEXT NOT NULL,                 -- seed / upload / generator name / document id
    round INTEGER NOT NULL DEFAULT 0,
    parent_ids TEXT NOT NULL DEFAULT '[]',  -- JSON list of prompt ids
    response TEXT,                        -- the fine-tuned model's answer
    scores TEXT,                          -- JSON: ll_ft, ll_base, ppl_ft, ppl_base, n_tokens, ...
    gap REAL,                             -- the chosen metric's value
    gap_metric TEXT,
    auto_label TEXT CHECK (auto_label IN ('above', 'below')),
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'accepted', 'rejected', 'edited')),
    dedup_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX prompts_state ON prompts (state);
CREATE INDEX prompts_round ON prompts (round);
CREATE INDEX prompts_source ON prompts (source);
CREATE INDEX prompts_gap ON prompts (gap);
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    batch INTEGER NOT NULL,               -- one per call: a bulk decision is one batch
    action TEXT NOT NULL,                 -- accept | reject | pending | edit | bulk | undo
    prompt_id INTEGER NOT NULL REFERENCES prompts (id),
    old_state TEXT NOT NULL,
    new_state TEXT NOT NULL,
    old_text TEXT,                        -- set when the text changed
    new_text TEXT,
    old_results TEXT,                     -- JSON of the results an edit cleared (its undo restores them)
    undoes INTEGER,                       -- for 'undo': the batch it reverts
    who TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX decisions_batch ON decisions (batch);
CREATE INDEX decisions_prompt ON decisions (prompt_id);
CREATE INDEX decisions_undoes ON decisions (undoes);
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL                   -- JSON
);
"""

_PROMPT_COLUMNS = (
    "id", "text", "original_text", "source", "round", "parent_ids", "response", "scores",
    "gap", "gap_metric", "auto_label", "state", "created_at", "updated_at",
)
_RESULT_COLUMNS = ("response", "scores", "gap", "gap_metric", "auto_label")
_ORDERS = {
    "id": "id", "-id": "id DESC", "gap": "gap ASC NULLS LAST, id", "-gap": "gap DESC NULLS LAST, id",
    "round": "round, id", "-round": "round DESC, id", "created_at": "created_at, id", "-created_at": "created_at DESC, id",
}


# ---------------------------------------------------------------------------
# Records


@dataclass
class PoolFilter:
    """Which prompts: every field left None matches all.  A single value or a sequence
    for states / rounds / sources / ids.  A gap bound leaves out prompts without a gap."""

    states: str | Sequence[str] | None = None
    min_gap: float | None = None
    max_gap: float | None = None
    rounds: int | Sequence[int] | None = None
    sources: str | Sequence[str] | None = None
    search: str | None = None  # case-insensitive substring of the prompt text
    auto_label: str | None = None  # 'above' | 'below' | 'none' (not labelled)
    has_response: bool | None = None
    ids: Sequence[int] | None = None


ACCEPTED = PoolFilter(states=("accepted", "edited"))


@dataclass(frozen=True)
class Duplicate:
    text: str
    of_id: int  # the prompt it duplicates
    similarity: float  # 1.0 for an exact duplicate


@dataclass
class AddResult:
    added: list[int] = field(default_factory=list)
    exact_dups: list[Duplicate] = field(default_factory=list)
    near_dups: list[Duplicate] = field(default_factory=list)
    empty: int = 0  # texts with nothing left after normalization

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.exact_dups)} exact duplicates", f"{len(self.near_dups)} near duplicates"]
        if self.empty:
            parts.append(f"{self.empty} empty")
        return ", ".join(parts)


@dataclass(frozen=True)
class Results:
    """The fine-tuned model's answer to one prompt and its scores.  `prompt_text`, when
    given, must still be the prompt's text, or the results are not written (the prompt
    was edited while it was being answered)."""

    id: int
    response: str
    scores: dict | None = None
    gap: float | None = None
    gap_metric: str | None = None
    auto_label: str | None = None
    prompt_text: str | None = None


@dataclass
class ResultsWritten:
    written: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)  # edited since: not written


@dataclass
class PromptRow:
    id: int
    text: str
    original_text: str
    source: str
    round: int
    parent_ids: list[int]
    response: str | None
    scores: dict | None
    gap: float | None
    gap_metric: str | None
    auto_label: str | None
    state: str
    created_at: str
    updated_at: str

    @property
    def edited(self) -> bool:
        return self.text != self.original_text


@dataclass(frozen=True)
class UndoResult:
    batch: int  # the batch that was undone
    action: str  # what it was: accept / reject / pending / edit / bulk
    prompt_ids: list[int]
    who: str  # who made the decision that was undone

    def summary(self) -> str:
        n = len(self.prompt_ids)
        return f"undid {self.action} by {self.who} on {n} prompt{'s' * (n != 1)}"


@dataclass
class PoolCounts:
    total: int
    by_state: dict[str, int]
    by_round: dict[int, dict[str, int]]  # round -> state -> n, and "total"
    by_source: dict[str, dict[str, int]]
    scored: int  # prompts with a response
    by_label: dict[str, int]  # above / below / none

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------
# The pool


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _as_tuple(value: Any) -> tuple | None:
    if value is None:
        return None
    if isinstance(value, (str, int)):
        return (value,)
    return tuple(value)


def _json(value: Any) -> str:
    return json.dumps(_clean(value), ensure_ascii=False, allow_nan=False)


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars and arrays to Python, NaN and infinities to None."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy (or torch) values
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _locked(method):
    """Hold the pool's lock for the whole call: the in-memory dedup index is updated
    after the commit, and no other thread may screen against it halfway."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class Pool:
    """A project's prompt pool.  Safe to share between threads; any number of processes
    may open the same pool at once.  Use as a context manager, or call `close`."""

    def __init__(self, project: str | Path, dedup: DedupConfig | None = None, create: bool = True, timeout: float = 30.0):
        self.project = Path(project).expanduser()
        self.path = self.project / POOL_FILE
        self.timeout = timeout
        self._lock = threading.RLock()
        self._index: DedupIndex | None = None
        self._seen_prompt = 0  # the dedup index holds prompts up to this id ...
        self._seen_decision = 0  # ... and edits up to this decision id
        self._check_paths(create)
        self._conn = self._connect()
        try:
            self._init_schema()
            stored = self.get_meta("dedup")
            if dedup is None:
                known = {f.name for f in fields(DedupConfig)}
                dedup = DedupConfig(**{k: v for k, v in (stored or {}).items() if k in known})
            if stored != asdict(dedup):
                self.set_meta("dedup", asdict(dedup))  # the data card and other processes see the setting in use
            self.dedup_config = dedup
        except BaseException:
            self._conn.close()
            raise

    # -- opening -----------------------------------------------------------

    def _check_paths(self, create: bool) -> None:
        project, path = self.project, self.path
        if not project.exists():
            raise KDError(f"project folder not found: {project}")
        if not project.is_dir():
            raise KDError(f"project folder is not a folder: {project}")
        if path.is_dir():
            raise KDError(f"{path} is a folder, not a KD Studio pool")
        if not path.exists() and not create:
            raise KDError(f"no prompt pool in {project} (no {POOL_FILE})")
        # SQLite writes a journal beside the pool; a read-only folder would fail later and less clearly.
        if not os.access(project, os.W_OK | os.X_OK):
            raise KDError(f"project folder is read-only: {project} (the pool needs to write {POOL_FILE} and its journal there)")
        if path.exists():
            if not os.access(path, os.R_OK | os.W_OK):
                raise KDError(f"the pool file is read-only: {path}")
            try:
                with open(path, "rb") as f:
                    head = f.read(len(_SQLITE_MAGIC))
            except OSError as e:
                raise KDError(f"cannot read the pool {path}: {e.strerror or e}") from None
            if head and head != _SQLITE_MAGIC:
                raise KDError(f"{path} is not a KD Studio pool (not an SQLite database); move it away or choose another project folder")

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise KDError(f"cannot open the pool {self.path}: {e}") from None
        conn.create_function("kd_fold", 1, lambda s: s.casefold() if s is not None else None, deterministic=True)
        return conn

    def _init_schema(self) -> None:
        with self._sql():
            conn = self._conn
            # Read-only checks first: a database of another program is refused before any write.
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and app_id != APPLICATION_ID:
                raise KDError(f"{self.path} is an SQLite database of another program, not a KD Studio pool")
            if app_id == APPLICATION_ID and version > SCHEMA_VERSION:
                raise KDError(f"{self.path} was made by a newer KD Studio (pool schema {version}; this one reads {SCHEMA_VERSION})")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            if not tables:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    # Another process may have created it while we waited for the lock.
                    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'prompts'").fetchone():
                        for statement in _SCHEMA.split(";\n"):
                            if statement.strip():
                                conn.execute(statement)
                        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            elif not {"prompts", "decisions", "meta"} <= tables:
                raise KDError(f"{self.path} is a damaged KD Studio pool (tables missing: {', '.join(sorted({'prompts', 'decisions', 'meta'} - tables))})")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transactions ------------------------------------------------------

    @contextmanager
    def _sql(self) -> Iterator[None]:
        """SQLite failures that come from the file or its environment, as one clear line."""
        try:
            yield
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # a bug here, not the user's environment
        except sqlite3.DatabaseError as e:
            msg = str(e)
            if "locked" in msg or "busy" in msg:
                raise KDError(f"{self.path}: the pool stayed locked by another process for over {self.timeout:g} s") from None
            if "readonly" in msg or "read-only" in msg:
                raise KDError(f"{self.path}: the pool cannot be written (read-only file or folder)") from None
            if "malformed" in msg or "not a database" in msg or "corrupt" in msg:
                raise KDError(f"{self.path} is damaged or not a KD Studio pool ({msg})") from None
            raise KDError(f"{self.path}: {msg}") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: the write lock taken at once (waiting up to the timeout),
        committed and synced on success, rolled back on any failure."""
        with self._lock, self._sql():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock, self._sql():
            return self._conn.execute(sql, params).fetchall()

    # -- meta --------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._read("SELECT key, value FROM meta ORDER BY key")}

    def set_meta(self, key: str, value: Any) -> None:
        """A project setting (JSON-serializable), e.g. "models" ({"base": ..., "finetuned": ...})
        or "thresholds" ({"gap_metric": "logratio", "tau": 0.5}); the data card shows them."""
        self.update_meta({key: value})

    def update_meta(self, values: dict[str, Any]) -> None:
        encoded = [(str(k), _json(v)) for k, v in values.items()]  # a bad value fails before the write
        with self._write() as conn:
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", encoded)

    # -- dedup index -------------------------------------------------------

    def _sync_index(self) -> DedupIndex:
        """Bring the in-memory index up to the database (inside a write transaction, so
        nothing changes under it).  Other processes' additions and edits arrive here."""
        if self._index is None:
            self._index = DedupIndex(self.dedup_config)
            self._seen_prompt = self._seen_decision = 0
        rows = self._conn.execute(
            "SELECT id, original_text, text FROM prompts WHERE id > ? ORDER BY id", (self._seen_prompt,)
        ).fetchall()
        last = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM decisions").fetchone()[0]
        edits = self._conn.execute(
            "SELECT id, prompt_id, new_text FROM decisions WHERE id > ? AND id <= ? AND new_text IS NOT NULL",
            (self._seen_decision, last),
        ).fetchall()
        owners = [r[0] for r in rows] + [r[0] for r in rows] + [e[1] for e in edits]
        texts = [r[1] for r in rows] + [r[2] for r in rows] + [e[2] for e in edits]
        self._index.add_many(owners, texts)
        if rows:
            self._seen_prompt = rows[-1][0]
        self._seen_decision = last
        return self._index

    @_locked
    def known(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text repeats (exactly or nearly) a text the pool has ever held, or an
        earlier one of `texts`: what `add_prompts` would leave out.  Generators ask first
        so that they do not spend a round's budget on prompts dedup will drop."""
        with self._write():
            return [m is not None for m in self._sync_index().screen([t.strip() for t in texts])]

    # -- adding prompts and results ---------------------------------------

    @_locked
    def add_prompts(
        self,
        texts: Sequence[str],
        source: str,
        round: int = 0,
        parent_ids: Sequence[int] | Sequence[Sequence[int]] | None = None,
    ) -> AddResult:
        """Add new prompts as 'pending', leaving out exact and near duplicates of any prompt
        the pool has ever held and of earlier texts of the same call.  `parent_ids`: the
        prompts they were generated from, one list for all texts or one list per text."""
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise KDError(f"prompt {i + 1} is {type(t).__name__}, not text")
        if not isinstance(source, str) or not source.strip():
            raise KDError("a prompt's source must be a non-empty name (seed, upload, a generator, a document id)")
        if isinstance(round, bool) or not isinstance(round, int) or round < 0:
            raise KDError(f"round must be a whole number >= 0, got {round!r}")
        parents = self._parents(parent_ids, len(texts))
        texts = [t.strip() for t in texts]
        result = AddResult()
        with self._write() as conn:
            index = self._sync_index()
            matches = index.screen(texts)
            new_ids: dict[int, int] = {}  # batch position -> id
            now = _now()
            for pos, (text, match) in enumerate(zip(texts, matches)):
                if match is None:
                    cur = conn.execute(
                        "INSERT OR IGNORE INTO prompts (text, original_text, source, round, parent_ids, state, dedup_key, created_at, updated_at) "
                        "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                        (text, text, source, round, parents[pos], normalize(text), now, now),
                    )
                    if cur.rowcount == 1:
                        new_ids[pos] = cur.lastrowid
                        result.added.append(cur.lastrowid)
                        continue
                    # The index is always in step with the table; this is a second line of defence.
                    row = conn.execute("SELECT id FROM prompts WHERE dedup_key = ?", (normalize(text),)).fetchone()
                    match = Match("exact", row[0], 1.0)
                if match.owner == -1:
                    result.empty += 1
                    continue
                of = new_ids[match.owner] if match.in_batch else match.owner
                (result.exact_dups if match.kind == "exact" else result.near_dups).append(Duplicate(text, of, round_sim(match.similarity)))
        # Only now, once committed: a rolled-back insert must not become a dedup key.
        index.add_many(result.added, [texts[p] for p in sorted(new_ids)])
        self._seen_prompt = max(self._seen_prompt, max(result.added, default=0))
        return result

    @staticmethod
    def _parents(parent_ids, n: int) -> list[str]:
        if parent_ids is None:
            return ["[]"] * n
        parent_ids = list(parent_ids)
        if parent_ids and all(isinstance(p, (list, tuple)) for p in parent_ids):
            if len(parent_ids) != n:
                raise KDError(f"parent_ids has {len(parent_ids)} lists for {n} prompts")
            per_text = parent_ids
        else:
            per_text = [parent_ids] * n
        out = []
        for ids in per_text:
            if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise KDError(f"parent_ids must be prompt ids (whole numbers), got {ids!r}")
            out.append(json.dumps(list(ids)))
        return out

    def set_results(
        self,
        id: int,
        response: str,
        scores: dict | None = None,
        gap: float | None = None,
        gap_metric: str | None = None,
        auto_label: str | None = None,
        prompt_text: str | None = None,
    ) -> bool:
        """Store the fine-tuned model's answer and its scores.  False (nothing written) when
        `prompt_text` is given and the prompt's text is no longer that."""
        done = self.set_results_many([Results(id, response, scores, gap, gap_metric, auto_label, prompt_text)])
        return bool(done.written)

    def set_results_many(self, items: Iterable[Results]) -> ResultsWritten:
        """`set_results` for many prompts in one transaction."""
        items = list(items)
        encoded = []
        for r in items:
            if not isinstance(r.response, str):
                raise KDError(f"prompt {r.id}: the response must be text, got {type(r.response).__name__}")
            if r.auto_label not in (None, *LABELS):
                raise KDError(f"prompt {r.id}: auto_label must be 'above', 'below' or None, got {r.auto_label!r}")
            gap = _clean(r.gap)
            if gap is not None and not isinstance(gap, (int, float)):
                raise KDError(f"prompt {r.id}: gap must be a number, got {r.gap!r}")
            scores = _json(r.scores) if r.scores is not None else None
            encoded.append((r, scores, None if gap is None else float(gap)))
        out = ResultsWritten()
        with self._write() as conn:
            now = _now()
            for r, scores, gap in encoded:
                row = conn.execute("SELECT text FROM prompts WHERE id = ?", (r.id,)).fetchone()
                if row is None:
                    raise KDError(f"no prompt with id {r.id} in {self.path}")
                if r.prompt_text is not None and row[0] != r.prompt_text:
                    out.stale.append(r.id)
                    continue
                conn.execute(
                    "UPDATE prompts SET response = ?, scores = ?, gap = ?, gap_metric = ?, auto_label = ?, updated_at = ? WHERE id = ?",
                    (r.response, scores, gap, r.gap_metric, r.auto_label, now, r.id),
                )
                out.written.append(r.id)
        return out

    # -- reading -----------------------------------------------------------

    def get(self, id: int) -> PromptRow:
        rows = self._read(f"SELECT {', '.join(_PROMPT_COLUMNS)} FROM prompts WHERE id = ?", (id,))
        if not rows:
            raise KDError(f"no prompt with id {id} in {self.path}")
        return self._row(rows[0])

    @staticmethod
    def _row(r: tuple) -> PromptRow:
        d = dict(zip(_PROMPT_COLUMNS, r))
        d["parent_ids"] = json.loads(d["parent_ids"])
        d["scores"] = json.loads(d["scores"]) if d["scores"] is not None else None
        return PromptRow(**d)

    def _where(self, f: PoolFilter | None) -> tuple[str, list]:
        if f is None:
            return "1", []
        clauses, params = [], []

        def one_of(column: str, values: tuple) -> None:
            clauses.append(f"{column} IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(values)))

        states = _as_tuple(f.states)
        if states is not None:
            bad = [s for s in states if s not in STATES]
            if bad:
                raise KDError(f"unknown state {bad[0]!r} (use {', '.join(STATES)})")
            one_of("state", states)
        rounds = _as_tuple(f.rounds)
        if rounds is not None:
            one_of("round", tuple(int(r) for r in rounds))
        sources = _as_tuple(f.sources)
        if sources is not None:
            one_of("source", sources)
        ids = _as_tuple(f.ids)
        if ids is not None:
            one_of("id", tuple(int(i) for i in ids))
        if f.min_gap is not None:
            clauses.append("gap >= ?")
            params.append(float(f.min_gap))
        if f.max_gap is not None:
            clauses.append("gap <= ?")
            params.append(float(f.max_gap))
        if f.search:
            clauses.append("instr(kd_fold(text), ?) > 0")
            params.append(f.search.casefold())
        if f.auto_label is not None:
            if f.auto_label == "none":
                clauses.append("auto_label IS NULL")
            elif f.auto_label in LABELS:
                clauses.append("auto_label = ?")
                params.append(f.auto_label)
            else:
                raise KDError(f"unknown auto_label {f.auto_label!r} (use above, below or none)")
        if f.has_response is not None:
            clauses.append("response IS NOT NULL" if f.has_response else "response IS NULL")
        return (" AND ".join(clauses) or "1"), params

    def query(self, filter: PoolFilter | None = None, order: str = "id", limit: int | None = None, offset: int = 0):
        """The matching prompts as a pandas DataFrame, one row per prompt, with the columns
        of `PromptRow` and `edited` (text differs from the original)."""
        import pandas as pd

        if order not in _ORDERS:
            raise KDError(f"unknown order {order!r} (use {', '.join(_ORDERS)})")
        where, params = self._where(filter)
        sql = f"SELECT {', '.join(_PROMPT_COLUMNS)} FROM prompts WHERE {where} ORDER BY {_ORDERS[order]}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params = [*params, int(limit), int(offset)]
        df = pd.DataFrame(self._read(sql, params), columns=list(_PROMPT_COLUMNS))
        df["parent_ids"] = [json.loads(x) for x in df["parent_ids"]]
        # pandas may hand back a missing value as NaN rather than None (its string dtype does).
        df["scores"] = pd.Series([json.loads(x) if isinstance(x, str) else None for x in df["scores"]], index=df.index, dtype=object)
        df["edited"] = df["text"] != df["original_text"]
        df["gap"] = df["gap"].astype(float)
        return df

    def ids(self, filter: PoolFilter | None = None) -> list[int]:
        where, params = self._where(filter)
        return [r[0] for r in self._read(f"SELECT id FROM prompts WHERE {where} ORDER BY id", params)]

    def count(self, filter: PoolFilter | None = None) -> int:
        where, params = self._where(filter)
        return self._read(f"SELECT COUNT(*) FROM prompts WHERE {where}", params)[0][0]

    def counts(self) -> PoolCounts:
        with self._lock, self._sql():
            self._conn.execute("BEGIN")  # one snapshot for every number
            try:
                rows = self._conn.execute("SELECT round, source, state, COUNT(*) FROM prompts GROUP BY round, source, state").fetchall()
                scored = self._conn.execute("SELECT COUNT(*) FROM prompts WHERE response IS NOT NULL").fetchone()[0]
                labels = dict(self._conn.execute("SELECT COALESCE(auto_label, 'none'), COUNT(*) FROM prompts GROUP BY 1").fetchall())
            finally:
                self._conn.execute("COMMIT")
        by_state = dict.fromkeys(STATES, 0)
        by_round: dict[int, dict[str, int]] = {}
        by_source: dict[str, dict[str, int]] = {}
        for rnd, source, state, n in rows:
            by_state[state] += n
            for table, key in ((by_round, rnd), (by_source, source)):
                slot = table.setdefault(key, {**dict.fromkeys(STATES, 0), "total": 0})
                slot[state] += n
                slot["total"] += n
        return PoolCounts(
            total=sum(by_state.values()),
            by_state=by_state,
            by_round=dict(sorted(by_round.items())),
            by_source=dict(sorted(by_source.items())),
            scored=scored,
            by_label={k: labels.get(k, 0) for k in ("above", "below", "none")},
        )

    def pending_for_scoring(self, limit: int | None = None, include_rejected: bool = False):
        """Prompts without a response (new, or edited since they were answered), oldest
        first, for a loop to answer and score; rejected ones only when asked."""
        states = STATES if include_rejected else ("pending", "accepted", "edited")
        return self.query(PoolFilter(states=states, has_response=False), limit=limit)

    def decisions(self, prompt_id: int | None = None):
        """The decision log (oldest first) as a DataFrame, for one prompt or all."""
        import pandas as pd

        cols = ("id", "batch", "action", "prompt_id", "old_state", "new_state", "old_text", "new_text", "undoes", "who", "at")
        where, params = ("prompt_id = ?", (prompt_id,)) if prompt_id is not None else ("1", ())
        return pd.DataFrame(self._read(f"SELECT {', '.join(cols)} FROM decisions WHERE {where} ORDER BY id", params), columns=list(cols))

    # -- curation ----------------------------------------------------------

    @staticmethod
    def _who(who: str) -> str:
        if not isinstance(who, str) or not who.strip():
            raise KDError("a decision needs the name of who made it")
        return who.strip()

    @staticmethod
    def _next_batch(conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT COALESCE(MAX(batch), 0) + 1 FROM decisions").fetchone()[0]

    @staticmethod
    def _changes(current: str, target: str) -> bool:
        # An edited prompt is already accepted (with its edit): accepting it keeps it 'edited'.
        return current != target and not (target == "accepted" and current == "edited")

    def accept(self, id: int, who: str) -> bool:
        """Accept a prompt; False when it already was (nothing logged)."""
        return self.set_state(id, "accepted", who)

    def reject(self, id: int, who: str) -> bool:
        return self.set_state(id, "rejected", who)

    def set_state(self, id: int, state: str, who: str) -> bool:
        """Set one prompt's state to 'accepted', 'rejected' or back to 'pending'."""
        if state not in DECIDABLE:
            raise KDError(f"a decision sets 'accepted', 'rejected' or 'pending', not {state!r} (edit a prompt to make it 'edited')")
        who = self._who(who)
        with self._write() as conn:
            row = conn.execute("SELECT state FROM prompts WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise KDError(f"no prompt with id {id} in {self.path}")
            if not self._changes(row[0], state):
                return False
            now = _now()
            conn.execute("UPDATE prompts SET state = ?, updated_at = ? WHERE id = ?", (state, now, id))
            action = {"accepted": "accept", "rejected": "reject", "pending": "pending"}[state]
            conn.execute(
                "INSERT INTO decisions (batch, action, prompt_id, old_state, new_state, who, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._next_batch(conn), action, id, row[0], state, who, now),
            )
        return True

    def bulk_set_state(self, filter: PoolFilter | None, state: str, who: str) -> int:
        """Set every prompt matching the filter (at the moment of the call) to `state`, in
        one transaction and one undoable batch.  Returns how many prompts changed."""
        if state not in DECIDABLE:
            raise KDError(f"a decision sets 'accepted', 'rejected' or 'pending', not {state!r}")
        who = self._who(who)
        where, params = self._where(filter)
        with self._write() as conn:
            rows = [r for r in conn.execute(f"SELECT id, state FROM prompts WHERE {where} ORDER BY id", params) if self._changes(r[1], state)]
            if not rows:
                return 0
            now, batch = _now(), self._next_batch(conn)
            conn.executemany("UPDATE prompts SET state = ?, updated_at = ? WHERE id = ?", [(state, now, r[0]) for r in rows])
            conn.executemany(
                "INSERT INTO decisions (batch, action, prompt_id, old_state, new_state, who, at) VALUES (?, 'bulk', ?, ?, ?, ?, ?)",
                [(batch, r[0], r[1], state, who, now) for r in rows],
            )
        return len(rows)

    @_locked
    def edit(self, id: int, new_text: str, who: str) -> bool:
        """Change a prompt's text (state 'edited': accepted with changes, whatever its state
        was; the original text is kept).  The new text must not duplicate, exactly or
        nearly, any other prompt the pool has held.  Clears the response and scores (they
        answered the old text).  False when the text is unchanged."""
        if not isinstance(new_text, str) or not new_text.strip():
            raise KDError("the edited prompt is empty")
        who, new_text = self._who(who), new_text.strip()
        with self._write() as conn:
            row = conn.execute(f"SELECT state, text, {', '.join(_RESULT_COLUMNS)} FROM prompts WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise KDError(f"no prompt with id {id} in {self.path}")
            old_state, old_text = row[0], row[1]
            if new_text == old_text:
                return False
            index = self._sync_index()
            match = index.check(new_text, exclude=id)
            if match is not None:
                how = "is the same as" if match.kind == "exact" else f"nearly duplicates ({match.similarity:.2f} similar)"
                raise KDError(f"the edited text {how} prompt {match.owner}; edit it further or reject this prompt instead")
            old_results = _json(dict(zip(_RESULT_COLUMNS, row[2:]))) if row[2] is not None else None
            now = _now()
            conn.execute(
                "UPDATE prompts SET text = ?, dedup_key = ?, state = 'edited', response = NULL, scores = NULL, gap = NULL, "
                "gap_metric = NULL, auto_label = NULL, updated_at = ? WHERE id = ?",
                (new_text, normalize(new_text), now, id),
            )
            conn.execute(
                "INSERT INTO decisions (batch, action, prompt_id, old_state, new_state, old_text, new_text, old_results, who, at) "
                "VALUES (?, 'edit', ?, ?, 'edited', ?, ?, ?, ?, ?)",
                (self._next_batch(conn), id, old_state, old_text, new_text, old_results, who, now),
            )
        index.add(id, new_text)
        return True

    def undo(self, who: str) -> UndoResult | None:
        """Revert the latest decision batch not yet undone (a single decision, an edit, or a
        whole bulk decision), logged as an 'undo' batch.  None when there is nothing to undo."""
        who = self._who(who)
        with self._write() as conn:
            target = conn.execute(
                "SELECT batch, action, who FROM decisions d WHERE action != 'undo' "
                "AND NOT EXISTS (SELECT 1 FROM decisions u WHERE u.undoes = d.batch) ORDER BY batch DESC LIMIT 1"
            ).fetchone()
            if target is None:
                return None
            batch, action, by = target
            rows = conn.execute(
                "SELECT prompt_id, old_state, new_state, old_text, new_text, old_results FROM decisions WHERE batch = ? ORDER BY id DESC",
                (batch,),
            ).fetchall()
            now, undo_batch = _now(), self._next_batch(conn)
            for prompt_id, old_state, new_state, old_text, new_text, old_results in rows:
                if old_text is None:
                    conn.execute("UPDATE prompts SET state = ?, updated_at = ? WHERE id = ?", (old_state, now, prompt_id))
                else:
                    restored = json.loads(old_results) if old_results else dict.fromkeys(_RESULT_COLUMNS)
                    clash = conn.execute(
                        "SELECT id FROM prompts WHERE dedup_key = ? AND id != ?", (normalize(old_text), prompt_id)
                    ).fetchone()
                    if clash:
                        raise KDError(f"cannot undo the edit of prompt {prompt_id}: its old text is now prompt {clash[0]}")
                    conn.execute(
                        f"UPDATE prompts SET state = ?, text = ?, dedup_key = ?, {', '.join(c + ' = ?' for c in _RESULT_COLUMNS)}, "
                        "updated_at = ? WHERE id = ?",
                        (old_state, old_text, normalize(old_text), *(restored[c] for c in _RESULT_COLUMNS), now, prompt_id),
                    )
                conn.execute(
                    "INSERT INTO decisions (batch, action, prompt_id, old_state, new_state, old_text, new_text, undoes, who, at) "
                    "VALUES (?, 'undo', ?, ?, ?, ?, ?, ?, ?, ?)",
                    (undo_batch, prompt_id, new_state, old_state, new_text, old_text, batch, who, now),
                )
        return UndoResult(batch=batch, action=action, prompt_ids=sorted(r[0] for r in rows), who=by)

    # -- health ------------------------------------------------------------

    def integrity_problems(self) -> list[str]:
        """SQLite's full integrity check: [] when the file is sound."""
        rows = [r[0] for r in self._read("PRAGMA integrity_check")]
        return [] if rows == ["ok"] else rows


def round_sim(x: float) -> float:
    return round(float(x), 4)
