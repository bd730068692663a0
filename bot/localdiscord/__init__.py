"""A Discord-compatible API server (REST + gateway) on loopback: what `genbot run --local` and
the end-to-end tests run the unmodified discord.py client against. It is a faithful subset of
the real protocol, not a shortcut around the bot.

    fake = LocalDiscord(token="test-token", guilds=[Guild()])
    await fake.start()
    bot = BotProcess(fake, "tests.e2e.tiny_bot:main", ["--guild", str(guild.id)], log_path=...)
    bot.start()                      # python -m bot.localdiscord.launch ... with fake.launch_env()
    await bot.wait_ready()
    inter = await fake.invoke("render", {"prompt": "a cat"}, attachments={...})
    await fake.wait_for(lambda: inter.original and not inter.original.loading)
    ...
    await bot.stop(); await fake.stop()

The unmodified discord.py client talks to it; everything it does is recorded (`fake.requests`,
`fake.messages(channel_id)`, each `InteractionRecord`), and Discord's rules that bots trip over
are enforced: the 3 s ack deadline (10062), one callback (40060), 15-minute webhook tokens
(50027), message limits (50035/50006/40005), enforced nonces.
"""

from .models import (
    ADMINISTRATOR,
    BOT_PERMISSIONS,
    MEMBER_PERMISSIONS,
    Channel,
    Guild,
    User,
    new_snowflake,
)
from .process import BotProcess
from .records import (
    ApiErrorRecord,
    Callback,
    InteractionRecord,
    MessageRecord,
    RequestRecord,
    StoredFile,
)
from .server import LocalDiscord
from .state import ApiError

__all__ = [
    "ADMINISTRATOR",
    "BOT_PERMISSIONS",
    "MEMBER_PERMISSIONS",
    "ApiError",
    "ApiErrorRecord",
    "BotProcess",
    "Callback",
    "Channel",
    "Guild",
    "InteractionRecord",
    "LocalDiscord",
    "MessageRecord",
    "RequestRecord",
    "StoredFile",
    "User",
    "new_snowflake",
]
