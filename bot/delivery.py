"""The Discord side of the ledger: progress edits, posting results exactly once, refusals with
an Appeal button, held items for the review channel, failures.

A job whose interaction is younger than `fresh_for_s` (10 minutes) is answered by editing the
interaction's original reply, which is idempotent. An older one is posted with `channel.send`
under a nonce with `enforce_nonce`, after looking for a message that already carries the job's
report button, so a bot killed between posting and recording posts nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections import OrderedDict
from typing import Any

import discord

from bot import render
from bot.views import view_of
from moderation.verdict import Verdict

log = logging.getLogger(__name__)
NONE = discord.AllowedMentions.none()
DEFAULT_FILE_LIMIT = 10 * 2**20


def interaction_webhook(bot: discord.Client, token: str) -> discord.Webhook:
    """Return the follow-up webhook of an interaction from its stored token (works after a
    restart, with the bot's state, so persistent buttons may be attached)."""
    data = {"id": bot.application_id, "type": 3, "token": token}
    return discord.Webhook.from_state(data, bot._connection)


def nonce_for(job_id: int) -> str:
    """Return the message nonce of a job's channel post (Discord keeps nonces ≤ 25 chars)."""
    return f"genbot-job-{job_id}"


def _custom_ids(message: discord.Message) -> set[str]:
    ids = set()
    for row in message.components:
        for child in getattr(row, "children", [row]):
            if getattr(child, "custom_id", None):
                ids.add(child.custom_id)
    return ids


class DiscordDelivery:
    """Delivers ledger outcomes through discord.py."""

    def __init__(self, bot: Any, fresh_for_s: float = 600.0, progress_every_s: float = 1.0):
        self.bot = bot
        self.fresh_for_s, self.progress_every_s = fresh_for_s, progress_every_s
        self._last_progress: dict[int, tuple[float, str]] = {}
        # One lock per job orders its edits, and a delivered job takes no more progress edits:
        # otherwise a queue-position edit sent just before the result could land after it.
        self._locks: dict[int, asyncio.Lock] = {}
        self._delivered: OrderedDict[int, None] = OrderedDict()

    def _lock(self, job_id: int) -> asyncio.Lock:
        return self._locks.setdefault(job_id, asyncio.Lock())

    def _mark_delivered(self, job_id: int) -> None:
        self._last_progress.pop(job_id, None)
        self._locks.pop(job_id, None)
        self._delivered[job_id] = None
        while len(self._delivered) > 10_000:
            self._delivered.popitem(last=False)

    def fresh(self, job: dict) -> bool:
        """Return True while the job's interaction token may still be used for its answer."""
        at = job.get("interaction_at")
        return (
            bool(job.get("interaction_token"))
            and at is not None
            and (time.time() - at < self.fresh_for_s)
        )

    async def progress(self, job: dict, text: str) -> None:
        """Edit the job's reply to `text`, at most once per `progress_every_s`, if changed."""
        async with self._lock(job["id"]):
            if job["id"] not in self._delivered:
                await self._progress(job, text)

    async def _progress(self, job: dict, text: str) -> None:
        now = time.monotonic()
        last = self._last_progress.get(job["id"])
        if last and (last[1] == text or now - last[0] < self.progress_every_s):
            return
        if not self.fresh(job):
            self._last_progress[job["id"]] = (now, text)
            return
        try:
            await interaction_webhook(self.bot, job["interaction_token"]).edit_message(
                "@original", content=text, allowed_mentions=NONE
            )
        except discord.HTTPException as exc:
            log.info("progress edit of job %s failed: %s", job["id"], exc)
        finally:
            # Counted from when the edit landed: under load a slow edit followed by a fast one
            # would otherwise arrive less than a second apart.
            self._last_progress[job["id"]] = (time.monotonic(), text)

    async def post(self, job: dict, reply: dict) -> tuple[int, int]:
        """Post the result once; return (message id, channel id)."""
        async with self._lock(job["id"]):
            self._mark_delivered(job["id"])
            return await self._post(job, reply)

    async def _post(self, job: dict, reply: dict) -> tuple[int, int]:
        message = render.result(job, reply)
        channel = await self.channel(job["channel"])
        files, note = self.fit(message.files, channel)
        content = message.content + note
        embeds = [discord.Embed(description=block) for block in message.blocks]
        view = view_of(message.buttons)
        if self.fresh(job):
            hook = interaction_webhook(self.bot, job["interaction_token"])
            sent = await hook.edit_message(
                "@original",
                content=content,
                embeds=embeds,
                attachments=files,
                view=view,
                allowed_mentions=NONE,
            )
            return sent.id, sent.channel.id
        return await self.send_once(channel, job["id"], content, embeds, files, view)

    async def send_once(self, channel, job_id, content, embeds, files, view) -> tuple[int, int]:
        """Send a job's message to a channel unless one is already there; return its ids."""
        existing = await self._find(channel, job_id)
        if existing is not None:
            return existing.id, channel.id
        sent = await channel.send(
            content=content,
            embeds=embeds,
            files=files,
            view=view,
            allowed_mentions=NONE,
            nonce=nonce_for(job_id),  # discord.py adds enforce_nonce with a nonce
        )
        return sent.id, channel.id

    async def _find(self, channel: Any, job_id: int) -> discord.Message | None:
        # Only a result carries the job's report button; notices that name the job do not.
        wanted = render.report_id(job_id)
        me = self.bot.user.id
        async for message in channel.history(limit=100):
            if message.author.id == me and wanted in _custom_ids(message):
                return message
        return None

    def fit(self, files: tuple, channel: Any) -> tuple[list[discord.File], str]:
        """Return the files that fit the server's upload limit, and a note when one did not."""
        guild = getattr(channel, "guild", None)
        limit = guild.filesize_limit if guild is not None else DEFAULT_FILE_LIMIT
        kept = [(n, d) for n, d in files if len(d) <= limit]
        note = "" if len(kept) == len(files) else "\n-# A file was too large for this server."
        return [discord.File(io.BytesIO(d), filename=n) for n, d in kept], note

    async def channel(self, channel_id: int) -> Any:
        """Return a channel from the cache, or fetched."""
        return self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)

    async def refuse(self, job: dict, verdict: Verdict, what: str) -> None:
        """Tell the requester privately why, with an Appeal button; never post the output."""
        # Only a refused prompt is quoted: an output's span points into text that must not show.
        quoted = job["params"].get("prompt") if what == "prompt" else None
        text = render.refusal(verdict, what, quoted)
        await self.private(job, text, view_of([render.Button("Appeal", f"appeal:{job['id']}")]))

    async def fail(self, job: dict, reason: str) -> None:
        """Tell the requester the job failed, and why."""
        await self.private(job, f"❌ {reason} ({render.marker(job['id'])})", None)

    async def private(self, job: dict, text: str, view: discord.ui.View | None) -> None:
        """Replace the public 'thinking' reply with an ephemeral message (a DM when too late)."""
        async with self._lock(job["id"]):
            self._mark_delivered(job["id"])
            await self._private(job, text, view)

    async def _private(self, job: dict, text: str, view: discord.ui.View | None) -> None:
        token = job.get("interaction_token")
        if token and time.time() - (job.get("interaction_at") or 0) < 14 * 60:
            hook = interaction_webhook(self.bot, token)
            with contextlib.suppress(discord.HTTPException):
                await hook.delete_message("@original")
            kwargs = {"view": view} if view is not None else {}
            await hook.send(text, ephemeral=True, allowed_mentions=NONE, **kwargs)
            return
        try:
            user = self.bot.get_user(job["user"]) or await self.bot.fetch_user(job["user"])
            await user.send(text, allowed_mentions=NONE, **({"view": view} if view else {}))
        except discord.HTTPException as exc:
            log.info("could not tell user of job %s: %s", job["id"], exc)

    async def hold(self, job: dict, reply: dict, review_id: int) -> None:
        """Tell the requester the result waits for review; show it to the review channel."""
        async with self._lock(job["id"]):
            self._mark_delivered(job["id"])
            await self._held(job)
        await self.bot.actions.show_review(review_id, job, reply)

    async def _held(self, job: dict) -> None:
        if self.fresh(job):
            hook = interaction_webhook(self.bot, job["interaction_token"])
            await hook.edit_message("@original", content=render.held(job), allowed_mentions=NONE)
