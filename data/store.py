"""The genbot store: every SQL statement of the project lives here (schema in migrations.py).

`Store` is synchronous and owns one SQLite connection in WAL mode. `AsyncStore` runs every
call of one `Store` on one dedicated thread, so the bot's event loop never blocks on disk and
SQLite never sees two threads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

from data import migrations

log = logging.getLogger(__name__)

JOB_STATES = (
    "received",
    "screening",
    "queued",
    "generating",
    "posted",
    "held",
    "refused",
    "failed",
)
TERMINAL_STATES = frozenset({"posted", "held", "refused", "failed"})
APPEAL_STATES = ("open", "accepted", "rejected")
DIRECTIONS = ("prompt", "output", "upload")
ACTIONS = ("allow", "flag", "block")
# Tables holding rows about one user, and the column naming that user: export and forget
# walk exactly this list, so a table added by a migration must be added here too.
USER_TABLES = {
    "jobs": "user",
    "strikes": "user",
    "appeals": "user",
    "consent": "user",
    "feedback": "user",
}
_JSON_COLUMNS = {"params", "reasons", "scores", "model_versions", "overrides", "limits", "result"}
# Tables whose rows hang off a job: forgetting a user deletes their rows through the user's jobs.
JOB_TABLES = ("verdicts", "feedback", "appeals", "reviews")
REVIEW_STATES = ("pending", "approved", "rejected")


class StoreError(RuntimeError):
    """The database cannot be used; the message names the file and the reason."""


def _decode(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {k: json.loads(v) if k in _JSON_COLUMNS and v is not None else v for k, v in row.items()}


def _explain(path: Path, exc: sqlite3.Error) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return f"{path}: not a valid SQLite database (corrupt file?)"
    if "readonly" in text or "read-only" in text:
        return f"{path}: database is read-only"
    if "unable to open" in text:
        return f"{path}: cannot open the database file (missing folder or no permission?)"
    return f"{path}: {text}"


class Store:
    """Synchronous access to the genbot SQLite database at `path`."""

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        if not self.path.parent.is_dir():
            raise StoreError(f"{self.path}: folder {str(self.path.parent)!r} does not exist")
        try:
            self.db = Database(sqlite3.connect(str(self.path), timeout=10))
            self._check_usable()
            self.db.enable_wal()
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA synchronous = NORMAL")
            applied_now = migrations.apply(self.db)
        except sqlite3.Error as exc:
            raise StoreError(_explain(self.path, exc)) from None
        if applied_now:
            log.info("store %s: applied migrations %s", self.path, ", ".join(applied_now))

    def _check_usable(self) -> None:
        # Runs before anything is written, so a corrupt (header read fails) or read-only file
        # is refused whole.
        # BEGIN IMMEDIATE alone succeeds on a read-only WAL file, so write the header's
        # user_version back unchanged and roll that back.
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(f"PRAGMA user_version = {int(version)}")
        finally:
            self.db.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def schema(self) -> list[str]:
        """Return the names of the applied migrations."""
        return migrations.applied(self.db)

    # --- jobs -------------------------------------------------------------------------------

    def create_job(
        self,
        *,
        guild: int | None,
        channel: int | None,
        user: int,
        command: str,
        params: dict,
        seed: int | None = None,
        parent: int | None = None,
        interaction_token: str | None = None,
        interaction_at: float | None = None,
    ) -> dict[str, Any]:
        """Insert a job in state `received`; return its row."""
        now = self.clock()
        row = {
            "guild": guild,
            "channel": channel,
            "user": user,
            "command": command,
            "params": json.dumps(params, sort_keys=True),
            "state": "received",
            "created_at": now,
            "updated_at": now,
            "seed": seed,
            "parent": parent,
            "interaction_token": interaction_token,
            "interaction_at": interaction_at,
        }
        job_id = self.db["jobs"].insert(row).last_pk
        return self.get_job(job_id)  # type: ignore[return-value]

    def get_job(self, job_id: int) -> dict[str, Any] | None:
        """Return the job row with decoded params, or None."""
        try:
            return _decode(self.db["jobs"].get(job_id))
        except NotFoundError:
            return None

    def set_job_state(
        self,
        job_id: int,
        state: str,
        *,
        error: str | None = None,
        expect: Iterable[str] | None = None,
    ) -> bool:
        """Move a job to `state` (only from a state in `expect`, when given); return if moved."""
        if state not in JOB_STATES:
            raise ValueError(f"unknown job state {state!r}")
        sql = "UPDATE jobs SET state = ?, error = ?, updated_at = ? WHERE id = ?"
        args: list[Any] = [state, error, self.clock(), job_id]
        if expect is not None:
            expected = list(expect)
            sql += f" AND state IN ({', '.join('?' * len(expected))})"
            args += expected
        with self.db.atomic():
            return self.db.execute(sql, args).rowcount == 1

    def set_posted(self, job_id: int, message_id: int, channel_id: int | None = None) -> None:
        """Record the Discord message that carries the job's result, and mark it posted."""
        with self.db.atomic():
            self.db.execute(
                "UPDATE jobs SET posted_message_id = ?, posted_channel_id = ?, state = 'posted', "
                "interaction_token = NULL, updated_at = ? WHERE id = ?",
                [message_id, channel_id, self.clock(), job_id],
            )

    def set_result(self, job_id: int, result: dict) -> None:
        """Keep a job's result summary (verdict, model, seeds; never the image bytes)."""
        with self.db.atomic():
            self.db.execute(
                "UPDATE jobs SET result = ?, updated_at = ? WHERE id = ?",
                [json.dumps(result, sort_keys=True), self.clock(), job_id],
            )

    def add_attempt(self, job_id: int) -> int:
        """Count one more try of a job at the service; return the count."""
        with self.db.atomic():
            self.db.execute("UPDATE jobs SET attempts = attempts + 1 WHERE id = ?", [job_id])
        return self.db.execute("SELECT attempts FROM jobs WHERE id = ?", [job_id]).fetchone()[0]

    def end_job(self, job_id: int, state: str, error: str | None = None) -> None:
        """Move a job to a terminal state and drop its interaction token."""
        if state not in TERMINAL_STATES:
            raise ValueError(f"{state!r} is not a terminal state")
        with self.db.atomic():
            self.db.execute(
                "UPDATE jobs SET state = ?, error = ?, interaction_token = NULL, updated_at = ? "
                "WHERE id = ?",
                [state, error, self.clock(), job_id],
            )

    def count_jobs_since(
        self, since: float, *, user: int | None = None, guild: int | None = None
    ) -> int:
        """Return how many jobs (refused ones excepted) a user or guild started since `since`."""
        sql = "SELECT count(*) FROM jobs WHERE created_at >= ? AND state != 'refused'"
        args: list[Any] = [since]
        if user is not None:
            sql, args = sql + " AND user = ?", [*args, user]
        if guild is not None:
            sql, args = sql + " AND guild = ?", [*args, guild]
        return self.db.execute(sql, args).fetchone()[0]

    def active_jobs(self, user: int) -> list[dict[str, Any]]:
        """Return the user's unfinished jobs, oldest first."""
        done = ", ".join(f"'{s}'" for s in sorted(TERMINAL_STATES))
        rows = self.db["jobs"].rows_where(
            f"user = ? AND state NOT IN ({done})", [user], order_by="id"
        )
        return [_decode(r) for r in rows]  # type: ignore[misc]

    def last_job_at(self, user: int, guild: int | None) -> float | None:
        """Return when the user last started a job in the guild, or None."""
        sql = "SELECT max(created_at) FROM jobs WHERE user = ? AND guild IS ?"
        return self.db.execute(sql, [user, guild]).fetchone()[0]

    def jobs_in_states(self, states: Iterable[str]) -> list[dict[str, Any]]:
        """Return the jobs in any of `states`, oldest first."""
        wanted = list(states)
        where = f"state IN ({', '.join('?' * len(wanted))})"
        rows = self.db["jobs"].rows_where(where, wanted, order_by="id")
        return [_decode(r) for r in rows]  # type: ignore[misc]

    def user_jobs(self, user: int, limit: int = 20) -> list[dict[str, Any]]:
        """Return a user's most recent jobs, newest first."""
        rows = self.db["jobs"].rows_where("user = ?", [user], order_by="id desc", limit=limit)
        return [_decode(r) for r in rows]  # type: ignore[misc]

    # --- verdicts ---------------------------------------------------------------------------

    def add_verdict(
        self,
        job_id: int,
        *,
        direction: str,
        action: str,
        reasons: list,
        scores: dict,
        model_versions: dict,
    ) -> int:
        """Store one moderation verdict about a job; return its id."""
        if direction not in DIRECTIONS or action not in ACTIONS:
            raise ValueError(f"bad verdict direction/action {direction!r}/{action!r}")
        row = {
            "job": job_id,
            "direction": direction,
            "action": action,
            "reasons": json.dumps(reasons),
            "scores": json.dumps(scores, sort_keys=True),
            "model_versions": json.dumps(model_versions, sort_keys=True),
            "created_at": self.clock(),
        }
        return self.db["verdicts"].insert(row).last_pk

    def verdicts_for(self, job_id: int) -> list[dict[str, Any]]:
        """Return the verdicts stored for a job, oldest first."""
        rows = self.db["verdicts"].rows_where("job = ?", [job_id], order_by="id")
        return [_decode(r) for r in rows]  # type: ignore[misc]

    # --- guild policies ---------------------------------------------------------------------

    def get_guild_policy(self, guild: int) -> dict[str, Any] | None:
        """Return the guild's stored policy row, or None when it uses the defaults."""
        try:
            return _decode(self.db["guild_policies"].get(guild))
        except NotFoundError:
            return None

    def set_guild_policy(
        self,
        guild: int,
        *,
        preset: str,
        overrides: dict,
        shadow: bool,
        review_channel: int | None,
        updated_by: int | None,
        limits: dict | None = None,
    ) -> None:
        """Create or replace the guild's policy row."""
        row = {
            "limits": json.dumps(limits or {}, sort_keys=True),
            "guild": guild,
            "preset": preset,
            "overrides": json.dumps(overrides, sort_keys=True),
            "shadow": int(shadow),
            "review_channel": review_channel,
            "updated_at": self.clock(),
            "updated_by": updated_by,
        }
        self.db["guild_policies"].upsert(row, pk="guild")

    # --- strikes ----------------------------------------------------------------------------

    def add_strike(self, *, guild: int, user: int, label: str, job_id: int | None) -> int:
        """Record a strike against a user in a guild; return its id."""
        row = {"guild": guild, "user": user, "job": job_id, "label": label}
        return self.db["strikes"].insert({**row, "created_at": self.clock()}).last_pk

    def strikes_since(self, guild: int, user: int, since: float) -> list[dict[str, Any]]:
        """Return the user's strikes in the guild created at or after `since`, oldest first."""
        where = "guild = ? AND user = ? AND created_at >= ?"
        return list(self.db["strikes"].rows_where(where, [guild, user, since], order_by="id"))

    def clear_strikes(self, guild: int, user: int) -> int:
        """Delete the user's strikes in the guild; return how many were deleted."""
        with self.db.atomic():
            sql = "DELETE FROM strikes WHERE guild = ? AND user = ?"
            return self.db.execute(sql, [guild, user]).rowcount

    # --- appeals ----------------------------------------------------------------------------

    def add_appeal(self, *, job_id: int, guild: int | None, user: int, reason: str) -> int:
        """Open an appeal against a job's refusal; return its id."""
        row = {"job": job_id, "guild": guild, "user": user, "reason": reason, "state": "open"}
        return self.db["appeals"].insert({**row, "created_at": self.clock()}).last_pk

    def get_appeal(self, appeal_id: int) -> dict[str, Any] | None:
        """Return one appeal row, or None."""
        try:
            return self.db["appeals"].get(appeal_id)
        except NotFoundError:
            return None

    def open_appeals(self, guild: int | None) -> list[dict[str, Any]]:
        """Return the guild's open appeals, oldest first."""
        rows = self.db["appeals"].rows_where(
            "guild IS ? AND state = 'open'", [guild], order_by="id"
        )
        return list(rows)

    def count_appeals_since(self, user: int, since: float) -> int:
        """Return how many appeals the user opened at or after `since`."""
        sql = "SELECT count(*) FROM appeals WHERE user = ? AND created_at >= ?"
        return self.db.execute(sql, [user, since]).fetchone()[0]

    def resolve_appeal(self, appeal_id: int, *, state: str, by: int) -> bool:
        """Close an open appeal as accepted or rejected; return False if it was not open."""
        if state not in APPEAL_STATES[1:]:
            raise ValueError(f"an appeal is resolved as accepted or rejected, not {state!r}")
        with self.db.atomic():
            sql = (
                "UPDATE appeals SET state = ?, resolved_at = ?, resolved_by = ? "
                "WHERE id = ? AND state = 'open'"
            )
            return self.db.execute(sql, [state, self.clock(), by, appeal_id]).rowcount == 1

    # --- guild rules and image denylist -------------------------------------------------------

    def add_rule(
        self, *, guild: int, label: str, pattern: str, kind: str, score: float, created_by: int
    ) -> int:
        """Add (or replace) a guild's moderation rule; return its id."""
        row = {"guild": guild, "label": label, "pattern": pattern, "kind": kind, "score": score}
        with self.db.atomic():
            self.db.execute(
                "DELETE FROM guild_rules WHERE guild = ? AND kind = ? AND pattern = ?",
                [guild, kind, pattern],
            )
            extra = {"created_by": created_by, "created_at": self.clock()}
            return self.db["guild_rules"].insert({**row, **extra}).last_pk

    def remove_rule(self, *, guild: int, pattern: str) -> int:
        """Remove a guild's rules with this pattern; return how many were removed."""
        with self.db.atomic():
            sql = "DELETE FROM guild_rules WHERE guild = ? AND pattern = ?"
            return self.db.execute(sql, [guild, pattern]).rowcount

    def guild_rules(self, guild: int) -> list[dict[str, Any]]:
        """Return a guild's rules, oldest first."""
        return list(self.db["guild_rules"].rows_where("guild = ?", [guild], order_by="id"))

    def add_denylisted_image(self, *, guild: int, hash: str, note: str, created_by: int) -> None:
        """Add a perceptual hash to the guild's image denylist."""
        row = {"guild": guild, "hash": hash, "note": note, "created_by": created_by}
        self.db["image_denylist"].upsert({**row, "created_at": self.clock()}, pk=("guild", "hash"))

    def denylisted_images(self, guild: int) -> list[str]:
        """Return the perceptual hashes on the guild's image denylist."""
        sql = "SELECT hash FROM image_denylist WHERE guild = ? ORDER BY created_at"
        return [row[0] for row in self.db.execute(sql, [guild])]

    # --- reviews, moderation log and stats ---------------------------------------------------

    def add_review(self, *, job_id: int, guild: int | None, kind: str, note: str) -> int:
        """Queue an item for moderators (a held output or a user's report); return its id."""
        row = {"job": job_id, "guild": guild, "kind": kind, "note": note, "state": "pending"}
        return self.db["reviews"].insert({**row, "created_at": self.clock()}).last_pk

    def get_review(self, review_id: int) -> dict[str, Any] | None:
        """Return one review row, or None."""
        try:
            return self.db["reviews"].get(review_id)
        except NotFoundError:
            return None

    def set_review_message(self, review_id: int, message_id: int) -> None:
        """Remember the review-channel message that shows the item."""
        self.db["reviews"].update(review_id, {"message_id": message_id})

    def pending_reviews(self, guild: int | None) -> list[dict[str, Any]]:
        """Return the guild's pending review items, oldest first."""
        rows = self.db["reviews"].rows_where(
            "guild IS ? AND state = 'pending'", [guild], order_by="id"
        )
        return list(rows)

    def resolve_review(self, review_id: int, *, state: str, by: int) -> bool:
        """Close a pending review as approved or rejected; return False if it was not pending."""
        if state not in REVIEW_STATES[1:]:
            raise ValueError(f"a review is resolved as approved or rejected, not {state!r}")
        with self.db.atomic():
            sql = (
                "UPDATE reviews SET state = ?, resolved_at = ?, resolved_by = ? "
                "WHERE id = ? AND state = 'pending'"
            )
            return self.db.execute(sql, [state, self.clock(), by, review_id]).rowcount == 1

    def moderation_log(self, guild: int, limit: int = 20) -> list[dict[str, Any]]:
        """Return the guild's latest non-allow verdicts with their job, newest first."""
        sql = (
            "SELECT v.id, v.job, v.direction, v.action, v.reasons, v.model_versions, "
            "v.created_at, j.user, "
            "j.command FROM verdicts v JOIN jobs j ON v.job = j.id "
            "WHERE j.guild = ? AND (v.action != 'allow' OR v.reasons != '[]') "
            "ORDER BY v.id DESC LIMIT ?"
        )
        return [_decode(dict(r)) for r in self.db.query(sql, [guild, limit])]  # type: ignore[misc]

    def moderation_stats(self, guild: int, since: float) -> dict[str, dict[str, int]]:
        """Return verdict counts per direction and action in the guild since `since`."""
        sql = (
            "SELECT v.direction, v.action, count(*) FROM verdicts v JOIN jobs j ON v.job = j.id "
            "WHERE j.guild = ? AND v.created_at >= ? GROUP BY v.direction, v.action"
        )
        out: dict[str, dict[str, int]] = {}
        for direction, action, count in self.db.execute(sql, [guild, since]).fetchall():
            out.setdefault(direction, {})[action] = count
        return out

    # --- meta -------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """Return a stored process value (like the synced command set's fingerprint)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a process value."""
        self.db["meta"].upsert({"key": key, "value": value}, pk="key")

    # --- consent and feedback ---------------------------------------------------------------

    def set_consent(self, *, guild: int | None, user: int, granted: bool) -> None:
        """Record whether the user lets their approved results be used for training."""
        row = {"guild": guild or 0, "user": user, "granted": int(granted)}
        self.db["consent"].upsert({**row, "updated_at": self.clock()}, pk=("guild", "user"))

    def has_consent(self, *, guild: int | None, user: int) -> bool:
        """Return True only if the user granted consent in this guild."""
        sql = "SELECT granted FROM consent WHERE guild = ? AND user = ?"
        row = self.db.execute(sql, [guild or 0, user]).fetchone()
        return bool(row and row[0])

    def add_feedback(self, *, job_id: int, user: int, rating: int) -> None:
        """Record (or change) a user's +1/-1 rating of a job's result."""
        if rating not in (-1, 1):
            raise ValueError("rating must be +1 or -1")
        row = {"job": job_id, "user": user, "rating": rating, "created_at": self.clock()}
        self.db["feedback"].upsert(row, pk=("job", "user"))

    def feedback_for(self, job_id: int) -> dict[str, int]:
        """Return the counts of up and down ratings of a job."""
        sql = "SELECT rating, count(*) FROM feedback WHERE job = ? GROUP BY rating"
        counts = dict(self.db.execute(sql, [job_id]).fetchall())
        return {"up": counts.get(1, 0), "down": counts.get(-1, 0)}

    # --- privacy ----------------------------------------------------------------------------

    def export_user(self, user: int) -> dict[str, list[dict[str, Any]]]:
        """Return every row about `user`, per table (verdicts through the user's jobs)."""
        out = {
            table: [_decode(r) for r in self.db[table].rows_where(f"{column} = ?", [user])]
            for table, column in USER_TABLES.items()
        }
        sql = "SELECT v.* FROM verdicts v JOIN jobs j ON v.job = j.id WHERE j.user = ?"
        out["verdicts"] = [_decode(dict(r)) for r in self.db.query(sql, [user])]
        sql = "SELECT r.* FROM reviews r JOIN jobs j ON r.job = j.id WHERE j.user = ?"
        out["reviews"] = [dict(r) for r in self.db.query(sql, [user])]
        return out  # type: ignore[return-value]

    def forget_user(self, user: int) -> dict[str, int]:
        """Delete every row about `user` in one transaction; return the count per table."""
        counts: dict[str, int] = {}
        with self.db.atomic():
            own_jobs = "SELECT id FROM jobs WHERE user = ?"
            for table in JOB_TABLES:
                sql = f"DELETE FROM {table} WHERE job IN ({own_jobs})"
                counts[table] = self.db.execute(sql, [user]).rowcount
            for table, column in USER_TABLES.items():
                sql = f"DELETE FROM {table} WHERE {column} = ?"
                counts[table] = counts.get(table, 0) + self.db.execute(sql, [user]).rowcount
        return counts


class AsyncStore:
    """Runs every method of one `Store` on one dedicated thread: `await astore.get_job(1)`."""

    def __init__(self, executor: ThreadPoolExecutor, store: Store) -> None:
        self._executor = executor
        self._store = store

    @classmethod
    async def open(cls, path: Path | str, clock: Callable[[], float] = time.time) -> AsyncStore:
        """Open the store on a new dedicated thread (migrations run there too)."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genbot-store")
        loop = asyncio.get_running_loop()
        try:
            store = await loop.run_in_executor(executor, Store, path, clock)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, store)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._store, name)
        if name.startswith("_") or not callable(method):
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, lambda: method(*args, **kwargs))

        call.__name__ = name
        return call

    async def close(self) -> None:
        """Close the connection on its thread, then stop the thread."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._store.close)
        self._executor.shutdown(wait=True)
