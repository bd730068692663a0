"""The gateway websocket: HELLO, IDENTIFY/READY/GUILD_CREATE, heartbeats, RESUME, dispatches."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .models import iso_now
from .state import World

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_MS = 41250
GUILD_MESSAGES = 1 << 9
MESSAGE_CONTENT = 1 << 15
# Events that only reach sessions which asked for the intent.
EVENT_INTENTS = {
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
}


class Connection:
    """One websocket; sends are serialised so sequence numbers go out in order."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.lock = asyncio.Lock()

    async def send(self, frame: dict) -> None:
        """Send one JSON text frame (plain text: discord.py accepts it even with zlib-stream)."""
        if self.ws.closed:
            return
        try:
            await self.ws.send_str(json.dumps(frame))
        except (ConnectionResetError, RuntimeError):
            log.debug("gateway frame dropped: connection closing")


@dataclass
class Session:
    """A gateway session: survives its connection so the bot can RESUME it."""

    id: str
    shard_id: int
    shard_count: int
    intents: int
    conn: Connection | None
    identified_at: float = field(default_factory=time.monotonic)
    seq: int = 0
    ready: bool = False
    log: deque = field(default_factory=lambda: deque(maxlen=5000))

    def owns(self, guild_id: int) -> bool:
        """Return whether this session's shard receives events for the guild."""
        return (guild_id >> 22) % self.shard_count == self.shard_id

    @property
    def connected(self) -> bool:
        """Return whether the session has an open websocket."""
        return self.conn is not None and not self.conn.ws.closed

    async def dispatch(self, event: str, data: Any) -> None:
        """Send an op 0 dispatch with the next sequence number (kept for RESUME replay)."""
        conn = self.conn
        if conn is None:
            self.seq += 1
            self.log.append({"op": 0, "t": event, "s": self.seq, "d": data})
            return
        async with conn.lock:
            self.seq += 1
            frame = {"op": 0, "t": event, "s": self.seq, "d": data}
            self.log.append(frame)
            if self.conn is conn:
                await conn.send(frame)


