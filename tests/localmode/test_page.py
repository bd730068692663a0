"""The local page's routes, through aiohttp's test client on LocalDiscord's own app (no bot is
connected here: a valid command gets as far as "not connected"; the browser test runs the bot)."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass

import aiohttp
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from bot.localdiscord import Guild, LocalDiscord, MessageRecord, User, new_snowflake
from bot.localdiscord.page import UPLOAD_LIMIT, Page
from bot.localdiscord.records import EPHEMERAL
from bot.localmode import local_guild
from tests.localmode.commands import COMMANDS


@dataclass
class Site:
    fake: LocalDiscord
    guild: Guild
    client: TestClient

    def member(self, name: str) -> User:
        return next(u for u in self.guild.members if u.name == name)

    @property
    def general(self) -> int:
        return self.guild.text_channels[0].id

    async def send(self, text: str, user: str = "Ada", files: dict | None = None) -> tuple:
        """POST the composer's form; return (status, JSON body)."""
        form = aiohttp.FormData()
        form.add_field("text", text)
        form.add_field("user", str(self.member(user).id))
        form.add_field("channel", str(self.general))
        for option, (name, data) in (files or {}).items():
            form.add_field(f"file:{option}", data, filename=name, content_type="image/png")
        async with self.client.post("/local/send", data=form) as reply:
            return reply.status, await reply.json()


@pytest_asyncio.fixture
async def site():
    guild = local_guild()
    fake = LocalDiscord("page-token", [guild], bot_name="genbot")
    fake.world.commands[guild.id] = copy.deepcopy(COMMANDS)
    client = TestClient(TestServer(fake.make_app(Page(fake, guild).install)))
    await client.start_server()
    try:
        yield Site(fake, guild, client)
    finally:
        await client.close()


def message(site: Site, content: str, *, for_user: User | None = None, **kw) -> MessageRecord:
    """Add a bot message to #general; ephemeral when `for_user` is given."""
    meta = (
        {"id": "1", "type": 2, "name": "imagine", "user": for_user.payload()} if for_user else None
    )
    msg = MessageRecord(
        new_snowflake(),
        site.general,
        site.guild.id,
        site.fake.bot.payload(),
        "2026-01-01T00:00:00+00:00",
        content=content,
        flags=EPHEMERAL if for_user else 0,
        interaction_metadata=meta,
        **kw,
    )
    site.fake.world.add_message(msg)
    return msg


async def test_the_page_and_its_scripts_are_served(site: Site):
    async with site.client.get("/") as reply:
        assert reply.status == 200 and "<title>genbot local</title>" in await reply.text()
    for name in ("app.js", "messages.js", "commands.js", "markdown.js", "style.css"):
        async with site.client.get(f"/web/{name}") as reply:
            assert reply.status == 200, name


async def test_world_lists_channels_with_the_age_restricted_one_marked_and_members(site: Site):
    async with site.client.get("/local/world") as reply:
        world = await reply.json()
    assert world["guild"]["name"] == "genbot local"
    channels = {c["name"]: c["nsfw"] for c in world["channels"]}
    assert channels == {"general": False, "art-18": True, "mod-review": False}
    members = {m["name"]: m["moderator"] for m in world["members"]}
    assert members == {"Mo": True, "Ada": False, "Bo": False}
    assert world["upload_limit"] == UPLOAD_LIMIT == 8 * 1024 * 1024


async def test_commands_are_the_chat_commands_marked_by_what_the_user_is_offered(site: Site):
    async def offered(name: str) -> dict[str, bool]:
        async with site.client.get(f"/local/commands?user={site.member(name).id}") as reply:
            return {c["name"]: c["allowed"] for c in await reply.json()}

    ada, mo = await offered("Ada"), await offered("Mo")
    assert sorted(ada) == ["compose", "help", "imagine", "mod", "vary"]  # no context menu
    assert ada["imagine"] and not ada["mod"]
    assert mo["mod"]
    async with site.client.get("/local/commands?user=42") as reply:
        assert reply.status == 400


