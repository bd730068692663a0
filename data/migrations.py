"""Schema of the genbot store, as an ordered list of migrations.

Each migration runs once, inside a transaction with the record of it having run
(sqlite-utils' `Migrations`), so a failed migration leaves nothing half-written and
re-applying the set is a no-op. Never edit a released migration: add a new one.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("genbot")


@MIGRATIONS(name="0001_initial")
def initial(db: Database) -> None:
    """Create the first tables: jobs, verdicts, policies, strikes, appeals, consent, feedback."""
    db["jobs"].create(
        {
            "id": int,
            "guild": int,
            "channel": int,
            "user": int,
            "command": str,
            "params": str,
            "state": str,
            "created_at": float,
            "updated_at": float,
            "posted_message_id": int,
            "error": str,
        },
        pk="id",
        not_null=["user", "command", "params", "state", "created_at", "updated_at"],
    )
    db["jobs"].create_index(["state"])
    db["jobs"].create_index(["user", "created_at"])
    db["jobs"].create_index(["guild", "created_at"])

    db["verdicts"].create(
        {
            "id": int,
            "job": int,
            "direction": str,
            "action": str,
            "reasons": str,
            "scores": str,
            "model_versions": str,
            "created_at": float,
        },
        pk="id",
        foreign_keys=[("job", "jobs", "id")],
        not_null=["job", "direction", "action", "created_at"],
    )
    db["verdicts"].create_index(["job"])

    db["guild_policies"].create(
        {
            "guild": int,
            "preset": str,
            "overrides": str,
            "shadow": int,
            "review_channel": int,
            "updated_at": float,
            "updated_by": int,
        },
        pk="guild",
        not_null=["preset", "overrides", "shadow", "updated_at"],
    )

    db["strikes"].create(
        {"id": int, "guild": int, "user": int, "job": int, "label": str, "created_at": float},
        pk="id",
        not_null=["guild", "user", "label", "created_at"],
    )
    db["strikes"].create_index(["guild", "user", "created_at"])

    db["appeals"].create(
        {
            "id": int,
            "job": int,
            "guild": int,
            "user": int,
            "reason": str,
            "state": str,
            "created_at": float,
            "resolved_at": float,
            "resolved_by": int,
        },
        pk="id",
        foreign_keys=[("job", "jobs", "id")],
        not_null=["job", "user", "state", "created_at"],
    )
    db["appeals"].create_index(["guild", "state"])
    db["appeals"].create_index(["user", "created_at"])

    db["consent"].create(
        {"guild": int, "user": int, "granted": int, "updated_at": float},
        pk=("guild", "user"),
        not_null=["granted", "updated_at"],
    )

    db["feedback"].create(
        {"job": int, "user": int, "rating": int, "created_at": float},
        pk=("job", "user"),
        foreign_keys=[("job", "jobs", "id")],
        not_null=["rating", "created_at"],
    )


@MIGRATIONS(name="0002_guild_rules_and_image_denylist")
def guild_rules_and_image_denylist(db: Database) -> None:
    """Add each guild's own moderation rules and its perceptual-hash image denylist."""
    db["guild_rules"].create(
        {
            "id": int,
            "guild": int,
            "label": str,
            "pattern": str,
            "kind": str,
            "score": float,
            "created_by": int,
            "created_at": float,
        },
        pk="id",
        not_null=["guild", "label", "pattern", "kind", "score", "created_at"],
    )
    db["guild_rules"].create_index(["guild", "kind", "pattern"], unique=True)
    db["image_denylist"].create(
        {"guild": int, "hash": str, "note": str, "created_by": int, "created_at": float},
        pk=("guild", "hash"),
        not_null=["created_at"],
    )


@MIGRATIONS(name="0003_bot_ledger")
def bot_ledger(db: Database) -> None:
    """Add what the bot's durable ledger needs: seeds, interaction tokens, results, reviews."""
    jobs = db["jobs"]
    jobs.add_column("seed", int)
    jobs.add_column("parent", int)
    # The interaction token lets a restarted bot edit the original reply; cleared when the job
    # ends, since it is a credential for 15 minutes.
    jobs.add_column("interaction_token", str)
    jobs.add_column("interaction_at", float)
    jobs.add_column("posted_channel_id", int)
    jobs.add_column("attempts", int, not_null_default=0)
    jobs.add_column("result", str)
    jobs.create_index(["guild", "state"])
    db["guild_policies"].add_column("limits", str)
    db["reviews"].create(
        {
            "id": int,
            "job": int,
            "guild": int,
            "kind": str,
            "state": str,
            "note": str,
            "message_id": int,
            "created_at": float,
            "resolved_at": float,
            "resolved_by": int,
        },
        pk="id",
        foreign_keys=[("job", "jobs", "id")],
        not_null=["job", "kind", "state", "created_at"],
    )
    db["reviews"].create_index(["guild", "state"])
    db["meta"].create({"key": str, "value": str}, pk="key")


@MIGRATIONS(name="0004_privacy_and_community")
def privacy_and_community(db: Database) -> None:
    """Add the community dataset, the pseudonymous decision log kept after retention, the
    gallery channel, and a reporter column (a review's note no longer names the reporter)."""
    db["community_items"].create(
        {
            "id": int,
            "job": int,
            "tile": int,
            "guild": int,
            "user": int,
            "family": str,
            "prompt": str,
            "text": str,
            "image_png": bytes,
            "approved_at": float,
            "approved_by": int,
            "gallery_message_id": int,
            # Ratings of a job whose rows retention purged, kept here so the dataset keeps them.
            "up_archived": int,
            "down_archived": int,
        },
        pk="id",
        not_null=["job", "tile", "user", "family", "prompt", "approved_at"],
        defaults={"up_archived": 0, "down_archived": 0},
    )
    db["community_items"].create_index(["job", "tile"], unique=True)
    db["community_items"].create_index(["user"])
    # One row per screened item, kept after the job's own rows are purged: no text, no Discord
    # user id (a salted hash of it), so moderators keep their statistics and nobody their data.
    db["decision_log"].create(
        {
            "id": int,
            "day": str,
            "guild": int,
            "user_hash": str,
            "command": str,
            "direction": str,
            "action": str,
            "label": str,
        },
        pk="id",
        not_null=["day", "user_hash", "command", "direction", "action"],
    )
    db["decision_log"].create_index(["guild", "day"])
    db["decision_log"].create_index(["user_hash"])
    db["guild_policies"].add_column("gallery_channel", int)
    db["reviews"].add_column("reporter", int)
    db["jobs"].create_index(["created_at"])


def apply(db: Database) -> list[str]:
    """Apply every pending migration; return the names of those applied now."""
    pending = [m.name for m in MIGRATIONS.pending(db)]
    if pending:
        MIGRATIONS.apply(db)
    return pending


def applied(db: Database) -> list[str]:
    """Return the names of the migrations this database has, in order."""
    return [m.name for m in MIGRATIONS.applied(db)]


def known() -> list[str]:
    """Return the names of every migration this code knows, in order."""
    return [m.name for m in MIGRATIONS._migrations]
