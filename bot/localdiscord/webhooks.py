"""Interaction callbacks and the interaction webhook (follow-ups, @original)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from .bodies import Upload, json_response, no_content, query_flag, read_body
from .messages import announce, edit_message, form_error, new_message
from .records import EPHEMERAL, LOADING, ApiErrorRecord, Callback, InteractionRecord, MessageRecord
from .rest import API
from .state import ApiError, World

UNKNOWN_INTERACTION = ApiError(404, 10062, "Unknown interaction")
ALREADY_ACKED = ApiError(400, 40060, "Interaction has already been acknowledged.")
UNKNOWN_WEBHOOK = ApiError(404, 10015, "Unknown Webhook")
INVALID_TOKEN = ApiError(401, 50027, "Invalid Webhook Token")
UNKNOWN_MESSAGE = ApiError(404, 10008, "Unknown Message")
NOTED = web.RequestKey("noted", bool)

Responder = Callable[[InteractionRecord, dict, list[Upload]], MessageRecord | None]


class InteractionRoutes:
    """`POST /interactions/{id}/{token}/callback` and `/webhooks/{app}/{token}/...`."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.responders: dict[int, Responder] = {
            4: self._reply,
            5: self._defer,
            6: self._defer_update,
            7: self._update,
            8: self._record_only,
            9: self._modal,
        }

    def routes(self) -> list[web.RouteDef]:
        """Return this group's routes."""
        hook = API + "/webhooks/{app_id}/{token}"
        return [
            web.post(API + "/interactions/{interaction_id}/{token}/callback", self.callback),
            web.post(hook, self.followup),
            web.get(hook + "/messages/{message_id}", self.get_message),
            web.patch(hook + "/messages/{message_id}", self.edit),
            web.delete(hook + "/messages/{message_id}", self.delete),
        ]

    # -- the initial response ------------------------------------------------------------

    async def callback(self, request: web.Request) -> web.Response:
        """Accept the one initial response to an interaction, within the deadline."""
        now = time.monotonic()
        inter = self.world.interactions.get(_int(request.match_info["interaction_id"]))
        if inter is None or inter.token != request.match_info["token"]:
            raise UNKNOWN_INTERACTION
        payload, uploads = await read_body(request)
        try:
            msg = self._respond(inter, payload or {}, uploads, now)
        except ApiError as exc:
            self._note_error(inter, request, exc)
            raise
        events = {4: "MESSAGE_CREATE", 5: "MESSAGE_CREATE", 7: "MESSAGE_UPDATE"}
        if msg is not None and inter.callback is not None and inter.callback.type in events:
            await announce(self.world, events[inter.callback.type], msg)
        if not query_flag(request, "with_response"):
            return no_content()
        return json_response(self._callback_body(inter, msg))

    def _respond(
        self, inter: InteractionRecord, payload: dict, uploads: list[Upload], now: float
    ) -> MessageRecord | None:
        """Check the rules, run the responder for the callback type, and record the ack."""
        if inter.callback is not None:
            raise ALREADY_ACKED
        if now - inter.dispatched_at > self.world.settings.callback_deadline_s:
            raise UNKNOWN_INTERACTION
        kind = payload.get("type")
        responder = self.responders.get(kind) if isinstance(kind, int) else None
        if responder is None:
            raise form_error("type", "BASE_TYPE_CHOICES", f"Value {kind!r} is not a valid type.")
        data = payload.get("data") or {}
        msg = responder(inter, data, uploads)
        files = msg.attachments if msg is not None and kind in (4, 7) else []
        inter.callback = Callback(kind, data, files)
        inter.acked_at = now
        self.world.touch()
        return msg

    def _callback_body(self, inter: InteractionRecord, msg: MessageRecord | None) -> dict:
        """Return the `InteractionCallbackResponse` sent back with `?with_response=1`."""
        assert inter.callback is not None
        info: dict = {"id": str(inter.id), "type": inter.type}
        body: dict = {"interaction": info}
        if msg is not None:
            info.update(
                response_message_id=str(msg.id),
                response_message_loading=msg.loading,
                response_message_ephemeral=msg.ephemeral,
            )
            if inter.callback.type in (4, 5, 7):
                body["resource"] = {"type": inter.callback.type, "message": msg.payload()}
        return body

    def _new_reply(
        self, inter: InteractionRecord, data: dict, uploads: list[Upload], extra_flags: int = 0
    ) -> MessageRecord:
        """Create the interaction's original response message."""
        msg = new_message(
            self.world,
            inter.channel_id,
            data,
            uploads,
            type=20 if inter.type == 2 else 0,
            webhook_id=self.world.bot.id,
            application_id=self.world.bot.id,
            interaction_metadata=inter.metadata(),
            interaction_id=inter.id,
            extra_flags=extra_flags,
        )
        inter.original = msg
        self.world.add_message(msg)
        return msg

    def _reply(self, inter: InteractionRecord, data: dict, uploads: list[Upload]) -> MessageRecord:
        """Type 4: answer with a message."""
        return self._new_reply(inter, data, uploads)

    def _defer(self, inter: InteractionRecord, data: dict, uploads: list[Upload]) -> MessageRecord:
        """Type 5: show "thinking" (a loading message, ephemeral with flag 64)."""
        flags = int(data.get("flags") or 0) & EPHEMERAL
        return self._new_reply(inter, {"flags": flags}, [], extra_flags=LOADING)

    def _source(self, inter: InteractionRecord, kind: int) -> MessageRecord:
        """Return the message a component/modal interaction came from (types 6 and 7 need one)."""
        if inter.type not in (3, 5) or inter.source_message is None:
            raise form_error("type", "INTERACTION_RESPONSE_TYPE", f"Type {kind} needs a message.")
        inter.original = inter.source_message
        return inter.source_message

    def _defer_update(
        self, inter: InteractionRecord, data: dict, uploads: list[Upload]
    ) -> MessageRecord:
        """Type 6: acknowledge a component; @original is now the component's message."""
        return self._source(inter, 6)

    def _update(self, inter: InteractionRecord, data: dict, uploads: list[Upload]) -> MessageRecord:
        """Type 7: edit the component's message."""
        msg = self._source(inter, 7)
        edit_message(self.world, msg, data, uploads)
        return msg

    def _record_only(self, inter: InteractionRecord, data: dict, uploads: list[Upload]) -> None:
        """Type 8 (autocomplete result): nothing to create."""
        return None

    def _modal(self, inter: InteractionRecord, data: dict, uploads: list[Upload]) -> None:
        """Type 9: open a modal (not allowed in answer to a modal submit)."""
        if inter.type == 5:
            raise form_error("type", "INTERACTION_RESPONSE_TYPE", "A modal cannot open a modal.")
        components = data.get("components") or []
        if not data.get("custom_id") or not data.get("title") or not 1 <= len(components) <= 5:
            raise form_error("data", "BASE_TYPE_REQUIRED", "custom_id, title, 1-5 components.")
        self.world.modals[data["custom_id"]] = inter
        return None

    # -- the webhook -----------------------------------------------------------------------

    def _hook(self, request: web.Request) -> InteractionRecord:
        """Return the interaction behind a webhook route, checking app id and token age."""
        if request.match_info["app_id"] != str(self.world.bot.id):
            raise UNKNOWN_WEBHOOK
        inter = self.world.by_token.get(request.match_info["token"])
        if inter is None:
            raise INVALID_TOKEN
        if time.time() - inter.token_created > self.world.settings.webhook_token_ttl_s:
            self._note_error(inter, request, INVALID_TOKEN)
            raise INVALID_TOKEN
        if inter.callback is None:
            self._note_error(inter, request, UNKNOWN_WEBHOOK)
            raise UNKNOWN_WEBHOOK
        return inter

    def _hook_message(self, inter: InteractionRecord, request: web.Request) -> MessageRecord:
        """Return @original or one of the interaction's follow-ups."""
        ref = request.match_info["message_id"]
        if ref == "@original":
            msg = inter.original
        else:
            mine = [m for m in (inter.original, *inter.followups) if m is not None]
            msg = next((m for m in mine if str(m.id) == ref), None)
        if msg is not None and not msg.deleted:
            return msg
        self._note_error(inter, request, UNKNOWN_MESSAGE)
        raise UNKNOWN_MESSAGE

    async def _guarded(
        self, request: web.Request, action: Callable[[InteractionRecord], Awaitable[web.Response]]
    ) -> web.Response:
        """Run a webhook action, noting any error it raises on the interaction."""
        inter = self._hook(request)
        try:
            return await action(inter)
        except ApiError as exc:
            self._note_error(inter, request, exc)
            raise

    async def followup(self, request: web.Request) -> web.Response:
        """Send a follow-up; right after a type 5 defer it fills in the loading message."""

        async def act(inter: InteractionRecord) -> web.Response:
            payload, uploads = await read_body(request)
            original = inter.original
            deferred = inter.callback is not None and inter.callback.type == 5
            if original is not None and original.loading and not original.deleted and deferred:
                edit_message(self.world, original, payload or {}, uploads)
                await announce(self.world, "MESSAGE_UPDATE", original)
                msg = original
            else:
                msg = new_message(
                    self.world,
                    inter.channel_id,
                    payload or {},
                    uploads,
                    webhook_id=self.world.bot.id,
                    application_id=self.world.bot.id,
                    interaction_metadata=inter.metadata(),
                    interaction_id=inter.id,
                )
                inter.followups.append(msg)
                self.world.add_message(msg)
                await announce(self.world, "MESSAGE_CREATE", msg)
            return json_response(msg.payload()) if query_flag(request, "wait") else no_content()

        return await self._guarded(request, act)

    async def get_message(self, request: web.Request) -> web.Response:
        """Return @original or a follow-up."""

        async def act(inter: InteractionRecord) -> web.Response:
            return json_response(self._hook_message(inter, request).payload())

        return await self._guarded(request, act)

    async def edit(self, request: web.Request) -> web.Response:
        """Edit @original or a follow-up."""

        async def act(inter: InteractionRecord) -> web.Response:
            msg = self._hook_message(inter, request)
            payload, uploads = await read_body(request)
            edit_message(self.world, msg, payload or {}, uploads)
            await announce(self.world, "MESSAGE_UPDATE", msg)
            return json_response(msg.payload())

        return await self._guarded(request, act)

    async def delete(self, request: web.Request) -> web.Response:
        """Delete @original or a follow-up."""

        async def act(inter: InteractionRecord) -> web.Response:
            msg = self._hook_message(inter, request)
            msg.deleted = True
            self.world.touch()
            await announce(self.world, "MESSAGE_DELETE", msg)
            return no_content()

        return await self._guarded(request, act)

    def _note_error(self, inter: InteractionRecord, request: web.Request, exc: ApiError) -> None:
        """Record an error answered about this interaction (once per request)."""
        if request.get(NOTED):
            return
        request[NOTED] = True
        path = request.path[len(API) :]
        inter.errors.append(ApiErrorRecord(exc.status, exc.code, request.method, path))
        self.world.touch()


def _int(text: str) -> int:
    """Return `text` as an int, or 0 when it is not a number."""
    return int(text) if text.isdigit() else 0
