"""Every output of the real service carries its mark; the bot's ledger keeps it; the store finds
the job by it (tiny models on loopback, a real SQLite file)."""

import base64
import io

from PIL import Image

from bot.ledger import _summary
from data.store import Store
from moderation import media_tags, verification
from tests.service.helpers import client_for, make_engine
from tests.service.test_music import MUSIC, playable


async def test_image_outputs_carry_their_marks_and_the_store_finds_the_job(screener, tmp_path):
    engine = make_engine(screener, families=("gan",))
    client = await client_for(engine)
    answer = await client.post("/v1/generate/gan", json={"prompt": "a cat", "seed": 4})
    reply = await answer.json()
    marks = [o["mark"] for o in reply["outputs"]]
    # The grid carries its tiles' marks and names the first tile's (outputs: grid, then tiles).
    assert len(marks) == 5 and len(set(marks)) == 4 and marks[0] == marks[1]
    for output in reply["outputs"]:
        data = base64.b64decode(output["data"])
        image = Image.open(io.BytesIO(data))
        assert image.size[0] >= 256 and image.text["mark"] == output["mark"]
        finding = verification.check(data, engine.marker)
        assert finding.from_install and finding.mark == output["mark"]
    store = Store(tmp_path / "genbot.db")
    job = store.create_job(guild=1, channel=2, user=3, command="imagine", params={"prompt": "a"})
    store.set_result(job["id"], _summary(reply))
    assert "data" not in store.get_job(job["id"])["result"]["outputs"][0]
    assert {store.job_for_mark(m)["id"] for m in marks} == {job["id"]}
    # A JPEG copy of the grid (text chunks gone) is found by the watermark of its first tile.
    grid = Image.open(io.BytesIO(base64.b64decode(reply["outputs"][0]["data"]))).convert("RGB")
    copy = io.BytesIO()
    grid.save(copy, "JPEG", quality=80)
    finding = verification.check(copy.getvalue(), engine.marker, store.job_for_mark)
    assert finding.mark_from == "watermark" and finding.job["id"] == job["id"]
    store.close()


async def test_music_outputs_carry_the_tunes_mark(screener):
    engine = make_engine(screener, families=("music",))
    client = await client_for(engine, MUSIC)
    reply = await playable(client)
    abc, midi, audio, roll = reply["outputs"]
    assert abc["mark"] == midi["mark"] == audio["mark"] and roll["mark"]
    stamp = engine.marker.stamp(abc["mark"])
    assert media_tags.abc_comments(abc["text"]) == [stamp]
    assert stamp in media_tags.midi_texts(base64.b64decode(midi["data"]))
    assert media_tags.sound_tags(base64.b64decode(audio["data"]))["comment"] == stamp
    picture = Image.open(io.BytesIO(base64.b64decode(roll["data"])))
    assert picture.text["mark"] == roll["mark"]
