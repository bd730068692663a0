"""SQL of moderation: verdicts, guild policies, strikes, appeals, rules, denylist, reviews."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils.db import NotFoundError

from data.store.base import ACTIONS, APPEAL_STATES, DIRECTIONS, REVIEW_STATES, _decode


class ModerationTables:
    """Methods of `Store` over the moderation tables."""

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
        gallery_channel: int | None = None,
    ) -> None:
        """Create or replace the guild's policy row."""
        row = {
            "limits": json.dumps(limits or {}, sort_keys=True),
            "guild": guild,
            "preset": preset,
            "overrides": json.dumps(overrides, sort_keys=True),
            "shadow": int(shadow),
            "review_channel": review_channel,
            "gallery_channel": gallery_channel,
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

    def add_review(
        self, *, job_id: int, guild: int | None, kind: str, note: str, reporter: int | None = None
    ) -> int:
        """Queue an item for moderators (a held output or a user's report); return its id."""
        row = {"job": job_id, "guild": guild, "kind": kind, "note": note, "state": "pending"}
        row["reporter"] = reporter
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
