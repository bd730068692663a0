"""What the bot does for a command or a click once it has deferred: admission (quotas,
cooldowns, strikes), writing the job, and every persistent button (re-roll, variations,
upscale, 👍/👎, report, delete, review, appeals, forget). Cogs stay thin and call these."""

from __future__ import annotations

import contextlib
import io
import logging
import secrets
import time
from pathlib import Path
from typing import Any

import discord

from bot import render
from bot.delivery import NONE
from bot.limits import DAY_S, Usage, admit
from bot.requests import service_call
from bot.views import AppealModal, view_of
from moderation.scorers.pii import redact

log = logging.getLogger(__name__)
MAX_SEED = 2**31 - 1


def is_moderator(interaction: discord.Interaction) -> bool:
    """Return True for members who may moderate (Manage Server or Moderate Members)."""
    perms = interaction.permissions
    return perms.manage_guild or perms.moderate_members or perms.administrator


def _age_restricted(interaction: discord.Interaction) -> bool:
    channel = interaction.channel
    return bool(getattr(channel, "nsfw", False) or getattr(channel, "is_nsfw", lambda: False)())


async def say(interaction: discord.Interaction, text: str, **kwargs: Any) -> None:
    """Answer privately, whether or not the interaction was acknowledged already."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NONE, **kwargs)
    else:
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=NONE, **kwargs
        )


class PrivateGroup(discord.app_commands.Group):
    """A command group whose commands answer privately: each is deferred (ephemeral) before it
    runs, so no store call can make Discord wait past its 3 s."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not interaction.response.is_done():
            await interaction.response.defer(ephemeral=True, thinking=True)
        return True


