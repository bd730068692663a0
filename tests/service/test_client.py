"""The bot's service client against real servers on loopback: replicas, retries, errors."""

import asyncio
import socket

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.service_client import (
    BadRequest,
    DeadlineExceeded,
    ServiceBusy,
    ServiceClient,
    ServiceUnavailable,
    Unauthorized,
)
from tests.service.helpers import client_for, make_engine


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once closed


class ScriptedReplica:
    """A replica we own that answers a scripted sequence of statuses."""

    def __init__(self, statuses, retry_after="1"):
        self.statuses, self.retry_after, self.calls = list(statuses), retry_after, 0

    async def start(self):
        app = web.Application()
        app.router.add_get("/readyz", self.ready)
        app.router.add_post("/v1/moderate", self.handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("")).rstrip("/")

    async def ready(self, request):
        return web.json_response({"ready": True})

    async def handle(self, request):
        self.calls += 1
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            return web.json_response({"verdicts": [{"action": "allow"}]})
        headers = {"Retry-After": self.retry_after} if status in (429, 503) else {}
        error = {"status": status, "reason": f"scripted {status}", "field": "texts"}
        return web.json_response({"error": error}, status=status, headers=headers)


async def test_a_dead_replica_is_skipped_and_marked(screener):
    live = await client_for(make_engine(screener))
    dead_url = closed_port()
    async with ServiceClient(
        [dead_url, str(live.make_url("")).rstrip("/")], backoff=0.01
    ) as client:
        reply = await client.generate("gan", {"prompt": "red heart", "num_samples": 1})
        assert reply["verdict"]["action"] == "allow" and len(reply["outputs"]) == 2
        assert [r.healthy for r in client.replicas] == [False, True]
        verdicts = await client.moderate(["kys"], "prompt")
        assert verdicts[0]["action"] == "block"


async def test_429_then_success_honours_retry_after():
    replica = ScriptedReplica([429, 503, 200], retry_after="0")
    url = await replica.start()
    async with ServiceClient([url], backoff=0.01, recheck_after=0, reprobe_down_after=0) as client:
        assert await client.moderate(["hi"], "prompt") == [{"action": "allow"}]
    assert replica.calls == 3
    await replica.server.close()


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, BadRequest), (404, BadRequest), (401, Unauthorized), (504, DeadlineExceeded)],
)
async def test_final_errors_are_typed_and_not_retried(status, error):
    replica = ScriptedReplica([status] * 5)
    url = await replica.start()
    async with ServiceClient([url], backoff=0.01) as client:
        with pytest.raises(error) as info:
            await client.moderate(["hi"], "prompt")
    assert replica.calls == 1 and info.value.friendly
    if status == 400:
        assert info.value.field == "texts"
    await replica.server.close()


async def test_busy_after_all_retries():
    replica = ScriptedReplica([429] * 10, retry_after="0")
    url = await replica.start()
    async with ServiceClient([url], retries=2, backoff=0.01) as client:
        with pytest.raises(ServiceBusy):
            await client.moderate(["hi"], "prompt")
    assert replica.calls == 3
    await replica.server.close()


async def test_all_replicas_down_is_a_friendly_unavailable():
    async with ServiceClient([closed_port(), closed_port()], retries=1, backoff=0.01) as client:
        with pytest.raises(ServiceUnavailable) as info:
            await asyncio.wait_for(client.models(), 10)
    assert "retry" in info.value.friendly
