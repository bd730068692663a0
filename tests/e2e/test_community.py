"""The community loop end to end, through the bot's own commands: consent, a prompt with
personal information (redacted before it is stored), 👍 ratings, moderators promoting results
to the gallery, then `genbot data export-community` on the bot's own store."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from PIL import Image

from data.community import read_items
from tests.e2e.world import MODERATOR, World, job_id

pytestmark = pytest.mark.asyncio(loop_scope="module")
EMAIL = "ada.lovelace@example.org"


async def promote(world: World, mod, job: int, **options) -> str:
    inter = await world.run("mod", {"job": job, **options}, user=mod, subcommand="gallery promote")
    return await world.private(inter, 60)


async def write_posted(world: World, user, prompt: str):
    """Return the posted result of /write. The tiny untrained model writes noise, which the
    moderation layer now and then refuses or holds: such a try is made again (a new seed)."""
    for _ in range(6):
        inter = await world.run("write", {"prompt": prompt, "max_tokens": 12}, user=user)

        def settled(inter=inter):
            m = inter.original
            if m and not m.deleted and m.components and "job " in m.content:
                return m
            if m and "pending review" in m.content:
                return "held"
            refused = [f for f in inter.followups if f.ephemeral and "was refused" in f.content]
            return "refused" if refused else None

        outcome = await world.wait(settled, 60)
        if not isinstance(outcome, str):
            return outcome
    pytest.fail(f"every try of {prompt!r} was refused")


async def test_consented_rated_promoted_results_become_the_exported_dataset(world: World, tmp_path):
    mod, author, shy, fan = world.user(MODERATOR), world.user(), world.user(), world.user()
    where = await world.run("mod", {"where": world.mods}, user=mod, subcommand="gallery channel")
    assert "now go to" in await world.private(where)
    consent = await world.run("privacy", {"choice": "on"}, user=author, subcommand="consent")
    assert "may be used" in await world.private(consent)

    done = await world.run(
        "mod", {"key": "cooldown_s", "value": "0"}, user=mod, subcommand="policy set"
    )
    assert "Set" in await world.private(done)

    # A prompt with an email: the result says it was removed; the store never sees it.
    posted = await write_posted(world, author, f"a sea shanty for {EMAIL}")
    text_job = job_id(posted)
    assert "Personal information was removed" in posted.content and EMAIL not in posted.content
    [(params,)] = world.job_rows("SELECT params FROM jobs WHERE id = ?", (text_job,))
    assert EMAIL not in params and "[email]" in params
    image_job = job_id(
        await world.result(await world.run("imagine", {"prompt": "a red kite"}, user=author))
    )
    other_job = job_id(
        await world.result(await world.run("imagine", {"prompt": "a blue boat"}, user=shy))
    )

    # Ratings from other members, on the result message's own buttons.
    for job, like in ((text_job, True), (image_job, True), (image_job, False)):
        [message] = world.channel_posts(world.general, job)
        button = f"gen:{'like' if like else 'dislike'}:{job}"
        assert button in message.custom_ids()
        click = await world.fake.click(message, button, user=fan if like else shy)
        assert "Thanks for rating" in await world.private(click)

    # More sayings, so that the fine-tune below has some to learn from and some to hold out.
    more = [
        job_id(await write_posted(world, author, f"a saying about {topic}"))
        for topic in ("rain", "bread", "kites", "rivers")
    ]
    for job in (text_job, *more):
        assert "1 item(s) added" in await promote(world, mod, job)
    assert "1 item(s) added" in await promote(world, mod, image_job, tile=2)
    assert "has not consented" in await promote(world, mod, other_job)
    gallery = [m for m in world.fake.messages(world.mods) if m.content.startswith("🖼 Gallery")]
    assert len(gallery) == 7

    out = tmp_path / "export"
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "data", "export-community", "--out", str(out)],
        env={"GENBOT_HOME": str(world.home), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "6 items (gan 1, text 5)" in done.stdout
    items = read_items(out)
    assert EMAIL not in (out / "community.jsonl").read_text()
    shanty = next(i for i in items if "shanty" in i.prompt)
    assert shanty.prompt == "a sea shanty for [email]" and shanty.up == 1
    items = {i.family: i for i in items}
    assert (items["gan"].up, items["gan"].down) == (1, 1)
    assert Image.open(io.BytesIO(items["gan"].image_png)).mode == "RGB"
    assert str(author.id) not in (out / "community.jsonl").read_text()
    sheet = (out / "DATASHEET.md").read_text()
    assert "6 items from 1 server(s): gan 1, text 5" in sheet

    # The community loop closes: a fine-tune of the service's own text model on that export,
    # with a before/after report and the memorisation guard's index beside the new model.
    tuned, report = tmp_path / "tuned", tmp_path / "report"
    base = world.home / "models" / "text-tiny"
    args = ["train", "text", "--finetune-from", str(base), "--data", str(out), "--epochs", "2"]
    args += ["--out", str(tuned), "--report", str(report), "--eval-data", "synthetic"]
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={"GENBOT_HOME": str(world.home), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads((tuned / "FINETUNE.json").read_text())
    # A fifth is held out by the hash of each item's id, and ids differ run to run: of 5
    # records, 3 or more are held out in about 6% of runs (it failed CI once as "train >= 3").
    data = facts["data"]
    assert data["records"] == 5 and data["train"] + data["held_out"] == 5, facts
    assert data["train"] >= 1, facts
    assert (tuned / "private-index.json").is_file()
    before_after = json.loads((report / "report.json").read_text())
    assert before_after["before"] and before_after["after"]
    assert (report / "report.png").stat().st_size > 0
    assert "## Bias audit: group-swapped prompts" in (report / "REPORT.md").read_text()


async def test_an_upheld_report_removes_the_result_and_strikes_its_author(world: World):
    mod, author, reader = world.user(MODERATOR), world.user(), world.user()
    setting = {"key": "review_channel", "value": str(world.mods)}
    assert "Set" in await world.private(
        await world.run("mod", setting, user=mod, subcommand="policy set")
    )
    message = await world.result(await world.run("imagine", {"prompt": "a kite"}, user=author))
    job = job_id(message)
    report = await world.fake.click(message, f"gen:report:{job}", user=reader)
    assert "moderators will look" in await world.private(report)
    item = await world.wait(
        lambda: next(
            (
                m
                for m in world.fake.messages(world.mods)
                if "**report** #" in m.content and f"job {job} " in m.content
            ),
            None,
        )
    )
    assert str(reader.id) not in item.content  # the reporter stays anonymous to everyone
    upheld = await world.fake.click(
        item, next(c for c in item.custom_ids() if "reject" in c), user=mod
    )
    assert "Report upheld" in await world.private(upheld, 60)
    assert message.deleted
    rows = world.job_rows("SELECT label FROM strikes WHERE user = ?", (author.id,))
    assert rows == [("reported",)]
    [(reporter,)] = world.job_rows("SELECT reporter FROM reviews WHERE job = ?", (job,))
    assert reporter == reader.id
