"""Your jobs: /queue (positions and ETA), /job (show a past result again), /help."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.actions import say

HELP = """**genbot** — create together, safely. Every prompt and every result is screened first.
`/imagine prompt [seed]` four images
  (🔄 re-roll, V1–V4 variations, U1–U4 enlarge, 🚩 report, 🗑 delete)
`/vary image [strength]` variations of your image · `/blend a b` a strip between two images
`/write prompt [max_tokens] [temperature]` text
`/compose prompt [key] [meter] [rhythm]` a folk tune
`/queue` your jobs · `/job id` a past result again · `/privacy consent|export|forget` your data
Moderators: `/mod policy|review|log|stats|strikes|denylist|rules`.
A refused prompt says which check refused it and offers an **Appeal**."""


class Jobs(commands.Cog):
    """Commands about one's own jobs."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    @app_commands.command(name="queue", description="Your jobs: where they are and when")
    async def queue(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        jobs = await self.bot.store.active_jobs(interaction.user.id)
        if not jobs:
            await say(interaction, "You have no jobs waiting or running.")
            return
        lines = []
        for job in jobs:
            place = self.bot.ledger.position(job["id"])
            where = render.queued(*place) if place else f"{job['state']}…"
            lines.append(f"`{job['id']}` /{job['command']} — {where}")
        await say(interaction, "\n".join(lines))

    @app_commands.command(name="job", description="Show one of your past results again")
    @app_commands.describe(id="the job number (shown under every result)")
    async def job(self, interaction: discord.Interaction, id: int) -> None:
        await interaction.response.defer(thinking=True)
        job = await self.bot.store.get_job(id)
        if job is None or (
            job["user"] != interaction.user.id and job["guild"] != interaction.guild_id
        ):
            await self.bot.actions.private(interaction, f"There is no job {id} you can see.")
            return
        if job["state"] != "posted":
            await self.bot.actions.private(
                interaction, f"Job {id} is {job['state']}; nothing to show."
            )
            return
        # Same command, params and seed: the same result, with buttons that point at this job.
        await self.bot.actions.start(
            interaction, job["command"], job["params"], seed=job["seed"], parent=id
        )

    @app_commands.command(name="help", description="What genbot can do")
    async def help(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            HELP, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Jobs(bot))