class Actions:
    """The bot's behaviour behind commands and buttons."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    @property
    def store(self) -> Any:
        return self.bot.store

    async def usage(self, user: int, guild: int | None, decay_h: float) -> Usage:
        """Return what the user and guild have used, from the store."""
        now = time.time()
        strikes = await self.store.strikes_since(guild or 0, user, now - decay_h * 3600)
        return Usage(
            active=len(await self.store.active_jobs(user)),
            user_today=await self.store.count_jobs_since(now - DAY_S, user=user, guild=guild),
            guild_today=await self.store.count_jobs_since(now - DAY_S, guild=guild) if guild else 0,
            last_job_at=await self.store.last_job_at(user, guild),
            strike_times=tuple(s["created_at"] for s in strikes),
        )

    async def start(
        self,
        interaction: discord.Interaction,
        command: str,
        params: dict,
        *,
        seed: int | None = None,
        parent: int | None = None,
    ) -> dict | None:
        """Admit and write a job for a deferred interaction, then queue it; None if denied."""
        config = await self.bot.guild_config(interaction.guild_id)
        usage = await self.usage(
            interaction.user.id, interaction.guild_id, config.limits.strike_decay_h
        )
        denial = admit(config.limits, usage, time.time())
        if denial is not None:
            await self.private(interaction, f"⏸ {denial.message}")
            return None
        # The channel decides whether the adult preset may apply; it is kept with the job so a
        # resumed or re-rolled job is judged by the same policy.
        params = {**params, "age_restricted": _age_restricted(interaction)}
        # Personal information never reaches the store or the model: the prompt is redacted
        # before the job row is written, and the result says so.
        redacted = redact(params["prompt"]) if "prompt" in params else None
        if redacted is not None and redacted != params["prompt"]:
            params.update(prompt=redacted, redacted=True)
        job = await self.store.create_job(
            guild=interaction.guild_id,
            channel=interaction.channel_id,
            user=interaction.user.id,
            command=command,
            params=params,
            seed=secrets.randbelow(MAX_SEED) if seed is None else seed,
            parent=parent,
            interaction_token=interaction.token,
            interaction_at=interaction.created_at.timestamp(),
        )
        await self.bot.ledger.submit(job)
        place = self.bot.ledger.position(job["id"])
        await self.bot.delivery.progress(job, render.queued(*(place or (None, None))))
        return job

    async def private(self, interaction: discord.Interaction, text: str, view=None) -> None:
        """Replace the public 'thinking' reply by a private message."""
        with contextlib.suppress(discord.HTTPException):
            await interaction.delete_original_response()
        await say(interaction, text, **({"view": view} if view else {}))

    # --- buttons --------------------------------------------------------------------------

    async def on_button(self, interaction: discord.Interaction, custom_id: str) -> None:
        """Route one persistent button click."""
        ns, action, *ids = custom_id.split(":")
        numbers = [int(x) for x in ids if x.isdigit()]
        handler = {
            "gen": self._job_button,
            "rev": self._review_button,
            "appeal": self._appeal_button,
            "apl": self._appeal_decision,
            "privacy": self._forget_button,
        }[ns]
        await handler(interaction, action, numbers)

    async def _job_button(self, interaction, action: str, ids: list[int]) -> None:
        source = await self.store.get_job(ids[0])
        if source is None:
            await say(interaction, "That result is gone (its data was deleted).")
            return
        if action in ("reroll", "var", "up"):
            await interaction.response.defer(thinking=True)
            prompt = source["params"].get("prompt", "")
            if action == "reroll":
                await self.start(interaction, "reroll", {"prompt": prompt}, parent=source["id"])
            elif action == "var":
                params = {"prompt": prompt, "source_seed": source["seed"], "tile": ids[1]}
                await self.start(interaction, "variation", params, parent=source["id"])
            else:
                params = {"prompt": prompt, "tile": ids[1]}
                await self.start(
                    interaction, "upscale", params, seed=source["seed"], parent=source["id"]
                )
        elif action in ("like", "dislike"):
            await self.bot.community.rate(interaction, action, source)
        elif action == "report":
            review = await self.store.add_review(
                job_id=source["id"],
                guild=source["guild"],
                kind="report",
                note="reported by a member",
                reporter=interaction.user.id,
            )
            await say(interaction, "Thanks: the moderators will look at it.")
            await self.show_review(review, source, None, interaction.message)
        elif action == "del":
            if interaction.user.id != source["user"] and not is_moderator(interaction):
                await say(interaction, "Only the requester or a moderator can delete this.")
                return
            await interaction.message.delete()
            await say(interaction, "Deleted.")

    async def show_review(self, review_id: int, job: dict, reply: dict | None, message=None):
        """Post a review item to the guild's review channel with Approve and Reject."""
        config = await self.bot.guild_config(job["guild"])
        if config.review_channel is None:
            return
        channel = self.bot.get_channel(config.review_channel)
        if channel is None:
            return
        review = await self.store.get_review(review_id)
        where = f"<#{job['channel']}>" if job["channel"] else "a DM"
        text = (
            f"**{review['kind']}** #{review_id}: {render.marker(job['id'])} by <@{job['user']}> "
            f"in {where}: `{review['note']}`\n> {job['params'].get('prompt', '')[:300]}"
        )
        if message is not None:
            text += f"\n{message.jump_url}"
        files = []
        if reply is not None:
            rendered = render.result(job, reply)
            files = [
                discord.File(io.BytesIO(d), filename=n, spoiler=True) for n, d in rendered.files
            ]
        buttons = [
            render.Button("Approve", f"rev:approve:{review_id}", "success"),
            render.Button("Reject", f"rev:reject:{review_id}", "danger"),
        ]
        sent = await channel.send(text, files=files, view=view_of(buttons), allowed_mentions=NONE)
        await self.store.set_review_message(review_id, sent.id)

    async def _review_button(self, interaction, action: str, ids: list[int]) -> None:
        if not is_moderator(interaction):
            await say(interaction, "Only moderators can review.")
            return
        review = await self.store.get_review(ids[0])
        state = "approved" if action == "approve" else "rejected"
        if review is None or not await self.store.resolve_review(
            review["id"], state=state, by=interaction.user.id
        ):
            await say(interaction, "That item was already reviewed.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        job = await self.store.get_job(review["job"])
        outcome = await self._apply_review(review, job, state)
        await interaction.followup.send(outcome, ephemeral=True, allowed_mentions=NONE)

    async def _apply_review(self, review: dict, job: dict, state: str) -> str:
        if review["kind"] == "report":
            if state != "rejected":
                return "Report dismissed."
            # An upheld report is misuse: a strike, so that repeated misuse pauses the member
            # like repeatedly refused prompts do.
            await self.store.add_strike(
                guild=job["guild"] or 0, user=job["user"], label="reported", job_id=job["id"]
            )
            if job.get("posted_message_id"):
                channel = await self.bot.delivery.channel(
                    job["posted_channel_id"] or job["channel"]
                )
                with contextlib.suppress(discord.HTTPException):
                    await (await channel.fetch_message(job["posted_message_id"])).delete()
            return f"Report upheld: {render.marker(job['id'])} was removed and its author struck."
        if state == "rejected":
            return f"Rejected: {render.marker(job['id'])} will not be posted."
        config = await self.bot.guild_config(job["guild"])
        reply = await service_call(self.bot.service, job, config)
        if reply["verdict"]["action"] == "block" or not reply.get("outputs"):
            return "The regenerated result is now blocked outright; nothing was posted."
        message = render.result(job, reply)
        channel = await self.bot.delivery.channel(job["channel"])
        files, note = self.bot.delivery.fit(message.files, channel)
        embeds = [discord.Embed(description=b) for b in message.blocks]
        mid, cid = await self.bot.delivery.send_once(
            channel, job["id"], message.content + note, embeds, files, view_of(message.buttons)
        )
        await self.store.set_posted(job["id"], mid, cid)
        return f"Approved: {render.marker(job['id'])} was posted in <#{cid}>."

    async def _appeal_button(self, interaction, action: str, ids: list[int]) -> None:
        job = await self.store.get_job(int(action))
        if job is None or job["user"] != interaction.user.id:
            await say(interaction, "Only the person who was refused can appeal.")
            return
        await interaction.response.send_modal(AppealModal(job["id"], self))

    async def on_appeal(self, interaction: discord.Interaction, job_id: int, reason: str) -> None:
        """File an appeal from the modal, within the guild's daily limit."""
        job = await self.store.get_job(job_id)
        config = await self.bot.guild_config(job["guild"])
        used = await self.store.count_appeals_since(interaction.user.id, time.time() - DAY_S)
        if used >= config.limits.appeals_per_day:
            await say(
                interaction, f"You have used today's {config.limits.appeals_per_day} appeals."
            )
            return
        appeal = await self.store.add_appeal(
            job_id=job_id, guild=job["guild"], user=interaction.user.id, reason=reason
        )
        await say(interaction, f"Appeal #{appeal} sent: a moderator will review it.")
        channel = self.bot.get_channel(config.review_channel or 0)
        if channel is not None:
            buttons = [
                render.Button("Accept", f"apl:accept:{appeal}", "success"),
                render.Button("Reject", f"apl:reject:{appeal}", "danger"),
            ]
            await channel.send(
                f"**appeal** #{appeal} of {render.marker(job_id)} by <@{job['user']}>: "
                f"{reason[:500]}\n> {job['params'].get('prompt', '')[:300]}",
                view=view_of(buttons),
                allowed_mentions=NONE,
            )

    async def _appeal_decision(self, interaction, action: str, ids: list[int]) -> None:
        if not is_moderator(interaction):
            await say(interaction, "Only moderators can decide appeals.")
            return
        appeal_id = ids[0]
        state = "accepted" if action == "accept" else "rejected"
        if not await self.store.resolve_appeal(appeal_id, state=state, by=interaction.user.id):
            await say(interaction, "That appeal was already decided.")
            return
        if state == "rejected":
            await say(interaction, f"Appeal #{appeal_id} rejected.")
            return
        appeal = await self.store.get_appeal(appeal_id)
        job = await self.store.get_job(appeal["job"])
        params = {**job["params"], "approved": True}  # by a moderator: not screened again
        rerun = await self.store.create_job(
            guild=job["guild"],
            channel=job["channel"],
            user=job["user"],
            command=job["command"],
            params=params,
            seed=job["seed"],
            parent=job["id"],
        )
        await self.bot.ledger.submit(rerun)
        await say(interaction, f"Appeal #{appeal_id} accepted: {render.marker(rerun['id'])} runs.")

    async def _forget_button(self, interaction, action: str, ids: list[int]) -> None:
        if not ids or ids[0] != interaction.user.id:
            await say(interaction, "Only that user can delete their own data.")
            return
        # Uploaded images wait on disk for their jobs (and for `/job` replays): delete them too.
        for job in await self.store.user_jobs(interaction.user.id, limit=100_000):
            for path in job["params"].get("files", []):
                Path(path).unlink(missing_ok=True)
        counts = await self.store.forget_user(
            interaction.user.id, self.bot.user_hash(interaction.user.id)
        )
        total = sum(counts.values())
        await say(interaction, f"Done: {total} rows about you were deleted.")
