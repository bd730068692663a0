"""The durable ledger against a real service on loopback (tiny models), a real SQLite file,
and a delivery fake that records what Discord would have been asked to do."""

import asyncio
import base64

import pytest
from aiohttp import web

from bot.guilds import GuildConfig
from bot.ledger import Ledger
from bot.service_client import ServiceClient
from data.store import AsyncStore
from generators.service.app import create_app
from tests.service.helpers import FAMILIES, client_for, make_engine


class RecordingDelivery:
    """Records every outcome; `post` returns a fresh message id each time."""

    def __init__(self):
        self.events, self.posted = [], {}
        self.changed = asyncio.Event()

    def _note(self, *event):
        self.events.append(event)
        self.changed.set()

    async def progress(self, job, text):
        self._note("progress", job["id"], text)

    async def post(self, job, reply):
        self.posted.setdefault(job["id"], []).append(reply)
        self._note("post", job["id"])
        return 1000 + len(self.events), job["channel"]

    async def refuse(self, job, verdict, what):
        self._note("refuse", job["id"], what, verdict.top.label if verdict.top else None)

    async def hold(self, job, reply, review_id):
        self._note("hold", job["id"], review_id)

    async def fail(self, job, reason):
        self._note("fail", job["id"], reason)

    async def wait(self, predicate, timeout=20.0):
        async def loop():
            while not predicate(self.events):
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), timeout)


@pytest.fixture
async def store(tmp_path):
    s = await AsyncStore.open(tmp_path / "genbot.db")
    yield s
    await s.close()


def ledger_for(store, url, delivery, config=None, **kwargs):
    service = ServiceClient([url], retries=0, backoff=0.01)

    async def guild_config(guild):
        return config or GuildConfig(guild)

    return Ledger(store, service, delivery, guild_config, retry_base_s=0.05, **kwargs), service


async def new_job(store, command="imagine", params=None, seed=11, user=7):
    return await store.create_job(
        guild=1,
        channel=2,
        user=user,
        command=command,
        params=params or {"prompt": "a smiling sun"},
        seed=seed,
    )


async def run_one(store, screener, until, config=None, server=None, **job_fields):
    """Run one job through a fresh ledger and service until `until(events, job)`; return both."""
    server = server or await client_for(make_engine(screener))
    delivery = RecordingDelivery()
    ledger, service = ledger_for(store, str(server.make_url("")), delivery, config)
    await ledger.start()
    job = await new_job(store, **job_fields)
    await ledger.submit(job)
    try:
        await delivery.wait(lambda ev: until(ev, job))
    finally:
        await ledger.stop()
        await service.close()
    return job, delivery


def posted(events, job):
    return ("post", job["id"]) in events


def did(kind):
    return lambda events, job: any(e[0] == kind and e[1] == job["id"] for e in events)


