"""`genbot run --local`: the whole bot on this machine, with no Discord account or token.

Starts the local Discord server (bot.localdiscord) on 127.0.0.1 with one guild, "genbot local"
(#general, #art-18 age-restricted, #mod-review; members Mo the moderator, Ada and Bo), and its
web page; then the real `genbot run` as a subprocess aimed at it through
`bot.localdiscord.launch`. The bot starts its own generation service child as usual, with the
extra arguments (`--tiny` for untrained tiny models). Once everything answers, it points the
guild's review channel at #mod-review through a real `/mod policy set` by Mo, and prints the
page's address. Ctrl-C or SIGTERM stops the bot by its PID (it stops its service), then the
server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.localdiscord import (
    MEMBER_PERMISSIONS,
    BotProcess,
    Channel,
    Guild,
    InteractionRecord,
    LocalDiscord,
    User,
)
from bot.localdiscord.page import Page
from bot.settings import BotSettings, merged_environment

FLAG = "--local"
DEFAULT_PORT = 8780
BOT_READY_S = 120.0
MODELS_READY_S = 900.0
MANAGE_GUILD, MODERATE_MEMBERS = 1 << 5, 1 << 40
# Fixed ids: the same local guild every run, so its settings and jobs in GENBOT_HOME carry over.
GUILD_ID, BOT_ID = 1_000_000_000_000_000_100, 1_000_000_000_000_000_101
# The variables local mode sets itself; the rest of the user's GENBOT_* reach the bot as given.
OWNED = ("GENBOT_HOME", "GENBOT_DEV_GUILD_ID", "GENBOT_SERVICE_URL", "GENBOT_CONFIG")
SERVICE_LINE = re.compile(r"local generation service \(pid \d+\) on port (\d+)")
USAGE = "usage: genbot run --local [--port N] [serve arguments, e.g. --tiny]"


class LocalModeError(Exception):
    """Local mode could not start; the message says why."""


@dataclass(frozen=True)
class LocalOptions:
    """Where the page listens and what the generation service child is given."""

    port: int = DEFAULT_PORT
    serve_args: tuple[str, ...] = ()


def parse_args(argv: Sequence[str]) -> LocalOptions:
    """Return the options in `genbot run` arguments: --local, --port N, and serve's own."""
    port, rest, args = DEFAULT_PORT, [], list(argv)
    while args:
        arg = args.pop(0)
        if arg == FLAG:
            continue
        if arg == "--port" or arg.startswith("--port="):
            raw = arg.partition("=")[2] if "=" in arg else (args.pop(0) if args else "")
            if not raw.isdigit() or not 0 <= int(raw) <= 65535:
                raise LocalModeError(f"--port needs a port number 0-65535, got {raw!r}\n{USAGE}")
            port = int(raw)
            continue
        rest.append(arg)
    return LocalOptions(port, tuple(rest))


def local_guild() -> Guild:
    """Return the local guild: three channels, a moderator and two members."""
    mo = User(
        id=GUILD_ID + 10,
        name="Mo",
        permissions=MEMBER_PERMISSIONS | MODERATE_MEMBERS | MANAGE_GUILD,
    )
    channels = [
        Channel(id=GUILD_ID + 1, name="general", position=0, topic="Make things together"),
        Channel(id=GUILD_ID + 2, name="art-18", position=1, nsfw=True, topic="Age-restricted"),
        Channel(id=GUILD_ID + 3, name="mod-review", position=2, topic="Held items and appeals"),
    ]
    members = [mo, User(id=GUILD_ID + 11, name="Ada"), User(id=GUILD_ID + 12, name="Bo")]
    return Guild(
        id=GUILD_ID, name="genbot local", channels=channels, owner_id=mo.id, members=members
    )


def child_env(settings: BotSettings, environ: Mapping[str, str], guild: Guild) -> dict[str, str]:
    """Return the GENBOT_* settings the bot process gets (the user's, less those owned here)."""
    given = {k: v for k, v in environ.items() if k.startswith("GENBOT_") and k not in OWNED}
    return {
        **given,
        "GENBOT_HOME": str(settings.home),
        "GENBOT_DEV_GUILD_ID": str(guild.id),
        "PYTHONUNBUFFERED": "1",
    }


def private_answer(inter: InteractionRecord) -> str | None:
    """Return the text of an interaction's ephemeral answer, once there is one."""
    for msg in [*inter.followups, inter.original]:
        if msg is not None and msg.ephemeral and not msg.loading and msg.content:
            return msg.content
    return None


