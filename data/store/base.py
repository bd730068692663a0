"""The store's shared names: states, user tables, errors and row decoding."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

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
    "community_items": "user",
}
# Columns naming a person who acted (a moderator, a reporter) on rows that are not about them:
# forgetting that person empties the column and keeps the row, which belongs to the guild.
ACTOR_COLUMNS = (
    ("reviews", "resolved_by"),
    ("reviews", "reporter"),
    ("appeals", "resolved_by"),
    ("guild_rules", "created_by"),
    ("image_denylist", "created_by"),
    ("guild_policies", "updated_by"),
    ("community_items", "approved_by"),
)
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
