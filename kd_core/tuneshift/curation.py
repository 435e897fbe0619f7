"""Curation of the prompt pool: accept, reject, bulk decisions, edits and undo, each an
undoable batch in the append-only decision log (see kd_core.tuneshift.pool)."""

from __future__ import annotations

import json
import sqlite3

from kd_core.data.dedup import normalize
from kd_core.errors import KDError
from kd_core.tuneshift.pool_records import _RESULT_COLUMNS, DECIDABLE, PoolFilter, UndoResult, _json, _locked, _now


class Curation:
    """The decision calls of `Pool` (a mixin: it uses the pool's transactions, filters
    and dedup index)."""

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

    def undo(self, who: str, only_own: bool = True) -> UndoResult | None:
        """Revert `who`'s latest decision batch not yet undone (a single decision, an edit,
        or a whole bulk decision), logged as an 'undo' batch by `who`; `only_own=False`:
        the latest batch of anyone.  None when there is nothing to undo.  Per user, so
        curators working on one pool at once never undo each other's work."""
        who = self._who(who)
        with self._write() as conn:
            target = conn.execute(
                "SELECT batch, action, who FROM decisions d WHERE action != 'undo' "
                "AND NOT EXISTS (SELECT 1 FROM decisions u WHERE u.undoes = d.batch) "
                + ("AND d.who = ? " if only_own else "") + "ORDER BY batch DESC LIMIT 1",
                (who,) if only_own else (),
            ).fetchone()
            if target is None:
                return None
            batch, action, by = target
            rows = conn.execute(
                "SELECT prompt_id, old_state, new_state, old_text, new_text, old_results FROM decisions WHERE batch = ? ORDER BY id DESC",
                (batch,),
            ).fetchall()
            for prompt_id, _, new_state, _, new_text, _ in rows:
                # Someone changed the prompt since this decision: undoing it would overwrite
                # their work, so the undo stops here and says so.
                current = conn.execute("SELECT state, text FROM prompts WHERE id = ?", (prompt_id,)).fetchone()
                if current is not None and (current[0] != new_state or (new_text is not None and current[1] != new_text)):
                    later = conn.execute("SELECT who FROM decisions WHERE prompt_id = ? AND batch > ? ORDER BY batch DESC LIMIT 1",
                                         (prompt_id, batch)).fetchone()
                    raise KDError(f"cannot undo {action} of prompt {prompt_id}: {later[0] if later else 'someone'} "
                                  f"changed it since (now {current[0]})")
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
