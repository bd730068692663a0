"""The local page: a small Discord-like web client served by LocalDiscord's own aiohttp app
(`genbot run --local`). Every action goes through `invoke` / `click` / `submit_modal`, so the
bot sees real interactions; live updates are server-sent events.

    page = Page(fake, guild)
    await fake.start(port, extend=page.install)   # then open fake.url + "/"
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from aiohttp import web

from . import feed
from .interactions import find_command
from .models import Guild, User
from .records import InteractionRecord
from .server import LocalDiscord
from .slash import SlashError, parse_slash

STATIC = Path(__file__).with_name("web")
UPLOAD_LIMIT = 8 * 1024 * 1024
FIELD_LIMIT = 64 * 1024
KEEPALIVE_S = 15.0
# At most this many live updates a second per page; the page refetches on each.
UPDATE_GAP_S = 0.1


class UploadTooLarge(Exception):
    """An uploaded file is over the page's size cap."""


class Page:
    """Routes of the page and its JSON API under /local/."""

    def __init__(
        self, fake: LocalDiscord, guild: Guild, *, upload_limit: int = UPLOAD_LIMIT
    ) -> None:
        self.fake, self.guild, self.upload_limit = fake, guild, upload_limit
        self.closing = False

    def install(self, app: web.Application) -> None:
        """Add the page's routes to the server's app; end live streams when it shuts down."""
        app.add_routes(
            [
                web.get("/", self.index),
                web.static("/web", STATIC),
                web.get("/local/world", self.world),
                web.get("/local/commands", self.commands),
                web.get("/local/messages", self.messages),
                web.get("/local/events", self.events),
                web.post("/local/send", self.send),
                web.post("/local/click", self.click),
                web.post("/local/modal", self.modal),
            ]
        )
        app.on_shutdown.append(self._close)

    async def _close(self, app: web.Application) -> None:
        self.closing = True

    # -- reading -----------------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.FileResponse:
        """Serve the page."""
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def world(self, request: web.Request) -> web.Response:
        """Return the guild's channels and members."""
        return web.json_response(feed.world_summary(self.fake.world, self.guild, self.upload_limit))

    async def commands(self, request: web.Request) -> web.Response:
        """Return the synced commands, marked as offered or not to `?user=`."""
        user = self._member(request.query.get("user"))
        if user is None:
            return problem(400, "unknown user")
        return web.json_response(feed.commands_for(self.fake.world, self.guild.id, user))

    async def messages(self, request: web.Request) -> web.Response:
        """Return what `?user=` sees in `?channel=` (a channel id, or "dm")."""
        user = self._member(request.query.get("user"))
        channel = request.query.get("channel", "")
        if user is None or not (channel.isdigit() or channel == feed.DM_CHANNEL):
            return problem(400, "pass ?user=<member id>&channel=<channel id or dm>")
        return web.json_response(feed.channel_feed(self.fake.world, channel, user))

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Stream `data: <version>` each time the world changes (server-sent events)."""
        stream = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await stream.prepare(request)
        world, seen = self.fake.world, -1
        with contextlib.suppress(ConnectionError):
            while not self.closing:
                if world.version != seen:
                    seen = world.version
                    await stream.write(f"data: {seen}\n\n".encode())
                    await asyncio.sleep(UPDATE_GAP_S)
                else:
                    await stream.write(b": keepalive\n\n")
                await self._next_change(seen)
        return stream

    async def _next_change(self, seen: int) -> None:
        """Wait until the world changes after version `seen` or the page closes (15 s at most)."""
        world = self.fake.world
        with contextlib.suppress(TimeoutError):
            await world.wait_for(lambda: self.closing or world.version != seen, KEEPALIVE_S)

    # -- acting ------------------------------------------------------------------------------

    async def send(self, request: web.Request) -> web.Response:
        """Send the composer's text: a slash command (with files), or a plain message."""
        try:
            form, files = await read_form(request, self.upload_limit)
        except UploadTooLarge as exc:
            await discard(request)
            return problem(413, str(exc))
        user, channel = self._member(form.get("user")), form.get("channel", "")
        if user is None or not channel.isdigit():
            return problem(400, "pick a member and a channel first")
        text = form.get("text", "").strip()
        if not text.startswith("/"):
            if files or not text:
                return problem(400, "Type a message, or attach files to a command's option")
            await self.fake.post_message(int(channel), text, user=user)
            return web.json_response({"ok": True})
        return await self._command(text, user, int(channel), files)

    async def _command(
        self, text: str, user: User, channel_id: int, files: dict[str, tuple[str, bytes, str]]
    ) -> web.Response:
        """Parse and check a slash command, then invoke it as `user`; nothing is sent on error."""
        world = self.fake.world
        try:
            call = parse_slash(
                text,
                feed.offered(world, self.guild.id),
                files=list(files),
                names=feed.mention_names(world, self.guild),
            )
        except SlashError as exc:
            return problem(400, str(exc))
        if not feed.allowed(find_command(world, call.name, self.guild.id), user):
            return problem(
                403,
                f"Discord offers /{call.name} only to members with its permissions, "
                f"which {user.name} lacks (moderators: switch member)",
            )
        return await self._act(
            self.fake.invoke(
                call.name,
                call.options,
                user=user,
                guild_id=self.guild.id,
                channel_id=channel_id,
                attachments={name: files[name] for name in call.files},
                subcommand=call.subcommand,
            )
        )

    async def click(self, request: web.Request) -> web.Response:
        """Click a button (or pick values in a select) on a message as `user`."""
        body = await read_json(request)
        user = self._member(body.get("user"))
        message = self.fake.world.messages.get(_int(body.get("message")))
        if user is None or message is None or message.deleted:
            return problem(400, "that message or member is gone")
        values = body.get("values")
        custom_id = str(body.get("custom_id", ""))
        return await self._act(self.fake.click(message, custom_id, user=user, values=values))

    async def modal(self, request: web.Request) -> web.Response:
        """Submit a modal the bot opened, as `user`."""
        body = await read_json(request)
        user = self._member(body.get("user"))
        values = body.get("values")
        if user is None or not isinstance(values, dict):
            return problem(400, "pass user and values")
        custom_id = str(body.get("custom_id", ""))
        return await self._act(self.fake.submit_modal(custom_id, values, user=user))

    async def _act(self, action: Awaitable[InteractionRecord]) -> web.Response:
        """Dispatch an interaction and answer once the bot acknowledged it (or failed to)."""
        try:
            inter = await action
        except (LookupError, ValueError) as exc:
            return problem(400, str(exc))
        except RuntimeError:
            return problem(503, "genbot is not connected yet; try again in a moment")
        deadline = self.fake.callback_deadline_s + 0.5
        try:
            await self.fake.wait_for(lambda: inter.callback or inter.errors, deadline)
        except TimeoutError:
            return problem(504, "The application did not respond (no answer within 3 s)")
        if inter.callback is None:
            return problem(502, f"The interaction failed (Discord error {inter.errors[0].code})")
        return web.json_response({"ok": True, "interaction": str(inter.id), "modal": inter.modal})

    def _member(self, raw: Any) -> User | None:
        """Return the guild member with id `raw`, or None."""
        user_id = _int(raw)
        return next((u for u in self.guild.members if u.id == user_id), None)


