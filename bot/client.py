"""The Discord client: an `AutoShardedBot` whose `setup_hook` opens the store and the service
client, registers the persistent buttons, loads one cog per feature, syncs commands and
resumes the job ledger, and purges what is past retention every hour. No torch is imported here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.actions import Actions, say
from bot.community import Community
from bot.delivery import DiscordDelivery
from bot.guilds import GuildConfig, load_guild_config
from bot.ledger import Ledger
from bot.service_client import ServiceClient
from bot.settings import BotSettings
from bot.sync import sync_commands
from bot.views import ActionButton
from data import install_secret
from data.store import AsyncStore

log = logging.getLogger(__name__)
EXTENSIONS = (
    "bot.cogs.create",
    "bot.cogs.jobs",
    "bot.cogs.moderation",
    "bot.cogs.gallery",
    "bot.cogs.privacy",
)
CONFIG_TTL_S = 30.0
PURGE_EVERY_S = 3600.0


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
        self.community = Community(self)
        self.delivery = DiscordDelivery(self)
        self._configs: dict[int | None, tuple[float, GuildConfig]] = {}
        self.tree.on_error = self.on_app_command_error
        self.store: Any = None
        self.service: ServiceClient | None = None
        self.ledger: Ledger | None = None
        self._secret = b""
        self._purger: asyncio.Task | None = None

    async def setup_hook(self) -> None:
        self.store = await AsyncStore.open(self.settings.home / "genbot.db")
        self._secret = install_secret.load(self.settings.home)
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
        self._purger = asyncio.create_task(self._purge_forever(), name="genbot-retention")
        log.info("genbot ready to serve; %d jobs resumed", resumed)

    def user_hash(self, user: int) -> str:
        """Return the salted pseudonym that stands for a user in the decision log."""
        return install_secret.pseudonym(self._secret, "user", user)

    async def purge_expired(self) -> dict[str, int]:
        """Delete what is older than the retention period (and its uploads); return counts."""
        before = time.time() - self.settings.retention_days * 86400
        counts, files = await self.store.purge_expired(before, self.user_hash)
        for path in files:
            Path(path).unlink(missing_ok=True)
        if counts.get("jobs"):
            log.info("retention: purged %s", counts)
        return counts

    async def _purge_forever(self) -> None:
        while True:
            try:
                await self.purge_expired()
            except Exception:
                log.exception("retention purge failed; trying again later")
            await asyncio.sleep(PURGE_EVERY_S)

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
        if self._purger is not None:
            self._purger.cancel()
        if self.ledger is not None:
            await self.ledger.stop()
        if self.service is not None:
            await self.service.close()
        if self.store is not None:
            await self.store.close()
            self.store = None
        await super().close()
