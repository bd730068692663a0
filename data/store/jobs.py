"""SQL of the durable job ledger (table `jobs`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlite_utils.db import NotFoundError

from data.store.base import JOB_STATES, TERMINAL_STATES, _decode


class JobTables:
    """Methods of `Store` over the jobs table."""

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

    def get_meta(self, key: str) -> str | None:
        """Return a stored process value (like the synced command set's fingerprint)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a process value."""
        self.db["meta"].upsert({"key": key, "value": value}, pk="key")

    def job_for_mark(self, mark: str, max_bit_errors: int = 0) -> dict[str, Any] | None:
        """Return the first job whose result has an output with provenance mark `mark` (8 hex
        digits), or None. With `max_bit_errors`, a mark read from pixels finds the job whose
        mark is closest, within that many bits (the first job when several are as close)."""
        found = "json_extract(o.value, '$.mark')"
        sql = f"SELECT jobs.id, {found} FROM jobs, json_each(jobs.result, '$.outputs') AS o"
        exact = f"{sql} WHERE {found} = ? ORDER BY jobs.id LIMIT 1"
        row = self.db.execute(exact, [mark]).fetchone()
        if row is not None or max_bit_errors <= 0:
            return self.get_job(row[0]) if row else None
        near = [
            (_bits_apart(mark, other), job_id)
            for job_id, other in self.db.execute(f"{sql} WHERE {found} IS NOT NULL")
        ]
        near = [(errors, job_id) for errors, job_id in near if errors <= max_bit_errors]
        return self.get_job(min(near)[1]) if near else None


def _bits_apart(a: str, b: object) -> int:
    """Return how many bits two hex marks differ in (a large number for malformed ones)."""
    try:
        return bin(int(a, 16) ^ int(str(b), 16)).count("1") if len(a) == len(str(b)) else 1 << 16
    except ValueError:
        return 1 << 16
