"""genbot end to end: the real discord.py bot (`genbot run`, a subprocess) against a
Discord-compatible API on loopback, with a tiny-model generation service behind a gate proxy."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
import re
import time

import pytest
from PIL import Image

from bot.localdiscord import BotProcess
from tests.e2e.world import MODERATOR, World, job_id, noisy_png, png

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_bot_logs_in_syncs_its_commands_once_and_connects(world: World):
    names = {c["name"] for c in world.fake.commands()}
    assert {"imagine", "vary", "blend", "write", "compose", "queue", "job", "help"} <= names
    assert {"mod", "privacy"} <= names
    assert world.fake.command_puts == {None: 1}  # global sync, once
    assert world.fake.unknown_routes == []


async def test_imagine_posts_a_grid_with_working_buttons_and_provenance(world: World):
    inter = await world.run("imagine", {"prompt": "a smiling sun", "seed": 5}, user=world.user())
    assert inter.callback.type == 5  # deferred first
    message = await world.result(inter)
    job = job_id(message)
    assert "seed 5" in message.content and message.allowed_mentions["parse"] == []
    ids = message.custom_ids()
    assert [f"gen:var:{job}:{k}" for k in range(4)] == ids[:4]
    assert {f"gen:up:{job}:0", f"gen:reroll:{job}", f"gen:report:{job}", f"gen:del:{job}"} <= set(
        ids
    )
    [(name, data)] = message.files.items()
    image = Image.open(io.BytesIO(data))
    assert name.endswith(".png") and image.text["ai_generated"] == "true"
    assert image.text["seed"] == "5"
    sql = "SELECT state, seed FROM jobs WHERE id = ?"
    # The ledger records the post just after the edit lands.
    await world.wait(lambda: world.job_rows(sql, (job,)) == [("posted", 5)])


async def test_same_seed_same_image_and_u_v_buttons(world: World):
    user = world.user()
    first = await world.result(
        await world.run("imagine", {"prompt": "a cat", "seed": 9}, user=user)
    )
    await asyncio.sleep(2.1)  # the default cooldown
    again = await world.result(
        await world.run("imagine", {"prompt": "a cat", "seed": 9}, user=user)
    )
    assert list(first.files.values()) == list(again.files.values())
    await asyncio.sleep(2.1)
    shown = await world.result(await world.run("job", {"id": job_id(first)}, user=user))
    assert list(shown.files.values()) == list(first.files.values())
    assert f"gen:var:{job_id(shown)}:0" in shown.custom_ids()
    await asyncio.sleep(2.1)
    up = await world.fake.click(first, f"gen:up:{job_id(first)}:2", user=user)
    big = await world.result(up)
    [data] = big.files.values()
    assert Image.open(io.BytesIO(data)).size == (256, 256)
    await asyncio.sleep(2.1)
    var = await world.fake.click(first, f"gen:var:{job_id(first)}:1", user=user)
    varied = await world.result(var)
    assert varied.files and "job" in varied.content


async def test_write_help_and_queue(world: World):
    user = world.user()
    inter = await world.run("write", {"prompt": "Once upon a time", "max_tokens": 16}, user=user)
    message = await world.result(inter)
    assert message.embeds and message.embeds[0]["description"]
    help_ = await world.run("help", user=user)
    assert help_.callback.type == 4 and "/imagine" in (await world.private(help_))
    queue = await world.run("queue", user=user)
    assert "no jobs" in await world.private(queue)


async def test_compose_posts_audio_abc_midi_and_a_piano_roll(world: World):
    options = {"prompt": "a jolly jig", "key": "D", "rhythm": "jig"}
    message = await world.result(await world.run("compose", options, user=world.user()))
    assert sorted(n.rsplit(".", 1)[1] for n in message.files) == ["abc", "mid", "ogg", "png"]
    abc = next(d for n, d in message.files.items() if n.endswith(".abc")).decode()
    assert "K:D" in abc and "R:jig" in abc
    audio = next(d for n, d in message.files.items() if n.endswith(".ogg"))
    assert audio[:4] == b"OggS"  # Discord plays .ogg inline


async def test_vary_blend_and_bad_uploads(world: World):
    # The tiny test VAE is untrained, so its out-of-distribution score means nothing here.
    mod = world.user(MODERATOR)
    ood = {"key": "image_out_of_distribution.flag", "value": "1.01"}
    assert "Set" in await world.private(
        await world.run("mod", ood, user=mod, subcommand="policy set")
    )
    user = world.user()
    files = {"image": ("red.png", png(), "image/png")}
    message = await world.result(
        await world.run("vary", {"strength": 0.5}, user=user, attachments=files)
    )
    assert any(n.endswith(".png") for n in message.files)
    await asyncio.sleep(2.1)
    pair = {"a": ("red.png", png(), "image/png"), "b": ("blue.png", png((0, 0, 200)), "image/png")}
    assert (
        await world.result(await world.run("blend", {}, user=world.user(), attachments=pair))
    ).files
    fake_png = {"image": ("cat.png", b"this is not an image at all", "image/png")}
    refused = await world.run("vary", {}, user=world.user(), attachments=fake_png)
    assert "not a PNG, JPEG" in await world.private(refused)
    bomb = io.BytesIO()
    Image.new("1", (12000, 12000)).save(bomb, format="PNG")  # 144 megapixels, a few kB
    bombed = await world.run(
        "vary",
        {},
        user=world.user(),
        attachments={"image": ("b.png", bomb.getvalue(), "image/png")},
    )
    assert "megapixels" in await world.private(bombed)


async def test_a_refused_prompt_explains_itself_and_the_appeal_reaches_review(world: World):
    mod = world.user(MODERATOR)
    setup = await world.run(
        "mod",
        {"key": "review_channel", "value": str(world.mods)},
        user=mod,
        subcommand="policy set",
    )
    assert "Set `review_channel`" in await world.private(setup)
    user = world.user()
    inter = await world.run(
        "imagine", {"prompt": "I will kill you, you worthless idiot"}, user=user
    )
    text = await world.private(inter)
    assert "was refused" in text and "check:" in text and "Appeal" in text
    notice = next(m for m in [*inter.followups] if m.ephemeral)
    [appeal_id] = [c for c in notice.custom_ids() if c.startswith("appeal:")]
    assert inter.original is None or inter.original.deleted  # nothing public was left
    click = await world.fake.click(notice, appeal_id, user=user)
    await world.wait(lambda: click.modal is not None)
    sent = await world.fake.submit_modal(
        click.modal["custom_id"], {"reason": "a quote from a film"}, user=user
    )
    assert "Appeal #" in await world.private(sent)
    review = await world.wait(
        lambda: next(
            (m for m in world.fake.messages(world.mods) if "**appeal**" in m.content), None
        )
    )
    assert "a quote from a film" in review.content
    listed = await world.run("mod", {}, user=mod, subcommand="review")
    assert "appeal #" in await world.private(listed)
    [strikes] = world.job_rows("SELECT count(*) FROM strikes WHERE user = ?", (user.id,))
    assert strikes == (1,)
    await asyncio.sleep(2.1)
    again = await world.run("write", {"prompt": "you worthless idiot, I will kill you"}, user=user)
    assert "was refused" in await world.private(again)
    await asyncio.sleep(2.1)
    paused = await world.run("imagine", {"prompt": "a calm lake"}, user=user)
    assert "Several of your recent prompts were refused" in await world.private(paused)


async def test_a_held_result_is_approved_by_a_moderator_and_posted(world: World):
    mod = world.user(MODERATOR)
    for key, value in (("review_channel", str(world.mods)), ("toxicity.flag", "0")):
        done = await world.run(
            "mod", {"key": key, "value": value}, user=mod, subcommand="policy set"
        )
        assert "Set" in await world.private(done)
    try:
        user = world.user()
        inter = await world.run("write", {"prompt": "a short poem", "max_tokens": 8}, user=user)
        await world.wait(lambda: inter.original and "pending review" in inter.original.content)
        item = await world.wait(
            lambda: next(
                (m for m in world.fake.messages(world.mods) if "**held**" in m.content), None
            )
        )
        approve = next(c for c in item.custom_ids() if c.startswith("rev:approve:"))
        click = await world.fake.click(item, approve, user=mod)
        assert "Approved" in await world.private(click, 60)
        job = int(item.content.split("job ")[1].split()[0])
        posted = await world.wait(lambda: world.channel_posts(world.general, job))
        assert len(posted) == 1 and posted[0].embeds
    finally:
        reset = await world.run(
            "mod", {"key": "toxicity.flag", "value": "0.5"}, user=mod, subcommand="policy set"
        )
        await world.private(reset)


async def test_moderation_and_privacy_commands(world: World):
    mod, member = world.user(MODERATOR), world.user()
    shown = await world.run("mod", {}, user=mod, subcommand="policy show")
    assert "preset **pg13**" in await world.private(shown)
    denied = await world.run(
        "mod", {}, user=member, subcommand="policy show", enforce_permissions=False
    )
    assert "Only moderators" in await world.private(denied)
    for sub, options, expect in [
        ("policy preset", {"name": "kids"}, "Preset is now **kids**"),
        ("policy preset", {"name": "pg13"}, "Preset is now **pg13**"),
        ("policy set", {"key": "daily_user", "value": "500"}, "Set `daily_user`"),
        ("policy set", {"key": "daily_user", "value": "-3"}, "Not changed"),
        ("policy set", {"key": "memorised.flag", "value": "1.01"}, "always held for review"),
        ("rules add", {"pattern": "frobnicate", "label": "spam"}, "Rule added"),
        ("rules remove", {"pattern": "frobnicate"}, "Removed 1 rule"),
        ("strikes", {"user": member}, "0 strikes"),
        ("log", {}, ""),
        ("stats", {}, ""),
        ("stats", {"what": "bias"}, "No bias audits yet"),
    ]:
        inter = await world.run("mod", options, user=mod, subcommand=sub)
        assert expect in await world.private(inter), sub
    deny = await world.run(
        "mod",
        {"note": "test"},
        user=mod,
        subcommand="denylist add",
        attachments={"image": ("x.png", png((1, 2, 3)), "image/png")},
    )
    assert "Denylisted image hash" in await world.private(deny)
    banned = {"image": ("again.png", png((1, 2, 3)), "image/png")}
    refused = await world.run("vary", {}, user=world.user(), attachments=banned)
    assert "Your image was refused" in await world.private(refused)
    assert "banned" in await world.private(refused)
    await world.result(await world.run("imagine", {"prompt": "a tree"}, user=member))
    await asyncio.sleep(2.1)
    uploads = world.home / "uploads"
    before = set(uploads.glob("*"))
    upload = {"image": ("mine.png", noisy_png(9), "image/png")}
    await world.result(await world.run("vary", {}, user=member, attachments=upload))
    [kept] = set(uploads.glob("*")) - before  # the upload waits on disk for /job replays
    consent = await world.run("privacy", {"choice": "on"}, user=member, subcommand="consent")
    assert "Thanks" in await world.private(consent)
    export = await world.run("privacy", {}, user=member, subcommand="export")
    await world.private(export)
    files = [f for m in [*export.followups, export.original] if m for f in m.files.items()]
    [(name, data)] = files
    assert name.endswith(".json")
    exported = json.loads(data)
    assert exported["jobs"] and all("interaction_token" not in j for j in exported["jobs"])
    forget = await world.run("privacy", {}, user=member, subcommand="forget")
    await world.private(forget)
    confirm = next(m for m in [forget.original, *forget.followups] if m and m.custom_ids())
    click = await world.fake.click(confirm, f"privacy:forget:{member.id}", user=member)
    assert "rows about you were deleted" in await world.private(click)
    assert world.job_rows("SELECT count(*) FROM jobs WHERE user = ?", (member.id,)) == [(0,)]
    assert not kept.exists()


async def test_delete_button_is_for_the_requester_or_a_moderator(world: World):
    owner, other = world.user(), world.user()
    message = await world.result(await world.run("imagine", {"prompt": "a boat"}, user=owner))
    job = job_id(message)
    report = await world.fake.click(message, f"gen:report:{job}", user=other)
    assert "moderators will look" in await world.private(report)
    item = await world.wait(
        lambda: next(
            (m for m in world.fake.messages(world.mods) if "**report**" in m.content), None
        )
    )
    assert f"job {job}" in item.content and any(c.startswith("rev:") for c in item.custom_ids())
    nope = await world.fake.click(message, f"gen:del:{job}", user=other)
    assert "Only the requester" in await world.private(nope)
    yes = await world.fake.click(message, f"gen:del:{job}", user=owner)
    await world.private(yes)
    assert message.deleted


async def test_reroll_works_after_a_bot_restart(world: World):
    user = world.user()
    message = await world.result(await world.run("imagine", {"prompt": "a red kite"}, user=user))
    assert await world.bot.stop(grace_s=15) == 0
    await world.start_bot()
    assert world.fake.command_puts == {None: 1}  # the unchanged command set is not re-synced
    await asyncio.sleep(2.1)  # the default cooldown
    click = await world.fake.click(message, f"gen:reroll:{job_id(message)}", user=user)
    rerolled = await world.result(click)
    assert job_id(rerolled) != job_id(message) and rerolled.files


async def test_kill9_mid_generation_then_restart_posts_exactly_once(world: World):
    world.proxy.gate.clear()
    try:
        inter = await world.run("imagine", {"prompt": "a lighthouse", "seed": 3}, user=world.user())
        await world.wait(lambda: world.proxy.held >= 1)  # the bot is mid-generation
        world.bot.proc.kill()  # SIGKILL: nothing of the bot's cleanup runs
        world.bot.proc.wait(10)
    finally:
        world.proxy.gate.set()
    await world.start_bot()
    message = await world.result(inter)
    job = job_id(message)
    sql = "SELECT state FROM jobs WHERE id = ?"
    await world.wait(lambda: world.job_rows(sql, (job,)) == [("posted",)])
    assert world.channel_posts(world.general, job) == [message]


async def test_a_crash_between_posting_and_recording_does_not_post_twice(world: World):
    # An interaction older than 10 minutes is answered with channel.send.
    inter = await world.run(
        "imagine", {"prompt": "an old map", "seed": 4}, user=world.user(), age_s=700
    )
    job = await world.wait(
        lambda: next(
            iter(
                world.job_rows(
                    "SELECT id FROM jobs WHERE state = 'posted' AND params LIKE '%an old map%'"
                )
            ),
            None,
        )
    )
    [first] = world.channel_posts(world.general, job[0])
    await world.bot.stop(grace_s=15)
    # As if the process had died after channel.send and before recording it:
    world.job_rows(
        "UPDATE jobs SET state = 'generating', posted_message_id = NULL WHERE id = ?", job
    )
    await world.start_bot()
    await world.wait(
        lambda: world.job_rows("SELECT state FROM jobs WHERE id = ?", job) == [("posted",)]
    )
    assert world.channel_posts(world.general, job[0]) == [first]
    [(posted_id,)] = world.job_rows("SELECT posted_message_id FROM jobs WHERE id = ?", job)
    assert posted_id == first.id and inter.acked_after_s < 3


async def test_service_killed_mid_job_the_user_is_told_and_the_job_retries(world: World):
    world.proxy.gate.clear()
    try:
        inter = await world.run("imagine", {"prompt": "a storm at sea"}, user=world.user())
        await world.wait(lambda: world.proxy.held >= 1)
        world.service.kill9()
    finally:
        world.proxy.gate.set()
    await world.wait(lambda: inter.original and "will retry" in inter.original.content, 60)
    world.service.start()
    message = await world.result(inter, timeout=120)
    assert world.channel_posts(world.general, job_id(message)) == [message]


async def test_200_simultaneous_interactions_are_all_deferred_within_3s(world: World):
    users = [world.user() for _ in range(200)]
    started = time.monotonic()
    inters = await asyncio.gather(
        *(
            world.fake.invoke(
                "imagine",
                {"prompt": f"burst {k}"},
                user=u,
                guild_id=world.guild.id,
                channel_id=world.general,
            )
            for k, u in enumerate(users)
        )
    )
    await world.wait(lambda: all(i.acked_at is not None for i in inters), 30)
    acks = sorted(i.acked_after_s for i in inters)
    await world.wait(lambda: all(i.original and i.original.components for i in inters), 300)
    total = time.monotonic() - started
    print(
        f"\n200-interaction burst: max ack {acks[-1]:.3f} s, p50 {acks[100]:.3f} s, "
        f"all answered in {total:.1f} s"
    )
    assert acks[-1] < 3.0
    assert all(not i.errors for i in inters)
    # Progress edits (every edit before the result) are at least a second apart.
    for inter in inters:
        progress = inter.original.edit_times[:-1]
        assert all(b - a >= 0.99 for a, b in itertools.pairwise(progress))


async def test_without_a_service_url_the_bot_runs_its_own_service_and_stops_it(world, tmp_path):
    await world.bot.stop(grace_s=15)
    env = {"GENBOT_HOME": str(tmp_path), "GENBOT_DETOXIFY": "off", "HF_HUB_OFFLINE": "1"}
    log = world.logs / "bot-child.log"
    child_bot = BotProcess(world.fake, "bot.cli:main", ["run", "--tiny"], log_path=log, env=env)
    child_bot.start()
    try:
        await child_bot.wait_ready(60)
        inter = await world.run("imagine", {"prompt": "a small house"}, user=world.user())
        assert (await world.result(inter, timeout=120)).files  # once the child has loaded
        match = re.search(r"local generation service \(pid (\d+)\)", child_bot.log_text())
        service_pid = int(match.group(1))
        os.kill(service_pid, 0)  # alive while the bot runs
    finally:
        assert await child_bot.stop(grace_s=30) == 0
    with pytest.raises(ProcessLookupError):
        os.kill(service_pid, 0)  # stopped (and reaped) with the bot
    await world.start_bot()


async def test_graceful_shutdown_and_no_unhandled_errors(world: World):
    assert await world.bot.stop(grace_s=20) == 0
    logs = world.bot_logs()
    assert "Traceback" not in logs and "Unhandled" not in logs, logs[-4000:]
    assert world.fake.server_errors == [] and world.fake.unknown_routes == []
    await world.start_bot()  # leave the world as the fixture expects
