"""The prompt pool's file format and records: the SQLite schema, the curation states,
the filter that selects prompts, what the pool's calls return, and the small helpers the
pool (kd_core.tuneshift.pool) and its curation (kd_core.tuneshift.curation) share."""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Sequence

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
