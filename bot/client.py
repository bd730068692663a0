"""The Discord client: an `AutoShardedBot` whose `setup_hook` opens the store and the service
client, registers the persistent buttons, loads one cog per feature, syncs commands and
resumes the job ledger. No torch is imported here."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.actions import Actions, say
from bot.delivery import DiscordDelivery
from bot.guilds import GuildConfig, load_guild_config
from bot.ledger import Ledger
from bot.service_client import ServiceClient
from bot.settings import BotSettings
from bot.sync import sync_commands
from bot.views import ActionButton
from data.store import AsyncStore

log = logging.getLogger(__name__)
EXTENSIONS = ("bot.cogs.create", "bot.cogs.jobs", "bot.cogs.moderation", "bot.cogs.privacy")
CONFIG_TTL_S = 30.0


class GenBot(commands.AutoShardedBot):
    """genbot's Discord client."""

    def __init__(self, settings: BotSettings, service_urls: tuple[str, ...], workers: int = 4):
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self.settings, self.service_urls, self.workers = settings, service_urls, workers
        self.actions = Actions(self)
        self.delivery = DiscordDelivery(self)
        self._configs: dict[int | None, tuple[float, GuildConfig]] = {}
        self.tree.on_error = self.on_app_command_error
        self.store: Any = None
        self.service: ServiceClient | None = None
        self.ledger: Ledger | None = None

    async def setup_hook(self) -> None:
        self.store = await AsyncStore.open(self.settings.home / "genbot.db")
        token = self.settings.service_token
        self.service = ServiceClient(self.service_urls, token.reveal() if token else None)
        self.ledger = Ledger(
            self.store, self.service, self.delivery, self.guild_config, workers=self.workers
        )
        self.add_dynamic_items(ActionButton)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await sync_commands(self)
        resumed = await self.ledger.start()
        log.info("genbot ready to serve; %d jobs resumed", resumed)

    async def guild_config(self, guild: int | None) -> GuildConfig:
        """Return the guild's settings, cached for a few seconds."""
        cached = self._configs.get(guild)
        if cached and time.monotonic() - cached[0] < CONFIG_TTL_S:
            return cached[1]
        config = await load_guild_config(self.store, guild)
        self._configs[guild] = (time.monotonic(), config)
        return config

    def forget_guild_config(self, guild: int | None) -> None:
        """Drop a guild's cached settings after a moderator changed them."""
        self._configs.pop(guild, None)

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Answer every failed command in words, and log it once, never as an unhandled error."""
        if isinstance(error, app_commands.CheckFailure):
            return  # the check already answered
        log.error("command %s failed: %r", interaction.command and interaction.command.name, error)
        with contextlib.suppress(discord.HTTPException):
            await say(interaction, "Something went wrong on our side; it has been logged.")

    async def on_error(self, event: str, *args: Any, **kwargs: Any) -> None:
        log.exception("error in event %s", event)

    async def close(self) -> None:
        """Stop the ledger (running jobs get a grace period), then the clients and the store."""
        if self.ledger is not None:
            await self.ledger.stop()
        if self.service is not None:
            await self.service.close()
        if self.store is not None:
            await self.store.close()
            self.store = None
        await super().close()
