"""Fixtures of the end-to-end tests: one world per test module, always torn down."""

from __future__ import annotations

import pytest_asyncio

from bot.local_service import free_port
from bot.localdiscord import LocalDiscord
from tests.e2e.gate_proxy import GateProxy
from tests.e2e.processes import service_proc, wait_http
from tests.e2e.world import World, new_guild


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory):
    """Start the fake Discord, a tiny service behind a gate proxy, and the bot; stop them all."""
    logs = tmp_path_factory.mktemp("e2e-logs")
    home = tmp_path_factory.mktemp("e2e-home")
    guild = new_guild()
    fake = LocalDiscord(token="e2e-token", guilds=[guild], callback_deadline_s=3.0)
    await fake.start()
    service = service_proc(home, free_port(), logs / "service.log").start()
    proxy = GateProxy(f"http://127.0.0.1:{service.args[service.args.index('--port') + 1]}")
    await proxy.start()
    w = World(fake, guild, proxy, service, home, logs)
    try:
        await wait_http(proxy.upstream + "/readyz", 90)
        await w.start_bot()
        yield w
    finally:
        if w.bot is not None:
            await w.bot.stop(grace_s=15)
        await proxy.stop()
        service.terminate()
        await fake.stop()
