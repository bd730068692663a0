"""`genbot run`: the bot process. Without a token it says how to get one; without a service URL
it starts a local service child; SIGINT/SIGTERM close it gracefully (unfinished jobs stay in
the ledger and resume at the next start)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

import discord

from bot.settings import BotSettings

log = logging.getLogger(__name__)
NO_TOKEN = """genbot run needs a bot token in DISCORD_TOKEN.
  1. Open the Discord developer portal, create an application, and add a Bot to it.
  2. Copy the bot's token and put it in the environment: export DISCORD_TOKEN=...
     (or in a .env file you source; never in genbot.toml, which refuses secrets).
  3. Invite the bot with the scopes `bot` and `applications.commands`.
  4. Optional: GENBOT_DEV_GUILD_ID=<your test server id> makes commands appear at once.
To try genbot without Discord, see `genbot run --local` in the README."""


async def run_bot(settings: BotSettings, serve_args: Sequence[str] = ()) -> int:
    """Run the bot until it is closed; return the exit status."""
    from bot.client import GenBot
    from bot.local_service import LocalService

    child = None
    urls = settings.service_urls
    if not urls:
        child = await LocalService.start(serve_args)
        urls = (child.url,)
    bot = GenBot(settings, urls)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda s=sig: _shutdown(bot, s))
    try:
        async with bot:
            await bot.start(settings.discord_token.reveal())
    except discord.LoginFailure:
        log.error("Discord refused the token in DISCORD_TOKEN; check it in the developer portal")
        return 2
    finally:
        if child is not None:
            await child.stop()
    return 0


def _shutdown(bot, sig: signal.Signals) -> None:
    log.info("received %s: closing (unfinished jobs resume at the next start)", sig.name)
    asyncio.get_running_loop().create_task(bot.close())


def main(settings: BotSettings, serve_args: Sequence[str] = ()) -> int:
    """Entry of `genbot run`."""
    if settings.discord_token is None:
        print(NO_TOKEN)
        return 2
    return asyncio.run(run_bot(settings, serve_args))
