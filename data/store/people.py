"""SQL about people: consent, feedback, and a user's export and deletion."""

from __future__ import annotations

from typing import Any

from data.store.base import JOB_TABLES, USER_TABLES, _decode


class PeopleTables:
    """Methods of `Store` over consent and feedback, and privacy across every table."""

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
