"""SQL about people: consent, feedback, and a user's export and deletion across every table."""

from __future__ import annotations

import base64
from typing import Any

from data.store.base import ACTOR_COLUMNS, JOB_TABLES, USER_TABLES, _decode


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

    def export_user(
        self, user: int, user_hash: str | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Return every row about `user`, per table: their own rows, rows hanging off their jobs,
        their pseudonymous decision log (when `user_hash` is given) and the rows where they
        acted as a moderator or reporter (under `acted_in`)."""
        out = {
            table: [_decode(r) for r in self.db[table].rows_where(f"{column} = ?", [user])]
            for table, column in USER_TABLES.items()
        }
        for item in out["community_items"]:
            if item.get("image_png") is not None:
                item["image_png"] = base64.b64encode(item["image_png"]).decode()
        sql = "SELECT v.* FROM verdicts v JOIN jobs j ON v.job = j.id WHERE j.user = ?"
        out["verdicts"] = [_decode(dict(r)) for r in self.db.query(sql, [user])]
        sql = "SELECT r.* FROM reviews r JOIN jobs j ON r.job = j.id WHERE j.user = ?"
        out["reviews"] = [dict(r) for r in self.db.query(sql, [user])]
        if user_hash is not None:
            rows = self.db["decision_log"].rows_where("user_hash = ?", [user_hash])
            out["decision_log"] = list(rows)
        out["acted_in"] = [
            {"table": table, "column": column, **{k: v for k, v in row.items() if k != "image_png"}}
            for table, column in ACTOR_COLUMNS
            for row in self.db[table].rows_where(f"{column} = ?", [user])
        ]
        return out  # type: ignore[return-value]

    def forget_user(self, user: int, user_hash: str | None = None) -> dict[str, int]:
        """Delete every row about `user` in one transaction (their decision log too, when
        `user_hash` is given), and empty the columns naming them as a moderator or reporter;
        return the count per table."""
        counts: dict[str, int] = {}
        with self.db.atomic():
            own_jobs = "SELECT id FROM jobs WHERE user = ?"
            for table in JOB_TABLES:
                sql = f"DELETE FROM {table} WHERE job IN ({own_jobs})"
                counts[table] = self.db.execute(sql, [user]).rowcount
            sql = f"DELETE FROM community_items WHERE job IN ({own_jobs})"
            counts["community_items"] = self.db.execute(sql, [user]).rowcount
            for table, column in USER_TABLES.items():
                sql = f"DELETE FROM {table} WHERE {column} = ?"
                counts[table] = counts.get(table, 0) + self.db.execute(sql, [user]).rowcount
            if user_hash is not None:
                sql = "DELETE FROM decision_log WHERE user_hash = ?"
                counts["decision_log"] = self.db.execute(sql, [user_hash]).rowcount
            for table, column in ACTOR_COLUMNS:
                sql = f"UPDATE {table} SET {column} = NULL WHERE {column} = ?"
                counts[f"{table}.{column}"] = self.db.execute(sql, [user]).rowcount
        return counts
