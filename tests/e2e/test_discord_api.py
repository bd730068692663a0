"""The fake Discord API against the real discord.py: tiny_bot runs in a subprocess and is driven."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.localdiscord import (
    MEMBER_PERMISSIONS,
    BotProcess,
    Channel,
    Guild,
    InteractionRecord,
    LocalDiscord,
    User,
    new_snowflake,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TINY = "tests.e2e.tiny_bot:main"
MANAGE_GUILD = 1 << 5
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


@dataclass
class Env:
    """The shared fake, its guild and the running tiny bot."""

    fake: LocalDiscord
    guild: Guild
    bot: BotProcess
    logs: Path

    @property
    def channel_id(self) -> int:
        """Return the guild's first channel id."""
        return self.guild.text_channels[0].id

    async def wait(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait for the predicate; on timeout fail with the bot's log."""
        try:
            return await self.fake.wait_for(predicate, timeout)
        except TimeoutError:
            pytest.fail(f"timed out; bot log:\n{self.bot.log_text()[-4000:]}")

    def launch(self, name: str, **env: str) -> BotProcess:
        """Return a (not yet started) tiny bot for this guild, logging to `<name>.log`."""
        return tiny_bot(self.fake, [self.guild.id], self.logs / f"{name}.log", **env)


def tiny_bot(fake: LocalDiscord, guild_ids: list[int], log_path: Path, **env: str) -> BotProcess:
    """Return a (not yet started) tiny bot syncing its commands to `guild_ids`."""
    argv = [arg for g in guild_ids for arg in ("--guild", str(g))]
    return BotProcess(fake, TINY, argv, log_path=log_path, env=env)


def guild_on_shard(shard_id: int, shard_count: int) -> Guild:
    """Return a guild whose id lands on `shard_id` ((id >> 22) % shard_count)."""
    base = new_snowflake()
    ms = (base >> 22) - ((base >> 22) - shard_id) % shard_count
    return Guild(id=(ms << 22) | (base & ((1 << 22) - 1)))


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    """Start one fake Discord and one tiny bot for the module; always stop both."""
    guild = Guild(name="Tiny Guild", channels=[Channel(name="general"), Channel(name="art")])
    fake = LocalDiscord(token="test-token", guilds=[guild], callback_deadline_s=3.0)
    await fake.start()
    logs = tmp_path_factory.mktemp("e2e")
    shared = Env(fake, guild, tiny_bot(fake, [guild.id], logs / "tiny.log"), logs)
    try:
        shared.bot.start()
        await shared.bot.wait_ready(timeout=30)
        yield shared
    finally:
        await shared.bot.stop()  # the current bot: a test may have restarted it
        await fake.stop()


async def api(fake: LocalDiscord, method: str, path: str, **kwargs: Any) -> tuple[int, Any, str]:
    """Make a raw request to the fake; return status, JSON body and Content-Type."""
    headers = {"Authorization": f"Bot {fake.token}", **kwargs.pop("headers", {})}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, fake.url + path, headers=headers, **kwargs) as resp,
    ):
        text = await resp.text()
        return resp.status, json.loads(text) if text else None, resp.headers.get("Content-Type", "")


async def render(
    env: Env, image: Any = ("cat.png", PNG, "image/png"), **kw: Any
) -> InteractionRecord:
    """Invoke /render and wait until its final edit (or an error) arrives."""
    options = {"prompt": "a cat", "count": 2}
    inter = await env.fake.invoke("render", options, attachments={"image": image}, **kw)
    await env.wait(lambda: inter.errors or (inter.original and " x2 " in inter.original.content))
    return inter


async def test_bot_logs_in_syncs_and_connects(env: Env) -> None:
    fake = env.fake
    names = sorted(c["name"] for c in fake.commands(env.guild.id))
    assert names == ["dm", "once", "render", "secret", "sleepy", "tiny"]
    assert all(
        int(c["id"]) > 0 and c["guild_id"] == str(env.guild.id) for c in fake.commands(env.guild.id)
    )
    assert fake.command_puts == {env.guild.id: 1}
    paths = [(r.method, r.path) for r in fake.requests]
    for expected in [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
        ("GET", "/gateway/bot"),
    ]:
        assert expected in paths
    assert fake.gateway.identifies == [(0, 1)]
    assert fake.unknown_routes == [] and fake.server_errors == []


async def test_render_defers_reads_attachment_and_edits_in_a_file(env: Env) -> None:
    inter = await render(env)
    assert inter.callback is not None and inter.callback.type == 5
    assert 0 <= inter.acked_after_s < 3
    msg = inter.original
    assert msg.content == f"a cat x2 ({len(PNG)} bytes)" and not msg.loading
    assert msg.files == {"render.bin": PNG[::-1]}
    assert [v["content"] for v in msg.versions] == ["", "rendering a cat..."]
    assert msg.versions[0]["flags"] & 128 and msg.allowed_mentions["parse"] == []
    assert msg.custom_ids() == ["tiny:btn:2"]
    assert msg in env.fake.messages(env.channel_id) and msg.type == 20
    async with aiohttp.ClientSession() as session, session.get(msg.attachments[0].url) as resp:
        assert await resp.read() == PNG[::-1]
    sent = inter.payload["data"]
    assert sent["options"][2] == {"type": 11, "name": "image", "value": sent["options"][2]["value"]}
    assert list(sent["resolved"]["attachments"]) == [sent["options"][2]["value"]]