def problem(status: int, message: str) -> web.Response:
    """Return a JSON error the page shows inline."""
    return web.json_response({"ok": False, "error": message}, status=status)


def _int(raw: Any) -> int:
    """Return `raw` as an int id, or 0."""
    text = str(raw or "")
    return int(text) if text.isdigit() else 0


async def read_json(request: web.Request) -> dict:
    """Return the JSON object body, or {} when there is none."""
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def discard(request: web.Request, most: int = 64 * 1024**2) -> None:
    """Read and drop the rest of a refused upload, so the browser sees the answer."""
    if (request.content_length or 0) > most:
        return
    while await request.content.readany():
        pass


async def read_form(
    request: web.Request, limit: int
) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
    """Return a multipart form's fields and its files (`file:<option>` parts) by option name.

    Raises UploadTooLarge as soon as one file passes `limit`, before the rest is read.
    """
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes, str]] = {}
    if request.content_type == "application/x-www-form-urlencoded":
        return {k: str(v) for k, v in (await request.post()).items()}, files
    if not request.content_type.startswith("multipart/"):
        return fields, files
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        name = part.name or ""
        if part.filename is None:
            fields[name] = (await part.read_chunk(FIELD_LIMIT)).decode("utf-8", "replace")
            continue
        data = bytearray()
        while chunk := await part.read_chunk():
            data += chunk
            if len(data) > limit:
                raise UploadTooLarge(
                    f"{part.filename} is over the {limit // 1024**2} MB upload limit; "
                    "nothing was sent"
                )
        kind = part.headers.get("Content-Type") or mimetypes.guess_type(part.filename)[0]
        files[name.removeprefix("file:")] = (part.filename, bytes(data), kind or "")
    return fields, files
