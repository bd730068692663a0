"""The community's part in training: 👍/👎 ratings on results, and the moderators' gallery,
which is where a result becomes an approved item of the community dataset — only when its
author consented in that guild (`/privacy consent on`)."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any

import discord

from bot import render
from bot.actions import say
from bot.requests import FAMILY, service_call
from moderation.scorers.pii import redact

log = logging.getLogger(__name__)
NONE = discord.AllowedMentions.none()
RATINGS = {"like": 1, "dislike": -1}


@dataclass(frozen=True)
class Approved:
    """What one approved result gives the dataset: (tile, text, image PNG) per output."""

    family: str
    items: tuple[tuple[int, str | None, bytes | None], ...]


def approved_outputs(command: str, reply: dict, tile: int | None = None) -> Approved:
    """Return the outputs of a reply that the dataset keeps: every image tile (or the one
    asked for) of image results, the text of /write, the ABC of /compose."""
    family = FAMILY[command]
    items: list[tuple[int, str | None, bytes | None]] = []
    for k, output in enumerate(reply.get("outputs", [])):
        if family in ("gan", "vae") and output.get("mime") == "image/png":
            if output.get("role") == "grid":
                continue
            index = output.get("index", k)
            if tile is None or index == tile:
                items.append((index, None, base64.b64decode(output["data"])))
        elif output.get("mime") in ("text/plain", "text/vnd.abc") and "text" in output:
            items.append((k, output["text"], None))
    return Approved(family, tuple(items))


class Community:
    """Ratings and the gallery, over the bot's store, service and channels."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    async def rate(self, interaction: discord.Interaction, action: str, job: dict) -> None:
        """Record the clicker's 👍 or 👎 (a second click changes it) and show the counts."""
        await self.bot.store.add_feedback(
            job_id=job["id"], user=interaction.user.id, rating=RATINGS[action]
        )
        counts = await self.bot.store.feedback_for(job["id"])
        tally = f"👍 {counts['up']} · 👎 {counts['down']}"
        await say(
            interaction,
            f"Thanks for rating {render.marker(job['id'])}: {tally}. "
            "Ratings help choose what the community's models learn from.",
        )

    async def promote(self, job: dict, moderator: int, tile: int | None) -> str:
        """Post a result to the guild's gallery channel and, if its author consented, keep it
        in the community dataset; return what happened, in words."""
        config = await self.bot.guild_config(job["guild"])
        if config.gallery_channel is None:
            return "Set a gallery channel first: `/mod gallery channel`."
        if job["state"] != "posted":
            return f"{render.marker(job['id'])} was never posted, so it cannot be promoted."
        reply = await service_call(self.bot.service, job, config)
        if reply["verdict"]["action"] != "allow" or not reply.get("outputs"):
            return f"{render.marker(job['id'])} no longer passes moderation; not promoted."
        approved = approved_outputs(job["command"], reply, tile)
        if not approved.items:
            return f"{render.marker(job['id'])} has no output {tile} to promote."
        item_ids = await self._keep(job, approved, moderator)
        message = await self._post(job, reply, config.gallery_channel)
        if item_ids:
            await self.bot.store.set_gallery_message(item_ids, message.id)
            kept = f"{len(item_ids)} item(s) added to the community dataset."
        else:
            kept = "Its author has not consented, so it is not kept for training."
        return f"Promoted {render.marker(job['id'])} to <#{config.gallery_channel}>. {kept}"

    async def _keep(self, job: dict, approved: Approved, moderator: int) -> list[int]:
        if not await self.bot.store.has_consent(guild=job["guild"], user=job["user"]):
            return []
        prompt = redact(job["params"].get("prompt", ""))
        return [
            await self.bot.store.add_community_item(
                job_id=job["id"],
                tile=tile,
                guild=job["guild"],
                user=job["user"],
                family=approved.family,
                prompt=prompt,
                text=redact(text) if text is not None else None,
                image_png=png,
                approved_by=moderator,
            )
            for tile, text, png in approved.items
        ]

    async def _post(self, job: dict, reply: dict, channel_id: int) -> discord.Message:
        rendered = render.result(job, reply)
        channel = await self.bot.delivery.channel(channel_id)
        files, note = self.bot.delivery.fit(rendered.files, channel)
        return await channel.send(
            f"🖼 Gallery · {rendered.content}{note}",
            embeds=[discord.Embed(description=b) for b in rendered.blocks],
            files=files,
            allowed_mentions=NONE,
        )
