"""The world state shared by the REST routes, the gateway and the test: the recorder."""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .models import FILESIZE_LIMITS, Channel, Guild, User, new_snowflake
from .records import InteractionRecord, MessageRecord, RequestRecord, StoredFile

EventSink = Callable[[int, str, dict], Awaitable[None]]


@dataclass
class Settings:
    """The rules the server enforces; all mutable while a test runs."""

    token: str
    callback_deadline_s: float = 3.0
    webhook_token_ttl_s: float = 15 * 60.0
    nonce_window_s: float = 5 * 60.0
    shard_count: int = 1


class ApiError(Exception):
    """A Discord error response: HTTP status, JSON error code and message."""

    def __init__(self, status: int, code: int, message: str, errors: dict | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict:
        """Return the JSON body Discord sends for this error."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class World:
    """Everything the fake Discord knows, plus a change signal that `wait_for` listens to."""

    def __init__(self, settings: Settings, guilds: list[Guild], bot: User) -> None:
        self.settings = settings
        self.guilds = {g.id: g for g in guilds}
        self.bot = bot
        self.base_url = ""
        self.channels: dict[int, tuple[Guild | None, Channel]] = {
            c.id: (g, c) for g in guilds for c in g.text_channels
        }
        self.users: dict[int, User] = {u.id: u for g in guilds for u in g.members}
        self.users[bot.id] = bot
        self.dms: dict[int, User] = {}
        self.messages: dict[int, MessageRecord] = {}
        self.files: dict[int, StoredFile] = {}
        self.commands: dict[int | None, list[dict]] = {}
        self.command_puts: Counter[int | None] = Counter()
        self.interactions: dict[int, InteractionRecord] = {}
        self.by_token: dict[str, InteractionRecord] = {}
        self.requests: list[RequestRecord] = []
        self.unknown_routes: list[tuple[str, str]] = []
        self.server_errors: list[str] = []
        self.nonces: dict[tuple[int, int, str], tuple[int, float]] = {}
        self.modals: dict[str, InteractionRecord] = {}
        self.event_sink: EventSink | None = None
        self.version = 0  # counts changes: a watcher (the page) can tell what it has seen
        self._changed = asyncio.Event()

    # -- change notification -------------------------------------------------------------

    def touch(self) -> None:
        """Wake everything waiting in `wait_for`; call after every change."""
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float) -> Any:
        """Return the predicate's first truthy value, re-checking on every change."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            # The poll interval covers predicates over things outside the world (a process).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.05))

    # -- lookups ---------------------------------------------------------------------------

    def channel(self, channel_id: int) -> tuple[Guild | None, Channel]:
        """Return the guild (None for a DM) and channel, or raise Discord's Unknown Channel."""
        try:
            return self.channels[channel_id]
        except KeyError:
            raise ApiError(404, 10003, "Unknown Channel") from None

    def channel_payload(self, channel_id: int) -> dict:
        """Return the channel object for a guild channel or a DM."""
        guild, channel = self.channel(channel_id)
        return channel.payload(guild.id if guild else None, self.dms.get(channel_id))

    def filesize_limit(self, channel_id: int) -> int:
        """Return the upload limit in the channel (the base limit in DMs)."""
        guild, _ = self.channel(channel_id)
        return guild.filesize_limit if guild else FILESIZE_LIMITS[0]

    def remember(self, user: User) -> User:
        """Know a user from now on (fetch_user, DMs) and return them."""
        self.users.setdefault(user.id, user)
        return user

    def open_dm(self, user_id: int) -> int:
        """Return the id of the DM channel with a known user, creating it once."""
        for channel_id, recipient in self.dms.items():
            if recipient.id == user_id:
                return channel_id
        if user_id not in self.users:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        channel = Channel(name="", type=1)
        self.channels[channel.id] = (None, channel)
        self.dms[channel.id] = self.users[user_id]
        return channel.id

    def message(self, message_id: int, channel_id: int | None = None) -> MessageRecord:
        """Return a live message, or raise Discord's Unknown Message."""
        msg = self.messages.get(message_id)
        if msg is None or msg.deleted or (channel_id is not None and msg.channel_id != channel_id):
            raise ApiError(404, 10008, "Unknown Message")
        return msg

    def channel_messages(self, channel_id: int) -> list[MessageRecord]:
        """Return a channel's visible messages, oldest first (ephemeral ones are not in it)."""
        found = [
            m
            for m in self.messages.values()
            if m.channel_id == channel_id and not m.deleted and not m.ephemeral
        ]
        return sorted(found, key=lambda m: m.id)

    def guild_of(self, guild_id: int) -> Guild:
        """Return a configured guild, or raise Discord's Unknown Guild."""
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise ApiError(404, 10004, "Unknown Guild") from None

    # -- storage ---------------------------------------------------------------------------

    def store_file(
        self,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        *,
        channel_id: int = 0,
        description: str | None = None,
        ephemeral: bool = False,
    ) -> StoredFile:
        """Store bytes under the CDN route and return the attachment record."""
        file_id = new_snowflake()
        guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        url = f"{self.base_url}/attachments/{channel_id}/{file_id}/{quote(filename)}"
        stored = StoredFile(
            file_id, filename, data, content_type or guessed, url, description, ephemeral
        )
        self.files[file_id] = stored
        return stored

    def add_message(self, msg: MessageRecord) -> None:
        """Keep a new message."""
        self.messages[msg.id] = msg
        self.touch()

    async def publish(self, guild_id: int | None, event: str, data: dict) -> None:
        """Send a gateway dispatch about a guild to the bot, if a session listens."""
        if self.event_sink is not None and guild_id is not None:
            await self.event_sink(guild_id, event, data)

    def register_interaction(self, record: InteractionRecord) -> None:
        """Remember an interaction so its callback and webhook token resolve."""
        self.interactions[record.id] = record
        self.by_token[record.token] = record
        self.touch()
