"""LocalDiscord: the loopback Discord API server and the API tests drive it with."""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .channels import ChannelRoutes
from .gateway import Gateway
from .interactions import (
    FileSpec,
    base_payload,
    check_permissions,
    command_data,
    component_data,
    find_command,
    modal_data,
)
from .messages import announce
from .models import Channel, Guild, User, iso_now, new_snowflake, snowflake_time
from .records import InteractionRecord, MessageRecord, RequestRecord, StoredFile
from .rest import CoreRoutes, make_middleware
from .state import Settings, World
from .webhooks import InteractionRoutes


class LocalDiscord:
    """A Discord-compatible REST + gateway server on 127.0.0.1 that records what the bot does."""

    def __init__(
        self,
        token: str = "test-token",
        guilds: list[Guild] | None = None,
        *,
        callback_deadline_s: float = 3.0,
        webhook_token_ttl_s: float = 15 * 60.0,
        nonce_window_s: float = 5 * 60.0,
        shards: int = 1,
        bot_name: str = "TinyBot",
        bot_id: int | None = None,
    ) -> None:
        settings = Settings(token, callback_deadline_s, webhook_token_ttl_s, nonce_window_s, shards)
        bot = User(id=bot_id or new_snowflake(), name=bot_name, bot=True)
        self.world = World(settings, guilds if guilds is not None else [Guild()], bot)
        self.gateway = Gateway(self.world)
        self.url = ""
        self._runner: web.AppRunner | None = None

    # -- settings and records, read straight from the world ----------------------------------

    @property
    def token(self) -> str:
        """Return the bot token the server accepts."""
        return self.world.settings.token

    @property
    def callback_deadline_s(self) -> float:
        """Return how long after dispatch an interaction callback is still accepted."""
        return self.world.settings.callback_deadline_s

    @callback_deadline_s.setter
    def callback_deadline_s(self, value: float) -> None:
        self.world.settings.callback_deadline_s = value

    @property
    def bot(self) -> User:
        """Return the bot's user (its id is also the application id)."""
        return self.world.bot

    @property
    def guilds(self) -> list[Guild]:
        """Return the configured guilds."""
        return list(self.world.guilds.values())

    @property
    def requests(self) -> list[RequestRecord]:
        """Return every REST request the bot made, in order."""
        return self.world.requests

    @property
    def unknown_routes(self) -> list[tuple[str, str]]:
        """Return (method, path) of requests no route matched."""
        return self.world.unknown_routes

    @property
    def server_errors(self) -> list[str]:
        """Return failures inside the fake itself (should stay empty)."""
        return self.world.server_errors

    @property
    def interactions(self) -> list[InteractionRecord]:
        """Return every dispatched interaction, oldest first."""
        return list(self.world.interactions.values())

    @property
    def command_puts(self) -> dict[int | None, int]:
        """Return how many times each scope (guild id, None = global) was bulk-overwritten."""
        return dict(self.world.command_puts)

    def commands(self, guild_id: int | None = None) -> list[dict]:
        """Return the synced commands of a guild, or the global ones."""
        return list(self.world.commands.get(guild_id, []))

    def messages(self, channel_id: int) -> list[MessageRecord]:
        """Return a channel's visible messages, oldest first (interaction replies included)."""
        return self.world.channel_messages(channel_id)

    def dm_messages(self, user: User) -> list[MessageRecord]:
        """Return the messages the bot sent the user in DMs, oldest first."""
        channels = [cid for cid, recipient in self.world.dms.items() if recipient.id == user.id]
        return [m for cid in channels for m in self.world.channel_messages(cid)]

    def message(self, message_id: int) -> MessageRecord:
        """Return any message the server holds, ephemeral or deleted ones included."""
        return self.world.messages[message_id]

    # -- lifecycle -----------------------------------------------------------------------------

    def make_app(self, extend: Callable[[web.Application], None] | None = None) -> web.Application:
        """Return the aiohttp app: REST API, gateway, CDN, and what `extend` adds (the page)."""
        app = web.Application(
            middlewares=[make_middleware(self.world)], client_max_size=256 * 1024**2
        )
        core = CoreRoutes(self.world, lambda: self.gateway.url)
        for group in (core, ChannelRoutes(self.world), InteractionRoutes(self.world)):
            app.add_routes(group.routes())
        app.add_routes([web.get("/gateway", self.gateway.handle)])
        if extend is not None:
            extend(app)
        return app

    async def start(
        self, port: int = 0, *, extend: Callable[[web.Application], None] | None = None
    ) -> None:
        """Bind 127.0.0.1 and serve; sets `url`. `extend` may add routes (the local page)."""
        app = self.make_app(extend)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{bound}"
        self.world.base_url = self.url
        self.gateway.url = f"ws://127.0.0.1:{bound}/gateway"

    async def stop(self) -> None:
        """Close gateway connections and stop serving."""
        await self.gateway.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def launch_env(self) -> dict[str, str]:
        """Return the environment a bot process needs to talk to this server."""
        return {"GENBOT_LOCALDISCORD_API": self.url, "DISCORD_TOKEN": self.token}

    async def wait_ready(self, timeout: float = 30.0, *, since: float | None = None) -> None:
        """Wait until every shard identified (after monotonic `since`) and got its guilds."""
        wanted = set(range(self.world.settings.shard_count))
        await self.wait_for(lambda: wanted <= self.gateway.ready_shards(since), timeout)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Return the predicate's first truthy value; re-checked on every change and poll."""
        return await self.world.wait_for(predicate, timeout)

    async def close_gateway(
        self, code: int = 4000, *, shard_id: int | None = None, resumable: bool = True
    ) -> None:
        """Drop the bot's gateway connection(s); discord.py reconnects and RESUMEs."""
        await self.gateway.close(code, shard_id, resumable)

    def add_file(self, filename: str, data: bytes, content_type: str | None = None) -> StoredFile:
        """Serve arbitrary bytes from the CDN route (for attachments the bot will download)."""
        return self.world.store_file(filename, data, content_type)

    # -- what users do -----------------------------------------------------------------------

    async def invoke(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user: User | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        attachments: dict[str, FileSpec] | None = None,
        subcommand: str | None = None,
        age_s: float = 0.0,
        permissions: int | None = None,
        enforce_permissions: bool = True,
    ) -> InteractionRecord:
        """Run a slash command as `user`; returns the record that fills in as the bot answers.

        `age_s` backdates the interaction id and its webhook token (the 3 s ack deadline still
        counts from dispatch). Like Discord, refuses a command whose default_member_permissions
        the user lacks, unless `enforce_permissions` is False.
        """
        guild, channel = self._place(guild_id, channel_id)
        user = self._user(user, permissions)
        command = find_command(self.world, name, guild.id)
        if enforce_permissions:
            check_permissions(command, user)
        values = {**(options or {}), **(attachments or {})}
        path = subcommand.split() if subcommand else []
        data = command_data(self.world, command, path, values, (guild, channel.id))
        record = self._record(2, " ".join([name, *path]), user, guild, channel.id, age_s)
        record.payload = base_payload(self.world, 2, self._ids(record), user, guild, channel)
        record.payload["data"] = data
        await self._dispatch(record)
        return record

    async def click(
        self,
        message: MessageRecord | int,
        custom_id: str,
        *,
        user: User | None = None,
        values: list[str] | None = None,
    ) -> InteractionRecord:
        """Click a button (or pick `values` in a select) on a message the bot sent."""
        msg = message if isinstance(message, MessageRecord) else self.world.messages[message]
        guild, channel = self._place(msg.guild_id, msg.channel_id)
        user = self._user(user, None)
        data = component_data(msg, custom_id, values)
        record = self._record(3, custom_id, user, guild, channel.id, 0.0)
        record.source_message = msg
        record.payload = base_payload(self.world, 3, self._ids(record), user, guild, channel)
        record.payload.update(data=data, message=msg.payload())
        await self._dispatch(record)
        return record

    async def submit_modal(
        self,
        custom_id: str,
        values: dict[str, Any],
        *,
        user: User | None = None,
        message: MessageRecord | None = None,
    ) -> InteractionRecord:
        """Submit the modal the bot opened with `custom_id`, filling fields by their custom_id."""
        opener = self.world.modals.get(custom_id)
        modal = opener.modal if opener is not None else None
        msg = message or (opener.source_message if opener is not None else None)
        where = msg or opener
        guild, channel = self._place(
            where.guild_id if where else None, where.channel_id if where else None
        )
        user = self._user(user or (opener.user if opener else None), None)
        data = modal_data(self.world, custom_id, modal, values, channel.id)
        record = self._record(5, custom_id, user, guild, channel.id, 0.0)
        record.source_message, record.trigger = msg, opener
        record.payload = base_payload(self.world, 5, self._ids(record), user, guild, channel)
        record.payload["data"] = data
        if msg is not None:
            record.payload["message"] = msg.payload()
        await self._dispatch(record)
        return record

    async def post_message(self, channel_id: int, content: str, *, user: User) -> MessageRecord:
        """Post a message as a user and send MESSAGE_CREATE to the bot."""
        guild, _ = self.world.channel(channel_id)
        author = self.world.remember(user).payload()
        guild_id = guild.id if guild else None
        msg = MessageRecord(
            new_snowflake(), channel_id, guild_id, author, iso_now(), content=content
        )
        self.world.add_message(msg)
        await announce(self.world, "MESSAGE_CREATE", msg)
        return msg

    # -- helpers -------------------------------------------------------------------------------

    def _place(self, guild_id: int | None, channel_id: int | None) -> tuple[Guild, Channel]:
        """Return the guild and channel to act in (defaults: first guild, its first channel)."""
        if channel_id is not None:
            guild, channel = self.world.channel(channel_id)
            if guild is None:
                raise ValueError("the fake only dispatches interactions in guild channels")
            return guild, channel
        guild = self.world.guild_of(guild_id) if guild_id else self.guilds[0]
        return guild, guild.text_channels[0]

    def _user(self, user: User | None, permissions: int | None) -> User:
        """Return the acting user, with `permissions` overriding theirs when given."""
        user = user or User(name="tester")
        if permissions is not None:
            user = dataclasses.replace(user, permissions=permissions)
        return self.world.remember(user)

    def _record(
        self, kind: int, name: str, user: User, guild: Guild, channel_id: int, age_s: float
    ) -> InteractionRecord:
        """Return a new interaction record created `age_s` seconds ago."""
        interaction_id = new_snowflake(age_s)
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96)
        created = snowflake_time(interaction_id)
        return InteractionRecord(
            interaction_id, token, kind, name, user, guild.id, channel_id, {}, created
        )

    @staticmethod
    def _ids(record: InteractionRecord) -> tuple[int, str]:
        """Return the (id, token) pair of a record."""
        return record.id, record.token

    async def _dispatch(self, record: InteractionRecord) -> None:
        """Register the interaction and send INTERACTION_CREATE to the shard owning its guild."""
        session = self.gateway.session_for(record.guild_id)
        if session is None:
            raise RuntimeError(
                f"no gateway session owns guild {record.guild_id}: is the bot connected? "
                "(await wait_ready() first)"
            )
        record.shard_id = session.shard_id
        record.dispatched_at = time.monotonic()
        self.world.register_interaction(record)
        await session.dispatch("INTERACTION_CREATE", record.payload)
