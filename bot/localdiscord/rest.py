"""The REST API's frame (auth, recording, unknown routes) and its non-message routes."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from .bodies import BODY, error_response, json_response, no_content, read_body, snowflake_arg
from .models import User, iso_now, new_snowflake
from .records import RequestRecord
from .state import ApiError, World

log = logging.getLogger(__name__)

API = "/api/v10"
# Interaction callbacks and webhook calls carry their token in the path, not a bot token.
TOKEN_IN_PATH = (f"{API}/interactions/", f"{API}/webhooks/")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_middleware(world: World) -> Callable:
    """Return the middleware that checks auth, records requests and answers unknown routes."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if _needs_auth(request) and not _authorized(request, world.settings.token):
                raise ApiError(401, 0, "401: Unauthorized")
            response = await handler(request)
        except ApiError as exc:
            response = error_response(exc)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            world.unknown_routes.append((request.method, request.path))
            response = error_response(ApiError(404, 0, "404: Not Found"))
        except Exception as exc:  # a bug in the fake: make it visible to the test
            log.exception("fake Discord failed on %s %s", request.method, request.path)
            world.server_errors.append(f"{request.method} {request.path}: {exc!r}")
            response = error_response(ApiError(500, 0, "500: Internal Server Error"))
        if request.path.startswith(API):
            _record(world, request, response.status)
        return response

    return middleware


def _needs_auth(request: web.Request) -> bool:
    """Return whether the route wants `Authorization: Bot <token>`."""
    return request.path.startswith(API) and not request.path.startswith(TOKEN_IN_PATH)


def _authorized(request: web.Request, token: str) -> bool:
    """Return whether the request carries the configured bot token."""
    return request.headers.get("Authorization") == f"Bot {token}"


def _record(world: World, request: web.Request, status: int) -> None:
    """Append the request to the recorder."""
    payload, uploads = request.get(BODY, (None, []))
    files = [(f"files[{u.index}]", u.filename, len(u.data)) for u in uploads]
    path = request.path[len(API) :]
    record = RequestRecord(
        request.method, path, dict(request.query), payload, files, status, time.monotonic()
    )
    world.requests.append(record)
    world.touch()


