"""Channel routes: fetch a channel, and send, list, fetch, edit and delete its messages."""

from __future__ import annotations

import time

from aiohttp import web

from .bodies import json_response, no_content, read_body, snowflake_arg
from .messages import announce, edit_message, new_message
from .records import EPHEMERAL, MessageRecord
from .rest import API
from .state import ApiError, World

UNKNOWN_CHANNEL = ApiError(404, 10003, "Unknown Channel")
UNKNOWN_MESSAGE = ApiError(404, 10008, "Unknown Message")


class ChannelRoutes:
    """The message routes under `/channels/{channel_id}`."""

    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[web.RouteDef]:
        """Return this group's routes."""
        base = API + "/channels/{channel_id}"
        one = base + "/messages/{message_id}"
        return [
            web.get(base, self.get_channel),
            web.post(base + "/typing", self.typing),
            web.post(base + "/messages", self.send),
            web.get(base + "/messages", self.history),
            web.get(one, self.get_message),
            web.patch(one, self.edit),
            web.delete(one, self.delete),
        ]

    def _channel_id(self, request: web.Request) -> int:
        """Return the route's channel id, checking that the channel exists."""
        channel_id = snowflake_arg(request, "channel_id", UNKNOWN_CHANNEL)
        self.world.channel(channel_id)
        return channel_id

    def _message(self, request: web.Request) -> MessageRecord:
        """Return the route's message, which must be in the route's channel."""
        channel_id = self._channel_id(request)
        message_id = snowflake_arg(request, "message_id", UNKNOWN_MESSAGE)
        msg = self.world.message(message_id, channel_id)
        if msg.ephemeral:
            raise UNKNOWN_MESSAGE
        return msg

    async def get_channel(self, request: web.Request) -> web.Response:
        """Return a channel object."""
        channel_id = snowflake_arg(request, "channel_id", UNKNOWN_CHANNEL)
        return json_response(self.world.channel_payload(channel_id))

    async def typing(self, request: web.Request) -> web.Response:
        """Accept a typing indicator."""
        self._channel_id(request)
        return no_content()

    async def send(self, request: web.Request) -> web.Response:
        """Create a message, or return the earlier one when an enforced nonce repeats."""
        channel_id = self._channel_id(request)
        recipient = self.world.dms.get(channel_id)
        if recipient is not None and not recipient.accepts_dms:
            raise ApiError(403, 50007, "Cannot send messages to this user")
        payload, uploads = await read_body(request)
        payload = dict(payload or {})
        # A channel message cannot be ephemeral; Discord drops the flag.
        payload["flags"] = int(payload.get("flags") or 0) & ~EPHEMERAL
        key = (channel_id, self.world.bot.id, str(payload.get("nonce")))
        if payload.get("enforce_nonce") and payload.get("nonce") is not None:
            earlier = self._recent_nonce(key)
            if earlier is not None:
                return json_response(earlier.payload())
        msg = new_message(self.world, channel_id, payload, uploads)
        self.world.add_message(msg)
        if payload.get("nonce") is not None:
            self.world.nonces[key] = (msg.id, time.monotonic())
        await announce(self.world, "MESSAGE_CREATE", msg)
        return json_response(msg.payload())

    def _recent_nonce(self, key: tuple[int, int, str]) -> MessageRecord | None:
        """Return the message sent with this nonce within the window, if it still exists."""
        seen = self.world.nonces.get(key)
        if seen is None or time.monotonic() - seen[1] > self.world.settings.nonce_window_s:
            return None
        msg = self.world.messages.get(seen[0])
        return None if msg is None or msg.deleted else msg

    async def history(self, request: web.Request) -> web.Response:
        """Return up to `limit` messages, newest first, around/before/after a message id."""
        channel_id = self._channel_id(request)
        try:
            limit = max(1, min(100, int(request.query.get("limit", "50"))))
            marks = {
                k: int(request.query[k])
                for k in ("around", "before", "after")
                if k in request.query
            }
        except ValueError:
            raise ApiError(400, 50035, "Invalid Form Body") from None
        msgs = self.world.channel_messages(channel_id)
        if "around" in marks:
            older = [m for m in msgs if m.id < marks["around"]][-(limit // 2) :]
            newer = [m for m in msgs if m.id >= marks["around"]][: limit - len(older)]
            picked = older + newer
        elif "after" in marks:
            picked = [m for m in msgs if m.id > marks["after"]][:limit]
        else:
            before = marks.get("before")
            picked = [m for m in msgs if before is None or m.id < before][-limit:]
        return json_response([m.payload() for m in reversed(picked)])

    async def get_message(self, request: web.Request) -> web.Response:
        """Return one message."""
        return json_response(self._message(request).payload())

    async def edit(self, request: web.Request) -> web.Response:
        """Edit one of the bot's messages."""
        msg = self._message(request)
        if msg.author.get("id") != str(self.world.bot.id):
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        payload, uploads = await read_body(request)
        edit_message(self.world, msg, payload or {}, uploads)
        await announce(self.world, "MESSAGE_UPDATE", msg)
        return json_response(msg.payload())

    async def delete(self, request: web.Request) -> web.Response:
        """Delete a message."""
        msg = self._message(request)
        msg.deleted = True
        self.world.touch()
        await announce(self.world, "MESSAGE_DELETE", msg)
        return no_content()
