"""A reverse proxy on loopback between the bot and the generation service whose gate can hold
generation requests, so a test can act while the bot is provably mid-generation. When the
upstream is gone it drops the bot's connection, as a dead service would."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web


class GateProxy:
    """Forwards every request to `upstream`; `/v1/generate/*` waits while the gate is closed."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.gate = asyncio.Event()
        self.gate.set()
        self.held = 0
        self.forwarded: list[str] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=32 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        """Close the proxy."""
        self.gate.set()
        if self._session:
            await self._session.close()
        if self._runner:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/v1/generate"):
            self.held += 1
            try:
                await self.gate.wait()
            finally:
                self.held -= 1
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        try:
            async with self._session.request(
                request.method, self.upstream + request.path_qs, data=body, headers=headers
            ) as reply:
                data = await reply.read()
                self.forwarded.append(request.path)
                keep = {"Content-Type", "Retry-After"}
                out = {k: v for k, v in reply.headers.items() if k in keep}
                return web.Response(status=reply.status, body=data, headers=out)
        except aiohttp.ClientError:
            request.transport.close()  # the bot sees the connection die, as with a dead service
            raise web.HTTPServiceUnavailable() from None