class CoreRoutes:
    """Login, gateway discovery, application info, command sync, guilds, users and the CDN."""

    def __init__(self, world: World, gateway_url: Callable[[], str]) -> None:
        self.world = world
        self.gateway_url = gateway_url

    def routes(self) -> list[web.RouteDef]:
        """Return this group's routes."""
        app = API + "/applications/{app_id}"
        return [
            web.get(API + "/users/@me", self.me),
            web.get(API + "/users/{user_id}", self.user),
            web.post(API + "/users/@me/channels", self.open_dm),
            web.get(API + "/gateway/bot", self.gateway_bot),
            web.get(API + "/gateway", self.gateway),
            web.get(API + "/oauth2/applications/@me", self.application),
            web.get(API + "/applications/@me", self.application),
            *self._command_routes(app + "/commands"),
            *self._command_routes(app + "/guilds/{guild_id}/commands"),
            web.get(API + "/guilds/{guild_id}", self.guild),
            web.get(API + "/guilds/{guild_id}/channels", self.guild_channels),
            web.get(API + "/guilds/{guild_id}/members/{user_id}", self.member),
            web.get("/attachments/{channel_id}/{file_id}/{filename}", self.cdn),
        ]

    def _command_routes(self, base: str) -> list[web.RouteDef]:
        """Return the command routes under one scope (global or guild)."""
        return [
            web.put(base, self.put_commands),
            web.get(base, self.get_commands),
            web.post(base, self.post_command),
            web.get(base + "/{command_id}", self.get_command),
            web.delete(base + "/{command_id}", self.delete_command),
        ]

    async def me(self, request: web.Request) -> web.Response:
        """Return the bot's own user (discord.py's login check)."""
        return json_response({**self.world.bot.payload(), "verified": True, "mfa_enabled": False})

    async def user(self, request: web.Request) -> web.Response:
        """Return a known user."""
        user_id = snowflake_arg(request, "user_id", ApiError(404, 10013, "Unknown User"))
        if user_id not in self.world.users:
            raise ApiError(404, 10013, "Unknown User")
        return json_response(self.world.users[user_id].payload())

    async def open_dm(self, request: web.Request) -> web.Response:
        """Return the DM channel with a user (discord.py's create_dm)."""
        payload, _ = await read_body(request)
        try:
            user_id = int((payload or {})["recipient_id"])
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, 50035, "Invalid Form Body") from None
        return json_response(self.world.channel_payload(self.world.open_dm(user_id)))

    async def gateway_bot(self, request: web.Request) -> web.Response:
        """Return the gateway URL, the recommended shard count and the session start limit."""
        limit = {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}
        shards = self.world.settings.shard_count
        body = {"url": self.gateway_url(), "shards": shards, "session_start_limit": limit}
        return json_response(body)

    async def gateway(self, request: web.Request) -> web.Response:
        """Return the gateway URL."""
        return json_response({"url": self.gateway_url()})

    async def application(self, request: web.Request) -> web.Response:
        """Return the application object (its id is the bot user's id)."""
        bot = self.world.bot
        owner_ids = [g.owner_id for g in self.world.guilds.values()]
        owner = User(id=owner_ids[0] if owner_ids else new_snowflake(), name="owner")
        return json_response(
            {
                "id": str(bot.id),
                "name": bot.name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": owner.payload(),
                "team": None,
                "bot": bot.payload(),
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(self.world.guilds),
            }
        )

    def _scope(self, request: web.Request) -> int | None:
        """Return the guild id of a command route (None for global), checking the app id."""
        if request.match_info["app_id"] not in (str(self.world.bot.id), "@me"):
            raise ApiError(404, 10002, "Unknown Application")
        if "guild_id" not in request.match_info:
            return None
        guild_id = snowflake_arg(request, "guild_id", ApiError(404, 10004, "Unknown Guild"))
        self.world.guild_of(guild_id)
        return guild_id

    def _stored(self, scope: int | None, command: dict, old: list[dict]) -> dict:
        """Return a command as Discord stores it, keeping the id of a same-named one."""
        kind = command.get("type", 1)
        same = [c for c in old if c["name"] == command["name"] and c["type"] == kind]
        stored = {
            "default_member_permissions": None,
            "nsfw": False,
            "description": "",
            "options": [],
            **command,
            "id": same[0]["id"] if same else str(new_snowflake()),
            "application_id": str(self.world.bot.id),
            "type": kind,
            "version": str(new_snowflake()),
        }
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    async def put_commands(self, request: web.Request) -> web.Response:
        """Replace a scope's commands (bulk overwrite) and count the sync."""
        scope = self._scope(request)
        payload, _ = await read_body(request)
        old = self.world.commands.get(scope, [])
        self.world.commands[scope] = [self._stored(scope, c, old) for c in payload or []]
        self.world.command_puts[scope] += 1
        self.world.touch()
        return json_response(self.world.commands[scope])

    async def get_commands(self, request: web.Request) -> web.Response:
        """Return a scope's commands."""
        return json_response(self.world.commands.get(self._scope(request), []))

    async def post_command(self, request: web.Request) -> web.Response:
        """Create or replace one command in a scope."""
        scope = self._scope(request)
        payload, _ = await read_body(request)
        old = self.world.commands.get(scope, [])
        stored = self._stored(scope, payload, old)
        self.world.commands[scope] = [c for c in old if c["id"] != stored["id"]] + [stored]
        self.world.touch()
        return json_response(stored, 201)

    def _find_command(self, request: web.Request) -> tuple[int | None, dict]:
        """Return the scope and the command named by the route."""
        scope = self._scope(request)
        for command in self.world.commands.get(scope, []):
            if command["id"] == request.match_info["command_id"]:
                return scope, command
        raise ApiError(404, 10063, "Unknown application command")

    async def get_command(self, request: web.Request) -> web.Response:
        """Return one command."""
        return json_response(self._find_command(request)[1])

    async def delete_command(self, request: web.Request) -> web.Response:
        """Delete one command."""
        scope, command = self._find_command(request)
        self.world.commands[scope].remove(command)
        self.world.touch()
        return no_content()

    async def guild(self, request: web.Request) -> web.Response:
        """Return a guild (as fetch_guild sees it)."""
        guild_id = snowflake_arg(request, "guild_id", ApiError(404, 10004, "Unknown Guild"))
        guild = self.world.guild_of(guild_id)
        payload = guild.create_payload(self.world.bot, iso_now())
        for key in ("channels", "members", "threads", "voice_states", "presences"):
            payload.pop(key)
        return json_response(payload)

    async def guild_channels(self, request: web.Request) -> web.Response:
        """Return a guild's channels."""
        guild_id = snowflake_arg(request, "guild_id", ApiError(404, 10004, "Unknown Guild"))
        guild = self.world.guild_of(guild_id)
        return json_response([c.payload(guild.id) for c in guild.text_channels])

    async def member(self, request: web.Request) -> web.Response:
        """Return a guild member: the bot or a configured member."""
        guild_id = snowflake_arg(request, "guild_id", ApiError(404, 10004, "Unknown Guild"))
        guild = self.world.guild_of(guild_id)
        user_id = snowflake_arg(request, "user_id", ApiError(404, 10007, "Unknown Member"))
        if user_id == self.world.bot.id:
            return json_response(guild.create_payload(self.world.bot, iso_now())["members"][0])
        for user in guild.members:
            if user.id == user_id:
                return json_response(user.member_payload(iso_now()))
        raise ApiError(404, 10007, "Unknown Member")

    async def cdn(self, request: web.Request) -> web.Response:
        """Serve a stored attachment's bytes."""
        file_id = request.match_info["file_id"]
        stored = self.world.files.get(int(file_id)) if file_id.isdigit() else None
        if stored is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.data, headers={"Content-Type": stored.content_type})