async def test_ephemeral_reply_stays_out_of_the_channel(env: Env) -> None:
    inter = await env.fake.invoke("secret", user=User(name="alice"))
    await env.wait(lambda: inter.original)
    assert inter.callback.type == 4 and inter.callback.data["flags"] == 64
    assert inter.original.ephemeral and inter.original.content == "shh"
    assert inter.original not in env.fake.messages(env.channel_id)


async def test_persistent_button_opens_modal_whose_submit_follows_up(env: Env) -> None:
    source = (await render(env)).original
    alice = User(name="alice")
    click = await env.fake.click(source, "tiny:btn:2", user=alice)
    await env.wait(lambda: click.modal)
    assert click.modal["custom_id"] == "tiny:modal:2"
    assert click.payload["data"] == {"custom_id": "tiny:btn:2", "component_type": 2, "id": 2}
    submit = await env.fake.submit_modal("tiny:modal:2", {"note": "hello"})
    await env.wait(lambda: submit.followups)
    assert submit.payload["data"]["components"][0]["type"] == 18  # a Label, as sent
    assert submit.user is alice and submit.payload["message"]["id"] == str(source.id)
    assert submit.original.content == "saved" and submit.original.ephemeral
    note = submit.followups[0]
    assert note.content == "note 2: hello" and not note.ephemeral
    assert note in env.fake.messages(env.channel_id)
    with pytest.raises(LookupError, match="no component"):
        await env.fake.click(source, "tiny:btn:9")


async def test_enforced_nonce_sends_one_message(env: Env) -> None:
    before = len(env.fake.messages(env.channel_id))
    inter = await env.fake.invoke("once")
    await env.wait(lambda: inter.original and not inter.original.loading)
    assert inter.original.content == "same=True" and inter.original.ephemeral
    assert inter.followups == []  # the first follow-up after a defer fills in the original
    new = env.fake.messages(env.channel_id)[before:]
    assert [m.content for m in new] == ["once"] and new[0].nonce == str(inter.id)
    posts = [r for r in env.fake.requests if r.path == f"/channels/{env.channel_id}/messages"]
    assert [r.json["enforce_nonce"] for r in posts[-2:]] == [True, True]


async def test_dm_after_deleting_the_deferred_reply(env: Env) -> None:
    alice, bob = User(name="alice"), User(name="bob", accepts_dms=False)
    sent = await env.fake.invoke("dm", user=alice)
    refused = await env.fake.invoke("dm", user=bob)
    await env.wait(lambda: sent.followups and refused.followups)
    assert sent.original.deleted and sent.original.loading
    assert [(m.content, m.ephemeral) for m in sent.followups] == [("sent", True)]
    assert [m.content for m in env.fake.dm_messages(alice)] == ["hello from tiny"]
    assert refused.followups[0].content == "closed (50007)" and env.fake.dm_messages(bob) == []