async def set_review_channel(fake: LocalDiscord, guild: Guild) -> None:
    """Have Mo run `/mod policy set key:review_channel value:<#mod-review>` and check it took."""
    mo, review = guild.members[0], guild.text_channels[2]
    inter = await fake.invoke(
        "mod",
        {"key": "review_channel", "value": str(review.id)},
        user=mo,
        guild_id=guild.id,
        channel_id=review.id,
        subcommand="policy set",
    )
    answer = await fake.wait_for(lambda: private_answer(inter), 30)
    if "Set" not in answer:
        raise LocalModeError(f"could not set the review channel: {answer}")


async def wait_for_models(bot: BotProcess, timeout: float = MODELS_READY_S) -> None:
    """Wait until the bot's generation service child answers /readyz."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < deadline:
            if bot.returncode is not None:
                raise LocalModeError(f"the bot exited with status {bot.returncode}")
            found = SERVICE_LINE.search(bot.log_text())
            if found:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    url = f"http://127.0.0.1:{found.group(1)}/readyz"
                    async with http.get(url) as reply:
                        if reply.status == 200:
                            return
            await asyncio.sleep(0.25)
    raise LocalModeError(f"the generation service was not ready within {timeout:.0f} s")


async def bring_up(fake: LocalDiscord, bot: BotProcess, guild: Guild) -> None:
    """Start the bot; return once it is connected, its models answer and review is set."""
    bot.start()
    try:
        await bot.wait_ready(timeout=BOT_READY_S)
    except (TimeoutError, RuntimeError) as exc:
        raise LocalModeError(str(exc).split("; log:")[0]) from None
    await wait_for_models(bot)
    await set_review_channel(fake, guild)


def log_tail(path: Path, lines: int = 25) -> str:
    """Return the last lines of a log file, indented."""
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


async def run_local(
    settings: BotSettings, options: LocalOptions, environ: Mapping[str, str]
) -> int:
    """Serve the local guild and its page, run the bot against it until stopped; exit status."""
    started = time.monotonic()
    guild = local_guild()
    fake = LocalDiscord(secrets.token_urlsafe(32), [guild], bot_name="genbot", bot_id=BOT_ID)
    try:
        await fake.start(options.port, extend=Page(fake, guild).install)
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        print(
            f"genbot: error: cannot listen on 127.0.0.1:{options.port} ({reason}); "
            "choose another port with --port N",
            file=sys.stderr,
        )
        return 2
    logfile = settings.home / "local-mode.log"
    logfile.unlink(missing_ok=True)
    env = child_env(settings, environ, guild)
    args = ["run", *options.serve_args]
    bot = BotProcess(
        fake, "bot.cli:main", args, log_path=logfile, env=env, cwd=Path.cwd(), new_session=True
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await _serve(fake, bot, guild, stop, started)
    finally:
        print("genbot local: stopping the bot and its models…", flush=True)
        await bot.stop(grace_s=30)
        await fake.stop()
        print("genbot local: stopped", flush=True)


async def _serve(
    fake: LocalDiscord, bot: BotProcess, guild: Guild, stop: asyncio.Event, started: float
) -> int:
    """Bring the bot up, announce the page, then wait for a stop signal or the bot's exit."""
    print(
        f"genbot local: starting the bot and its models at {fake.url}/ (log: {bot.log_path})",
        flush=True,
    )
    stopped = asyncio.ensure_future(stop.wait())
    bringing = asyncio.ensure_future(bring_up(fake, bot, guild))
    try:
        await asyncio.wait({bringing, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not bringing.done():
            bringing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bringing
            return 0
        try:
            bringing.result()
        except (LocalModeError, TimeoutError, LookupError) as exc:
            reason = str(exc) or "timed out"
            print(f"genbot local: error: {reason}\n{log_tail(bot.log_path)}", file=sys.stderr)
            return 1
        return await _announce_and_wait(fake, bot, stopped, started)
    finally:
        stopped.cancel()


async def _announce_and_wait(
    fake: LocalDiscord, bot: BotProcess, stopped: asyncio.Future, started: float
) -> int:
    """Print the page's address, then wait for a stop signal (0) or the bot's exit (1)."""
    took = time.monotonic() - started
    print(f"genbot local: ready in {took:.1f} s: open {fake.url}/  (Ctrl-C stops)", flush=True)
    while not stopped.done() and bot.returncode is None:
        await asyncio.wait({stopped}, timeout=0.5)
    if not stopped.done():
        tail = log_tail(bot.log_path)
        print(f"genbot local: the bot exited ({bot.returncode}):\n{tail}", file=sys.stderr)
        return 1
    return 0


def main(settings: BotSettings, argv: Sequence[str]) -> int:
    """Entry of `genbot run --local`; return the exit status."""
    try:
        options = parse_args(argv)
    except LocalModeError as exc:
        print(f"genbot: error: {exc}", file=sys.stderr)
        return 2
    # Every request of the bot would be an access-log line; the bot's own log has the story.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    environ = merged_environment(os.environ, Path.cwd())
    return asyncio.run(run_local(settings, options, environ))
