"""A minimal discord.py bot using every feature the fake Discord API must support.

Run it with `python -m bot.localdiscord.launch tests.e2e.tiny_bot:main --guild ID [--guild ID2]`;
the token comes from DISCORD_TOKEN.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import re

import discord
from discord import app_commands
from discord.ext import commands

log = logging.getLogger("tiny_bot")
QUIET = discord.AllowedMentions.none()


class NoteModal(discord.ui.Modal):
    """Asks for a note; answers ephemerally, then posts the note as a public follow-up."""

    def __init__(self, n: int) -> None:
        super().__init__(title=f"Note {n}", custom_id=f"tiny:modal:{n}")
        self.n = n
        self.note = discord.ui.TextInput(custom_id="note", max_length=100)
        self.add_item(discord.ui.Label(text="Your note", component=self.note))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Acknowledge privately, then share the note."""
        await interaction.response.send_message("saved", ephemeral=True)
        content = f"note {self.n}: {self.note.value}"
        await interaction.followup.send(content, allowed_mentions=QUIET)


class NoteButton(discord.ui.DynamicItem[discord.ui.Button], template=r"tiny:btn:(?P<n>[0-9]+)"):
    """A persistent button (it survives restarts) that opens NoteModal."""

    def __init__(self, n: int) -> None:
        button = discord.ui.Button(
            label=f"Note {n}", custom_id=f"tiny:btn:{n}", style=discord.ButtonStyle.primary
        )
        super().__init__(button)
        self.n = n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> NoteButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Open the note modal."""
        await interaction.response.send_modal(NoteModal(self.n))


@app_commands.command(name="render", description="Render a prompt from an image.")
async def render(
    interaction: discord.Interaction,
    prompt: str,
    count: app_commands.Range[int, 1, 4],
    image: discord.Attachment,
) -> None:
    """Defer, read the attachment, show progress, then edit in the result file and a button."""
    await interaction.response.defer(thinking=True)
    source = await image.read()
    await interaction.edit_original_response(content=f"rendering {prompt}...")
    view = discord.ui.View(timeout=None)
    view.add_item(NoteButton(count))
    result = discord.File(io.BytesIO(source[::-1]), filename="render.bin")
    await interaction.edit_original_response(
        content=f"{prompt} x{count} ({len(source)} bytes)",
        attachments=[result],
        view=view,
        allowed_mentions=QUIET,
    )


@app_commands.command(name="secret", description="Whisper.")
async def secret(interaction: discord.Interaction) -> None:
    """Answer with an ephemeral message."""
    await interaction.response.send_message("shh", ephemeral=True)


@app_commands.command(name="once", description="Post twice with one nonce.")
async def once(interaction: discord.Interaction) -> None:
    """Send the same enforced nonce twice; Discord must create only one message."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    nonce = str(interaction.id)
    # discord.py 2.7.1 sets enforce_nonce=true itself whenever a nonce is given.
    first = await interaction.channel.send("once", nonce=nonce)
    second = await interaction.channel.send("once", nonce=nonce)
    await interaction.followup.send(f"same={first.id == second.id}", ephemeral=True)


@app_commands.command(name="sleepy", description="Answer late.")
async def sleepy(interaction: discord.Interaction, seconds: float) -> None:
    """Sleep, then try to answer; logs Discord's error when that is too late."""
    await asyncio.sleep(seconds)
    try:
        await interaction.response.send_message("awake")
    except discord.NotFound as exc:
        log.info("too late: %s", exc.code)


@app_commands.command(name="dm", description="DM the invoker.")
async def dm(interaction: discord.Interaction) -> None:
    """DM the invoker, then swap the public "thinking" reply for an ephemeral outcome."""
    await interaction.response.defer(thinking=True)
    user = await interaction.client.fetch_user(interaction.user.id)
    try:
        await user.send("hello from tiny", allowed_mentions=QUIET)
        outcome = "sent"
    except discord.Forbidden as exc:
        outcome = f"closed ({exc.code})"
    await interaction.delete_original_response()
    await interaction.followup.send(outcome, ephemeral=True)


tiny = app_commands.Group(
    name="tiny",
    description="Tiny settings.",
    default_permissions=discord.Permissions(manage_guild=True),
)
policy = app_commands.Group(name="policy", description="Moderation policy.", parent=tiny)


@policy.command(name="set", description="Set the policy.")
async def policy_set(interaction: discord.Interaction, value: str) -> None:
    """Echo the chosen policy."""
    await interaction.response.send_message(f"policy={value}", allowed_mentions=QUIET)


class TinyBot(commands.AutoShardedBot):
    """Syncs its commands to its guilds and registers the persistent button."""

    def __init__(self, guild_ids: list[int]) -> None:
        super().__init__(command_prefix=commands.when_mentioned, intents=discord.Intents.default())
        self.command_guilds = [discord.Object(g) for g in guild_ids]

    async def setup_hook(self) -> None:
        """Register dynamic items and sync each guild's commands."""
        self.add_dynamic_items(NoteButton)
        for guild in self.command_guilds:
            for command in (render, secret, once, sleepy, dm, tiny):
                self.tree.add_command(command, guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %s to %s", [c.name for c in synced], guild.id)

    async def on_ready(self) -> None:
        """Log readiness."""
        log.info("ready as %s in %d guilds", self.user, len(self.guilds))


async def run(bot: TinyBot, token: str) -> None:
    """Run the bot, closing its HTTP session however it ends."""
    async with bot:
        await bot.start(token)


def main(argv: list[str]) -> int:
    """Run the bot until it is stopped; 3 when Discord refuses the token."""
    parser = argparse.ArgumentParser(prog="tiny_bot")
    parser.add_argument("--guild", type=int, action="append", required=True)
    args = parser.parse_args(argv)
    discord.utils.setup_logging(level=logging.INFO)
    try:
        asyncio.run(run(TinyBot(args.guild), os.environ["DISCORD_TOKEN"]))
    except discord.LoginFailure:
        log.error("login failed")
        return 3
    return 0