async def test_ephemeral_messages_are_shown_only_to_the_user_they_were_for(site: Site):
    ada, bo = site.member("Ada"), site.member("Bo")
    message(site, "for everyone")
    message(site, "only Ada", for_user=ada)
    message(site, "only Bo", for_user=bo)
    message(site, "gone").deleted = True

    async def seen(user: User) -> list[tuple[str, bool]]:
        url = f"/local/messages?channel={site.general}&user={user.id}"
        async with site.client.get(url) as reply:
            return [(m["content"], m["ephemeral"]) for m in await reply.json()]

    assert await seen(ada) == [("for everyone", False), ("only Ada", True)]
    assert await seen(bo) == [("for everyone", False), ("only Bo", True)]
    async with site.client.get(f"/local/messages?channel=dm&user={ada.id}") as reply:
        assert await reply.json() == []
    async with site.client.get("/local/messages?channel=nope&user=1") as reply:
        assert reply.status == 400


async def test_bad_commands_are_explained_and_nothing_is_sent(site: Site):
    for text, status, expected in [
        ("/nope", 400, "Unknown command /nope"),
        ("/imagine", 400, "/imagine needs prompt"),
        ("/imagine prompt: x seed: abc", 400, "seed must be a whole number"),
        ("/mod policy set key: a value: b", 403, "Discord offers /mod only to members"),
        ("/vary", 400, "/vary needs a file for image"),
    ]:
        answer, body = await site.send(text)
        assert answer == status and body["ok"] is False and expected in body["error"], body
    assert site.fake.interactions == [] and site.fake.world.files == {}


async def test_an_upload_over_the_cap_is_refused_before_it_reaches_the_bot(site: Site):
    too_big = {"image": ("big.png", b"\x89PNG" + bytes(UPLOAD_LIMIT))}
    status, body = await site.send("/vary", files=too_big)
    assert status == 413 and "big.png is over the 8 MB upload limit" in body["error"]
    assert site.fake.interactions == [] and site.fake.world.files == {}


async def test_a_good_command_reaches_the_dispatcher(site: Site):
    # No bot holds a gateway session here, so the dispatcher answers "not connected".
    status, body = await site.send("/imagine prompt: red heart seed: 3")
    assert status == 503 and "not connected" in body["error"]
    small = {"image": ("red.png", b"\x89PNG small")}
    assert (await site.send("/vary strength: 0.5", files=small))[0] == 503


async def test_plain_text_is_posted_as_the_member(site: Site):
    assert await site.send("hello there", user="Bo") == (200, {"ok": True})
    [posted] = site.fake.messages(site.general)
    assert posted.content == "hello there" and posted.author["username"] == "Bo"


async def test_clicks_and_modals_check_what_they_name(site: Site):
    ada = site.member("Ada")
    button = {"type": 2, "style": 1, "label": "V1", "custom_id": "gen:var:1:0"}
    msg = message(site, "a result", components=[{"type": 1, "components": [button]}])
    for body, status in [
        ({"message": "1", "custom_id": "gen:var:1:0", "user": str(ada.id)}, 400),
        ({"message": str(msg.id), "custom_id": "gen:nope", "user": str(ada.id)}, 400),
        ({"message": str(msg.id), "custom_id": "gen:var:1:0", "user": str(ada.id)}, 503),
    ]:
        async with site.client.post("/local/click", json=body) as reply:
            assert reply.status == status, body
    async with site.client.post("/local/modal", json={"custom_id": "x", "user": "1"}) as reply:
        assert reply.status == 400


async def test_events_stream_a_version_on_every_change(site: Site):
    async with site.client.get("/local/events") as reply:
        assert reply.headers["Content-Type"] == "text/event-stream"
        first = await asyncio.wait_for(reply.content.readline(), 2)
        assert first.startswith(b"data: ")
        message(site, "news")
        line = b""
        while not line.startswith(b"data: "):
            line = await asyncio.wait_for(reply.content.readline(), 2)
        assert int(line.split()[1]) > int(first.split()[1])
