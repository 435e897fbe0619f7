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

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from kd_core.data.dedup import DedupConfig, DedupIndex, Match, normalize
from kd_core.errors import KDError
from kd_core.project import POOL_FILE, Project
from kd_core.tuneshift.curation import Curation
from kd_core.tuneshift.pool_records import (  # noqa: F401  (ACCEPTED re-exported: importers take the records with the pool)
    _ORDERS,
    _PROMPT_COLUMNS,
    _SCHEMA,
    _SQLITE_MAGIC,
    ACCEPTED,
    APPLICATION_ID,
    LABELS,
    SCHEMA_VERSION,
    STATES,
    AddResult,
    Duplicate,
    PoolCounts,
    PoolFilter,
    PromptRow,
    Results,
    ResultsWritten,
    _as_tuple,
    _clean,
    _json,
    _locked,
    _now,
)

if TYPE_CHECKING:
    import pandas as pd


class Pool(Curation):
    """A project's prompt pool.  Safe to share between threads; any number of processes
    may open the same pool at once.  Use as a context manager, or call `close`."""

    def __init__(self, project: str | Path, dedup: DedupConfig | None = None, create: bool = True, timeout: float = 30.0):
        self.project = Path(project).expanduser()
        self.path = Project.at(self.project).pool
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
                missing = ", ".join(sorted({"prompts", "decisions", "meta"} - tables))
                raise KDError(f"{self.path} is a damaged KD Studio pool (tables missing: {missing})")

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

    def query(self, filter: PoolFilter | None = None, order: str = "id", limit: int | None = None, offset: int = 0) -> pd.DataFrame:
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

    def last_round(self) -> int:
        """The highest round any prompt was added in (0 for an empty pool or seeds only)."""
        return self._read("SELECT COALESCE(MAX(round), 0) FROM prompts")[0][0]

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

    def pending_for_scoring(self, limit: int | None = None, include_rejected: bool = False) -> pd.DataFrame:
        """Prompts without a response (new, or edited since they were answered), oldest
        first, for a loop to answer and score; rejected ones only when asked."""
        states = STATES if include_rejected else ("pending", "accepted", "edited")
        return self.query(PoolFilter(states=states, has_response=False), limit=limit)

    def decisions(self, prompt_id: int | None = None) -> pd.DataFrame:
        """The decision log (oldest first) as a DataFrame, for one prompt or all."""
        import pandas as pd

        cols = ("id", "batch", "action", "prompt_id", "old_state", "new_state", "old_text", "new_text", "undoes", "who", "at")
        where, params = ("prompt_id = ?", (prompt_id,)) if prompt_id is not None else ("1", ())
        return pd.DataFrame(self._read(f"SELECT {', '.join(cols)} FROM decisions WHERE {where} ORDER BY id", params), columns=list(cols))

    # -- health ------------------------------------------------------------

    def integrity_problems(self) -> list[str]:
        """SQLite's full integrity check: [] when the file is sound."""
        rows = [r[0] for r in self._read("PRAGMA integrity_check")]
        return [] if rows == ["ok"] else rows


def round_sim(x: float) -> float:
    return round(float(x), 4)