WRITE = {
    "command": "write",
    "params": {"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0.8},
}


async def test_a_job_is_screened_generated_posted_and_recorded(store, screener):
    job, delivery = await run_one(store, screener, posted)
    row = await store.get_job(job["id"])
    assert row["state"] == "posted" and row["posted_message_id"] > 1000
    assert row["interaction_token"] is None
    assert [v["direction"] for v in await store.verdicts_for(job["id"])] == ["prompt", "output"]
    assert row["result"]["verdict"]["action"] == "allow"
    assert all("data" not in o for o in row["result"]["outputs"])  # no image bytes in the DB
    grid = delivery.posted[job["id"]][0]["outputs"][0]
    assert base64.b64decode(grid["data"]).startswith(b"\x89PNG")


async def test_a_blocked_prompt_is_refused_with_its_label_and_a_strike(store, screener):
    toxic = {"prompt": "I will kill you, you worthless idiot"}
    job, delivery = await run_one(store, screener, did("refuse"), params=toxic)
    refusal = next(e for e in delivery.events if e[0] == "refuse")
    assert refusal[1:3] == (job["id"], "prompt") and refusal[3]
    assert (await store.get_job(job["id"]))["state"] == "refused"
    assert len(await store.strikes_since(1, 7, 0)) == 1
    assert job["id"] not in delivery.posted


async def test_unfinished_jobs_resume_after_a_restart_with_the_same_output(store, screener):
    server = await client_for(make_engine(screener))
    url = str(server.make_url(""))
    first = RecordingDelivery()
    ledger, service = ledger_for(store, url, first)
    await ledger.start()
    done = await new_job(store, seed=99)
    await ledger.submit(done)
    await first.wait(lambda ev: ("post", done["id"]) in ev)
    await ledger.stop()
    await service.close()
    # A job the previous process had started generating when it died:
    crashed = await new_job(store, seed=99)
    await store.set_job_state(crashed["id"], "generating")
    second = RecordingDelivery()
    ledger, service = ledger_for(store, url, second)
    assert await ledger.start() == 1
    await second.wait(lambda ev: ("post", crashed["id"]) in ev)
    await ledger.stop()
    await service.close()
    same = [first.posted[done["id"]][0], second.posted[crashed["id"]][0]]
    assert same[0]["outputs"][0]["data"] == same[1]["outputs"][0]["data"]  # same seed, same PNG
    assert len(second.posted[crashed["id"]]) == 1


async def test_service_down_tells_the_user_once_then_retries_until_it_returns(
    store, screener, unused_tcp_port
):
    delivery = RecordingDelivery()
    url = f"http://127.0.0.1:{unused_tcp_port}"
    ledger, service = ledger_for(store, url, delivery)
    await ledger.start()
    job = await new_job(store)
    await ledger.submit(job)
    await delivery.wait(lambda ev: any(e[0] == "progress" and "retry" in e[2] for e in ev))
    await asyncio.sleep(0.3)  # several retries against nothing
    runner = web.AppRunner(create_app(make_engine(screener), FAMILIES))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        await delivery.wait(lambda ev: ("post", job["id"]) in ev, timeout=30)
    finally:
        await ledger.stop()
        await service.close()
        await runner.cleanup()
    told = [e for e in delivery.events if e[0] == "progress" and "will retry" in e[2]]
    assert len(told) == 1  # once, however many retries it took
    row = await store.get_job(job["id"])
    assert row["state"] == "posted" and row["attempts"] >= 1


async def test_a_flagged_output_is_held_for_review_not_posted(store, screener):
    config = GuildConfig(1, overrides={"toxicity": {"output": [0.0, 1.01]}})
    job, delivery = await run_one(store, screener, did("hold"), config, **WRITE)
    assert (await store.get_job(job["id"]))["state"] == "held"
    [review] = await store.pending_reviews(1)
    assert review["job"] == job["id"] and review["kind"] == "held"
    assert job["id"] not in delivery.posted


async def test_a_blocked_output_is_never_posted(store, screener):
    # Every output blocks; prompts pass (their thresholds are the preset's).
    config = GuildConfig(1, overrides={"toxicity": {"output": [0.0, 0.0]}})
    job, delivery = await run_one(store, screener, did("refuse"), config, **WRITE)
    refusal = next(e for e in delivery.events if e[0] == "refuse")
    assert refusal[1:] == (job["id"], "output", "toxicity")
    assert (await store.get_job(job["id"]))["state"] == "refused"
    assert job["id"] not in delivery.posted


async def test_shadow_mode_posts_and_records_what_would_have_happened(store, screener):
    toxic = {"prompt": "I will kill you, you worthless idiot"}
    shadow = GuildConfig(1, shadow=True)
    job, delivery = await run_one(store, screener, posted, shadow, params=toxic)
    assert len(delivery.posted[job["id"]]) == 1
    [prompt, _] = await store.verdicts_for(job["id"])
    assert prompt["action"] == "allow" and prompt["model_versions"]["shadow_action"] == "block"
    assert await store.strikes_since(1, 7, 0) == []  # shadow mode enforces nothing


async def test_a_tune_no_retry_could_play_fails_with_the_reason(store, screener):
    from tests.service.test_music import Scribbler, music_client

    server = await music_client(screener, Scribbler)
    compose = {"command": "compose", "params": {"prompt": "a jig"}}
    job, delivery = await run_one(store, screener, did("fail"), server=server, **compose)
    failure = next(e for e in delivery.events if e[0] == "fail")
    assert "could not write a playable tune" in failure[2] and "try again" in failure[2]
    row = await store.get_job(job["id"])
    assert row["state"] == "failed" and job["id"] not in delivery.posted
