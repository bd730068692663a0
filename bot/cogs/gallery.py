"""/mod gallery: the channel where moderators show the community's best results, and promotion
into it — which, for authors who consented, makes a result part of the community dataset."""

from __future__ import annotations

from dataclasses import replace

import discord
from discord import app_commands
from discord.ext import commands

from bot.actions import say
from bot.cogs.moderation import ModGroup, mod
from bot.guilds import save_guild_config

gallery = ModGroup(name="gallery", description="The community gallery", parent=mod)


@gallery.command(name="channel", description="Choose the channel promoted results go to")
async def channel(interaction: discord.Interaction, where: discord.TextChannel) -> None:
    bot = interaction.client
    config = await bot.guild_config(interaction.guild_id)
    await save_guild_config(
        bot.store, replace(config, gallery_channel=where.id), interaction.user.id
    )
    bot.forget_guild_config(interaction.guild_id)
    await say(interaction, f"Promoted results now go to {where.mention}.")


@gallery.command(name="promote", description="Show a posted result in the gallery")
@app_commands.describe(job="The job number (under each result)", tile="Only this image, 1-4")
async def promote(
    interaction: discord.Interaction,
    job: app_commands.Range[int, 1],
    tile: app_commands.Range[int, 1, 4] | None = None,
) -> None:
    bot = interaction.client
    row = await bot.store.get_job(job)
    if row is None or row["guild"] != interaction.guild_id:
        await say(interaction, f"There is no job {job} in this server.")
        return
    outcome = await bot.community.promote(
        row, interaction.user.id, None if tile is None else tile - 1
    )
    await say(interaction, outcome)


class Gallery(commands.Cog):
    """Holds /mod gallery (the group hangs off /mod, which the moderation cog adds)."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Gallery(bot))
