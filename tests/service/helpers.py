"""Helpers of the service tests: engines with tiny models and clients of real loopback servers."""

import asyncio
import tempfile
import threading
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from generators.service.app import create_app
from generators.service.engine import Engine
from generators.text_encoder import hashed_embeddings

FAMILIES = {
    "gan": {"max_batch_size": 8, "max_wait_ms": 5, "max_queue": 32},
    "vae": {"max_batch_size": 4, "max_wait_ms": 5, "max_queue": 8},
    "text": {"max_batch_size": 4, "max_wait_ms": 5, "max_queue": 8},
}
HOME = Path(tempfile.mkdtemp(prefix="genbot-service-tests-"))


class GatedEngine(Engine):
    """An engine whose GAN batches wait for `gate` and record the tenants' prompts in order."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gate, self.order = threading.Event(), []

    def gan_batch(self, jobs):
        self.gate.wait(10)
        self.order.append([j.request.prompt for j in jobs])
        return super().gan_batch(jobs)


def make_engine(screener, cls=Engine, families=("gan", "vae", "text")):
    engine = cls("cpu", screener, hashed_embeddings, home=HOME)
    for family in families:
        engine.load(family, "tiny")
    return engine


_CLIENTS: list = []


async def client_for(engine, families=FAMILIES, **kwargs):
    client = TestClient(TestServer(create_app(engine, families, **kwargs), host="127.0.0.1"))
    await client.start_server()
    _CLIENTS.append(client)
    for _ in range(200):
        if (await client.get("/readyz")).status == 200:
            break
        await asyncio.sleep(0.05)
    return client


async def close_clients():
    """Close every client `client_for` started."""
    while _CLIENTS:
        await _CLIENTS.pop().close()
