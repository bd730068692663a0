"""Slash-command sync: to the dev guild when one is set (instant), else globally, and globally
only when the command set changed (a fingerprint is kept in the store), since global syncs are
rate-limited and slow to spread."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import discord

log = logging.getLogger(__name__)
META_KEY = "commands_fingerprint"


def fingerprint(payloads: list[dict[str, Any]]) -> str:
    """Return a stable digest of command payloads (order-free)."""
    canonical = sorted(json.dumps(p, sort_keys=True, default=str) for p in payloads)
    return hashlib.sha256("\n".join(canonical).encode()).hexdigest()


async def sync_commands(bot: Any) -> str:
    """Sync the bot's command tree where it belongs; return what was done."""
    tree = bot.tree
    guild_id = bot.settings.dev_guild_id
    if guild_id is not None:
        guild = discord.Object(id=guild_id)
        tree.copy_global_to(guild=guild)
        synced = await tree.sync(guild=guild)
        log.info("synced %d commands to dev guild %s", len(synced), guild_id)
        return "guild"
    digest = fingerprint([c.to_dict(tree) for c in tree.get_commands()])
    if await bot.store.get_meta(META_KEY) == digest:
        log.info("command set unchanged; global sync skipped")
        return "unchanged"
    synced = await tree.sync()
    await bot.store.set_meta(META_KEY, digest)
    log.info("synced %d commands globally", len(synced))
    return "global"
