"""/privacy: consent to training use, export of one's data, and deletion."""

from __future__ import annotations

import io
import json

import discord
from discord import app_commands
from discord.ext import commands

from bot.actions import PrivateGroup, say
from bot.views import ConfirmForget

privacy = PrivateGroup(name="privacy", description="Your data on this bot")


@privacy.command(name="consent", description="Let (or stop letting) your results train models")
@app_commands.choices(
    choice=[
        app_commands.Choice(name="on", value="on"),
        app_commands.Choice(name="off", value="off"),
    ]
)
async def consent(interaction: discord.Interaction, choice: str) -> None:
    granted = choice == "on"
    await interaction.client.store.set_consent(
        guild=interaction.guild_id, user=interaction.user.id, granted=granted
    )
    if granted:
        text = "Thanks: your approved results here may be used to train genbot's models."
    else:
        text = "Noted: your results will not be used for training."
    await say(interaction, text)


@privacy.command(name="export", description="Everything stored about you, as a JSON file")
async def export(interaction: discord.Interaction) -> None:
    bot = interaction.client
    data = await bot.store.export_user(interaction.user.id, bot.user_hash(interaction.user.id))
    for job in data.get("jobs", []):
        job.pop("interaction_token", None)  # a live credential, not personal data
    blob = json.dumps(data, indent=2, sort_keys=True, default=str).encode()
    file = discord.File(io.BytesIO(blob), filename=f"genbot-data-{interaction.user.id}.json")
    rows = sum(len(v) for v in data.values())
    await interaction.followup.send(f"{rows} rows about you.", file=file, ephemeral=True)


@privacy.command(name="forget", description="Delete everything stored about you")
async def forget(interaction: discord.Interaction) -> None:
    await say(
        interaction,
        "This deletes your jobs, verdicts, strikes, appeals, consent, ratings, approved gallery "
        "items and your entries in the decision log on this bot, everywhere. "
        "Results already posted stay in their channels (delete them with 🗑).",
        view=ConfirmForget(interaction.user.id),
    )


class Privacy(commands.Cog):
    """Holds the /privacy group."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot


async def setup(bot: commands.Bot) -> None:
    bot.tree.add_command(privacy)
    await bot.add_cog(Privacy(bot))