async def test_subcommand_group_and_option_checks(env: Env) -> None:
    with pytest.raises(PermissionError, match="default_member_permissions=0x20"):
        await env.fake.invoke("tiny", {"value": "strict"}, subcommand="policy set")
    admin = User(name="admin", permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
    inter = await env.fake.invoke("tiny", {"value": "strict"}, subcommand="policy set", user=admin)
    await env.wait(lambda: inter.original)
    assert inter.original.content == "policy=strict"
    group = inter.payload["data"]["options"][0]
    assert (group["type"], group["name"], group["options"][0]["name"]) == (2, "policy", "set")
    with pytest.raises(LookupError, match="not synced"):
        await env.fake.invoke("imagine")
    with pytest.raises(ValueError, match="required option 'image'"):
        await env.fake.invoke("render", {"prompt": "x", "count": 1})
    with pytest.raises(ValueError, match=r"within 1\.\.4"):
        await env.fake.invoke("render", {"prompt": "x", "count": 9})


async def test_second_callback_is_already_acknowledged(env: Env) -> None:
    inter = await env.fake.invoke("secret")
    await env.wait(lambda: inter.callback)
    path = f"/api/v10/interactions/{inter.id}/{inter.token}/callback"
    status, body, ctype = await api(env.fake, "POST", path, json={"type": 5})
    assert (status, body["code"], ctype) == (400, 40060, "application/json")
    assert body["message"] == "Interaction has already been acknowledged."


async def test_late_callback_is_unknown_interaction(env: Env) -> None:
    env.fake.callback_deadline_s = 0.3
    try:
        inter = await env.fake.invoke("sleepy", {"seconds": 0.6})
        await env.wait(lambda: inter.errors)
    finally:
        env.fake.callback_deadline_s = 3.0
    assert inter.callback is None
    assert (inter.errors[0].status, inter.errors[0].code) == (404, 10062)
    await env.wait(lambda: "too late: 10062" in env.bot.log_text())


async def test_webhook_token_expires_after_15_minutes(env: Env) -> None:
    inter = await render(env, age_s=16 * 60)
    assert inter.callback.type == 5  # the 3 s ack deadline counts from dispatch
    error = inter.errors[0]
    assert (error.status, error.code, error.method) == (401, 50027, "PATCH")
    assert error.path.endswith("/messages/@original") and inter.original.loading


async def test_burst_of_200_interactions_all_acked(env: Env) -> None:
    users = [User(name=f"user{i}") for i in range(200)]
    burst = await asyncio.gather(*(env.fake.invoke("secret", user=u) for u in users))
    await env.wait(lambda: all(i.acked_at for i in burst), timeout=20)
    latencies = sorted(i.acked_after_s for i in burst)
    assert len({i.id for i in burst}) == 200 and latencies[-1] < 3.0
    assert all(i.original.content == "shh" for i in burst)


async def test_gateway_close_resumes_the_session(env: Env) -> None:
    fake = env.fake
    resumes = fake.gateway.resumes
    await fake.close_gateway(4000)
    await env.wait(lambda: fake.gateway.resumes > resumes and fake.gateway.ready_shards())
    inter = await fake.invoke("secret")
    await env.wait(lambda: inter.original)
    assert len(fake.gateway.identifies) == 1


async def test_wrong_token_is_refused(env: Env) -> None:
    status, body, ctype = await api(
        env.fake, "GET", "/api/v10/users/@me", headers={"Authorization": "Bot nope"}
    )
    assert (status, body, ctype) == (
        401,
        {"message": "401: Unauthorized", "code": 0},
        "application/json",
    )
    bad = env.launch("bad-token", DISCORD_TOKEN="nope")
    bad.start()
    try:
        assert await bad.wait_exit(timeout=20) == 3
    finally:
        await bad.stop()
    assert "login failed" in bad.log_text()


async def test_persistent_button_survives_a_restart(env: Env) -> None:
    source = (await render(env, image=env.fake.add_file("cat.png", PNG))).original
    await env.bot.stop()
    env.bot = env.launch("tiny-restarted")
    env.bot.start()
    await env.bot.wait_ready(timeout=30)
    click = await env.fake.click(source, "tiny:btn:2")
    await env.wait(lambda: click.modal)
    assert env.fake.command_puts == {env.guild.id: 2}
    assert env.fake.unknown_routes == [] and env.fake.server_errors == []


async def test_messages_history_and_limits_over_rest(env: Env) -> None:
    fake, channel = env.fake, env.guild.text_channels[1].id
    ids = []
    for n in range(5):
        _, body, _ = await api(
            fake, "POST", f"/api/v10/channels/{channel}/messages", json={"content": f"m{n}"}
        )
        ids.append(int(body["id"]))
    base = f"/api/v10/channels/{channel}/messages"
    _, newest, _ = await api(fake, "GET", base, params={"limit": "2"})
    _, after, _ = await api(fake, "GET", base, params={"after": str(ids[1]), "limit": "2"})
    _, around, _ = await api(fake, "GET", base, params={"around": str(ids[2]), "limit": "3"})
    assert [m["content"] for m in newest] == ["m4", "m3"]
    assert [m["content"] for m in after] == ["m3", "m2"]
    assert [m["content"] for m in around] == ["m3", "m2", "m1"]
    status, body, _ = await api(fake, "POST", base, json={"content": "x" * 2001})
    assert (status, body["code"]) == (400, 50035)
    status, body, _ = await api(fake, "POST", base, json={"content": ""})
    assert (status, body["code"]) == (400, 50006)
    said = await fake.post_message(channel, "hello bot", user=User(name="carol"))
    frame = fake.gateway.session_for(env.guild.id).log[-1]
    assert (frame["t"], frame["d"]["id"]) == ("MESSAGE_CREATE", str(said.id))
    assert frame["d"]["content"] == ""  # the bot lacks the message_content intent
    status, body, _ = await api(fake, "GET", "/api/v10/nowhere")
    assert (status, body) == (404, {"code": 0, "message": "404: Not Found"})
    assert fake.unknown_routes.pop() == ("GET", "/api/v10/nowhere")


async def test_two_shards_each_get_their_guilds(tmp_path: Path) -> None:
    guilds = [guild_on_shard(0, 2), guild_on_shard(1, 2)]
    fake = LocalDiscord(guilds=guilds, shards=2)
    await fake.start()
    bot = tiny_bot(fake, [g.id for g in guilds], tmp_path / "sharded.log")
    try:
        bot.start()
        await bot.wait_ready(timeout=30)  # discord.py waits 5 s before a second IDENTIFY
        assert sorted(fake.gateway.identifies) == [(0, 2), (1, 2)]
        calls = [await fake.invoke("secret", guild_id=g.id) for g in guilds]
        await fake.wait_for(lambda: all(c.original for c in calls), 10)
        assert [c.shard_id for c in calls] == [0, 1]
    finally:
        await bot.stop()
        await fake.stop()
