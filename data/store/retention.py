"""SQL of retention: purge the rows of old jobs, keeping a pseudonymous decision log."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from data.store.base import JOB_TABLES, TERMINAL_STATES


def _top_label(reasons: str | None) -> str | None:
    decoded = json.loads(reasons) if reasons else []
    return decoded[0]["label"] if decoded else None


class RetentionTables:
    """Methods of `Store` that forget old data."""

    def purge_expired(
        self, before: float, user_hash: Callable[[int], str]
    ) -> tuple[dict[str, int], list[str]]:
        """Delete finished jobs created before `before` with every row hanging off them, and
        strikes older than that; return the deleted count per table and the upload files the
        jobs named (for the caller to delete). Each verdict first becomes a decision_log row
        (day, guild, salted user hash, command, action, label), and the ratings of approved
        community items are archived onto them."""
        done = sorted(TERMINAL_STATES)
        expired = (
            f"SELECT id FROM jobs WHERE created_at < ? AND state IN ({', '.join('?' * len(done))})"
        )
        args = [before, *done]
        counts: dict[str, int] = {}
        with self.db.atomic():
            counts["decision_log"] = self._log_decisions(expired, args, user_hash)
            self._archive_ratings(expired, args)
            files = [
                path
                for (params,) in self.db.execute(
                    f"SELECT params FROM jobs WHERE id IN ({expired})", args
                )
                for path in json.loads(params).get("files", [])
            ]
            for table in JOB_TABLES:
                sql = f"DELETE FROM {table} WHERE job IN ({expired})"
                counts[table] = self.db.execute(sql, args).rowcount
            counts["jobs"] = self.db.execute(
                f"DELETE FROM jobs WHERE id IN ({expired})", args
            ).rowcount
            sql = "DELETE FROM strikes WHERE created_at < ?"
            counts["strikes"] = self.db.execute(sql, [before]).rowcount
        return counts, files

    def _log_decisions(self, expired: str, args: list, user_hash: Callable[[int], str]) -> int:
        sql = (
            "SELECT v.created_at, j.guild, j.user, j.command, v.direction, v.action, v.reasons "
            f"FROM verdicts v JOIN jobs j ON v.job = j.id WHERE j.id IN ({expired})"
        )
        rows = [
            {
                "day": time.strftime("%Y-%m-%d", time.gmtime(at)),
                "guild": guild,
                "user_hash": user_hash(user),
                "command": command,
                "direction": direction,
                "action": action,
                "label": _top_label(reasons),
            }
            for at, guild, user, command, direction, action, reasons in self.db.execute(sql, args)
        ]
        self.db["decision_log"].insert_all(rows)
        return len(rows)

    def _archive_ratings(self, expired: str, args: list) -> None:
        sql = (
            "UPDATE community_items SET "
            "up_archived = up_archived + (SELECT count(*) FROM feedback f "
            "  WHERE f.job = community_items.job AND f.rating = 1), "
            "down_archived = down_archived + (SELECT count(*) FROM feedback f "
            "  WHERE f.job = community_items.job AND f.rating = -1) "
            f"WHERE job IN ({expired})"
        )
        self.db.execute(sql, args)

    def decision_counts(self, guild: int, since_day: str) -> list[dict[str, Any]]:
        """Return the logged decisions of purged jobs per day, direction and action."""
        sql = (
            "SELECT day, direction, action, count(*) AS n FROM decision_log "
            "WHERE guild = ? AND day >= ? GROUP BY day, direction, action ORDER BY day"
        )
        return [dict(r) for r in self.db.query(sql, [guild, since_day])]