class Gateway:
    """Serves `/gateway` and routes dispatches to the session that owns a guild."""

    def __init__(self, world: World, url: str = "") -> None:
        self.world = world
        self.url = url
        self.sessions: dict[str, Session] = {}
        self.identifies: list[tuple[int, int]] = []
        self.resumes = 0
        self.presences: list[dict] = []
        self._connections: set[Connection] = set()
        world.event_sink = self.dispatch_guild

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Run one websocket connection until it closes."""
        ws = web.WebSocketResponse(compress=True, max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws)
        self._connections.add(conn)
        await self._op(conn, 10, {"heartbeat_interval": HEARTBEAT_INTERVAL_MS, "_trace": ["fake"]})
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._receive(conn, json.loads(msg.data))
        finally:
            self._connections.discard(conn)
            for session in self.sessions.values():
                if session.conn is conn:
                    session.conn = None
            self.world.touch()
        return ws

    async def _op(self, conn: Connection, op: int, data: Any) -> None:
        """Send a non-dispatch opcode."""
        async with conn.lock:
            await conn.send({"op": op, "d": data, "s": None, "t": None})

    async def _receive(self, conn: Connection, frame: dict) -> None:
        """Handle one client frame by opcode."""
        op, data = frame.get("op"), frame.get("d")
        if op == 1:
            await self._op(conn, 11, None)
        elif op == 2:
            await self._identify(conn, data)
        elif op == 6:
            await self._resume(conn, data)
        elif op == 3:
            self.presences.append(data)
        elif op == 8:
            await self._members_chunk(conn, data)

    async def _identify(self, conn: Connection, data: dict) -> None:
        """Check the token and shard, then send READY and one GUILD_CREATE per owned guild."""
        if data.get("token") != self.world.settings.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard_id, shard_count = data.get("shard") or [0, 1]
        if not 0 <= shard_id < shard_count:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        intents = data.get("intents", 0)
        session = Session(secrets.token_hex(16), shard_id, shard_count, intents, conn)
        self.sessions[session.id] = session
        self.identifies.append((shard_id, shard_count))
        guilds = [g for g in self.world.guilds.values() if session.owns(g.id)]
        await session.dispatch("READY", self._ready_payload(session, guilds))
        joined = iso_now(age_s=86400)
        for guild in guilds:
            await session.dispatch("GUILD_CREATE", guild.create_payload(self.world.bot, joined))
        session.ready = True
        self.world.touch()

    def _ready_payload(self, session: Session, guilds: list) -> dict:
        """Return READY's data."""
        bot = self.world.bot
        return {
            "v": 10,
            "user": {**bot.payload(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.url,
            "shard": [session.shard_id, session.shard_count],
            "application": {"id": str(bot.id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake-gateway"],
        }

    async def _resume(self, conn: Connection, data: dict) -> None:
        """Replay what the session missed and send RESUMED; op 9 when it cannot resume."""
        session = self.sessions.get(data.get("session_id", ""))
        if session is None or data.get("token") != self.world.settings.token:
            await self._op(conn, 9, False)
            return
        async with conn.lock:
            session.conn = conn
            for frame in list(session.log):
                if frame["s"] > (data.get("seq") or 0):
                    await conn.send(frame)
        self.resumes += 1
        await session.dispatch("RESUMED", {"_trace": ["fake-gateway"]})
        self.world.touch()

    async def _members_chunk(self, conn: Connection, data: dict) -> None:
        """Answer REQUEST_GUILD_MEMBERS with the guild's configured members in one chunk."""
        guild = self.world.guilds.get(int(data["guild_id"]))
        session = next((s for s in self.sessions.values() if s.conn is conn), None)
        if guild is None or session is None:
            return
        joined = iso_now(age_s=3600)
        members = [u.member_payload(joined) for u in guild.members]
        members.append(guild.create_payload(self.world.bot, joined)["members"][0])
        chunk = {"guild_id": str(guild.id), "members": members, "chunk_index": 0, "chunk_count": 1}
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    # -- used by the test driver -------------------------------------------------------------

    def session_for(self, guild_id: int) -> Session | None:
        """Return the newest ready session whose shard owns the guild."""
        owners = [s for s in self.sessions.values() if s.ready and s.owns(guild_id)]
        return max(owners, key=lambda s: s.identified_at, default=None)

    async def dispatch_guild(self, guild_id: int, event: str, data: dict) -> None:
        """Send an event about a guild to its session, honouring intents."""
        session = self.session_for(guild_id)
        if session is None:
            return
        needed = EVENT_INTENTS.get(event, 0)
        if needed and not session.intents & needed:
            return
        # Without the privileged intent the bot still sees its own messages and its mentions.
        bot_id = str(self.world.bot.id)
        own = data.get("author", {}).get("id") == bot_id
        mentioned = f"<@{bot_id}>" in data.get("content", "")
        visible = own or mentioned or bool(session.intents & MESSAGE_CONTENT)
        if event == "MESSAGE_CREATE" and not visible:
            data = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
        await session.dispatch(event, data)

    def ready_shards(self, since: float | None = None) -> set[int]:
        """Return the shard ids with a connected, ready session (identified after `since`)."""
        return {
            s.shard_id
            for s in self.sessions.values()
            if s.ready and s.connected and (since is None or s.identified_at >= since)
        }

    async def close(
        self, code: int = 4000, shard_id: int | None = None, resumable: bool = True
    ) -> None:
        """Close the bot's gateway connections; without `resumable` the sessions are dropped."""
        for session in list(self.sessions.values()):
            if shard_id is not None and session.shard_id != shard_id:
                continue
            if session.conn is not None:
                await session.conn.ws.close(code=code, message=b"closed by test")
            if not resumable:
                del self.sessions[session.id]
        self.world.touch()

    async def stop(self) -> None:
        """Close every open websocket."""
        for conn in list(self._connections):
            await conn.ws.close(code=1001, message=b"server stopping")
