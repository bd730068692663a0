"""SQL of the community dataset (`community_items`): consented, approved results."""

from __future__ import annotations

from typing import Any

# Ratings: the live feedback rows plus those archived onto the item when retention purged them.
_ITEMS = """
SELECT ci.*, ci.up_archived + coalesce(f.up, 0) AS up,
       ci.down_archived + coalesce(f.down, 0) AS down
FROM community_items ci
JOIN consent c ON c.guild = coalesce(ci.guild, 0) AND c.user = ci.user AND c.granted = 1
LEFT JOIN (
    SELECT job, sum(rating = 1) AS up, sum(rating = -1) AS down FROM feedback GROUP BY job
) f ON f.job = ci.job
"""


class CommunityTables:
    """Methods of `Store` over the community dataset."""

    def add_community_item(
        self,
        *,
        job_id: int,
        tile: int,
        guild: int | None,
        user: int,
        family: str,
        prompt: str,
        approved_by: int,
        text: str | None = None,
        image_png: bytes | None = None,
    ) -> int:
        """Keep one approved output (a text or one image tile); return its id (the existing one
        when this tile of this job was approved before)."""
        row = {
            "job": job_id,
            "tile": tile,
            "guild": guild,
            "user": user,
            "family": family,
            "prompt": prompt,
            "text": text,
            "image_png": image_png,
            "approved_at": self.clock(),
            "approved_by": approved_by,
        }
        with self.db.atomic():
            self.db["community_items"].insert(row, ignore=True)
            sql = "SELECT id FROM community_items WHERE job = ? AND tile = ?"
            return self.db.execute(sql, [job_id, tile]).fetchone()[0]

    def set_gallery_message(self, item_ids: list[int], message_id: int) -> None:
        """Remember the gallery post that shows these items."""
        with self.db.atomic():
            for item_id in item_ids:
                self.db["community_items"].update(item_id, {"gallery_message_id": message_id})

    def community_items(
        self, *, guild: int | None = None, since: float | None = None
    ) -> list[dict[str, Any]]:
        """Return the approved items whose author consents now (in that guild), oldest first,
        with `up` and `down` counts."""
        where, args = [], []
        if guild is not None:
            where, args = [*where, "ci.guild = ?"], [*args, guild]
        if since is not None:
            where, args = [*where, "ci.approved_at >= ?"], [*args, since]
        sql = _ITEMS + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY ci.id"
        return [dict(r) for r in self.db.query(sql, args)]
