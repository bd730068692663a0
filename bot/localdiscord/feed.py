"""What one member of a LocalDiscord guild sees: channels, members, the commands offered to
them and the messages visible to them (ephemeral ones only to the user they were for). Plain
functions over the recorder, serialised as JSON by the local page."""

from __future__ import annotations

from typing import Any

from .interactions import check_permissions
from .models import ADMINISTRATOR, Guild, User
from .records import MessageRecord
from .slash import CHANNEL, ROLE, USER
from .state import World

DM_CHANNEL = "dm"
# The page shows the latest messages of a channel; older ones stay on the server.
MESSAGES_SHOWN = 150
MANAGE_GUILD, MODERATE_MEMBERS = 1 << 5, 1 << 40
# Members with any of these permission bits get a "mod" badge on the page.
MODERATION = ADMINISTRATOR | MANAGE_GUILD | MODERATE_MEMBERS


def world_summary(world: World, guild: Guild, upload_limit: int) -> dict[str, Any]:
    """Return the guild, its channels and members as the page lists them."""
    return {
        "guild": {"id": str(guild.id), "name": guild.name},
        "bot": {"id": str(world.bot.id), "name": world.bot.name},
        "channels": [
            {"id": str(c.id), "name": c.name, "nsfw": c.nsfw, "topic": c.topic}
            for c in sorted(guild.text_channels, key=lambda c: c.position)
        ],
        "members": [
            {"id": str(u.id), "name": u.name, "moderator": bool(u.permissions & MODERATION)}
            for u in guild.members
        ],
        "upload_limit": upload_limit,
    }


def offered(world: World, guild_id: int) -> list[dict]:
    """Return the chat commands usable in the guild (guild scope first), by name."""
    found: dict[str, dict] = {}
    for scope in (guild_id, None):
        for command in world.commands.get(scope, []):
            if command.get("type", 1) == 1:
                found.setdefault(command["name"], command)
    return [found[name] for name in sorted(found)]


def allowed(command: dict, user: User) -> bool:
    """Return whether Discord offers the command to the user (default_member_permissions)."""
    try:
        check_permissions(command, user)
    except PermissionError:
        return False
    return True


def commands_for(world: World, guild_id: int, user: User) -> list[dict]:
    """Return the guild's commands, each marked `allowed` for this user."""
    return [{**c, "allowed": allowed(c, user)} for c in offered(world, guild_id)]


def mention_names(world: World, guild: Guild) -> dict[int, dict[str, int]]:
    """Return {option type: {lower-case name: id}} for members, channels and roles."""
    roles = {r["name"].lstrip("@").lower(): int(r["id"]) for r in guild.roles_payload(world.bot)}
    return {
        USER: {u.name.lower(): u.id for u in [*guild.members, world.bot]},
        CHANNEL: {c.name.lower(): c.id for c in guild.text_channels},
        ROLE: roles,
    }


def visible_to(msg: MessageRecord, user_id: int) -> bool:
    """Return whether the user sees the message: not deleted, and not someone else's ephemeral."""
    if msg.deleted:
        return False
    if not msg.ephemeral:
        return True
    owner = ((msg.interaction_metadata or {}).get("user") or {}).get("id")
    return owner == str(user_id)


def channel_feed(world: World, channel: str, user: User) -> list[dict]:
    """Return the latest messages the user sees in a channel id, or in their DMs ("dm")."""
    if channel == DM_CHANNEL:
        wanted = {cid for cid, who in world.dms.items() if who.id == user.id}
    else:
        wanted = {int(channel)}
    found = [m for m in world.messages.values() if m.channel_id in wanted]
    shown = sorted((m for m in found if visible_to(m, user.id)), key=lambda m: m.id)
    return [message_json(m) for m in shown[-MESSAGES_SHOWN:]]


def message_json(msg: MessageRecord) -> dict:
    """Return the message as Discord sends it, plus what the page needs to draw and diff it."""
    return {
        **msg.payload(),
        "ephemeral": msg.ephemeral,
        "loading": msg.loading,
        "revision": len(msg.versions),
    }
