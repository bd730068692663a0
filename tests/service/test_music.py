"""The music route on loopback with an untrained tiny model: tunes, files, seeds, refusals."""

import asyncio
import base64
import io

import pytest
from PIL import Image

from generators.music_api import Composition, header_for, retry_seed
from generators.schema import MusicRequest
from generators.service.engine import Engine
from tests.service.helpers import client_for, make_engine

MUSIC = {"music": {"max_batch_size": 4, "max_wait_ms": 5, "max_queue": 16}}
MIMES = ["text/vnd.abc", "audio/midi", "audio/ogg", "image/png"]


async def music_client(screener, cls=Engine):
    return await client_for(make_engine(screener, cls, families=("music",)), MUSIC)


async def compose(client, **body):
    reply = await client.post("/v1/generate/music", json={"prompt": "a jolly jig in D", **body})
    assert reply.status == 200, await reply.text()
    return await reply.json()


def data(reply, mime):
    return base64.b64decode(next(o["data"] for o in reply["outputs"] if o["mime"] == mime))


async def playable(client, **body):
    """Return the first reply, over a few seeds, whose random ABC music21 can play."""
    for seed in range(10):
        reply = await compose(client, seed=seed, **body)
        if len(reply["outputs"]) == 4:
            return reply
    pytest.fail("no playable tune in 10 seeds")


async def test_a_tune_comes_as_abc_midi_audio_and_piano_roll(screener):
    from music21 import converter

    client = await music_client(screener)
    reply = await playable(client)
    assert reply["verdict"]["action"] == "allow" and set(reply["timings"]) == {
        "queue_ms",
        "compute_ms",
    }
    abc, midi, audio, roll = reply["outputs"]
    assert [o["mime"] for o in reply["outputs"]] == MIMES
    assert {o["seed"] for o in reply["outputs"]} == {abc["seed"]}
    assert "R:jig" in abc["text"] and "M:6/8" in abc["text"] and "K:D" in abc["text"]
    assert reply["tune"] == {**reply["tune"], "rhythm": "jig", "meter": "6/8", "key": "D"}
    assert converter.parseData(base64.b64decode(midi["data"]), format="midi").flatten().notes
    assert audio["seconds"] > 0 and len(base64.b64decode(audio["data"])) > 1000
    picture = Image.open(io.BytesIO(base64.b64decode(roll["data"])))
    assert roll["role"] == "piano_roll" and picture.text["ai_generated"] == "true"
    assert picture.text["seed"] == str(abc["seed"]) and picture.text["model"].startswith("music")


async def test_same_seed_same_tune_and_midi_even_within_a_batch(screener):
    client = await music_client(screener)
    first = await playable(client)
    seed = first["outputs"][0]["seed"]
    together = await asyncio.gather(*(compose(client, seed=s) for s in (seed, seed + 1, seed)))
    for reply in (together[0], together[2]):
        assert reply["outputs"][0]["text"] == first["outputs"][0]["text"]
        assert data(reply, "audio/midi") == data(first, "audio/midi")
    assert together[1]["outputs"][0]["text"] != first["outputs"][0]["text"]


async def test_options_override_the_prompt_and_are_stated(screener):
    client = await music_client(screener)
    body = {"key": "G", "rhythm": "reel", "max_new_tokens": 5000, "temperature": 7}
    reply = await compose(client, **body)
    assert reply["tune"]["key"] == "G" and reply["tune"]["rhythm"] == "reel"
    assert "K:G" in reply["outputs"][0]["text"] and "M:4/4" in reply["outputs"][0]["text"]
    notes = " ".join(reply["notes"])
    assert "clamped to 1024" in notes and "clamped to 2" in notes
    assert "has not learnt key G" in notes  # the tiny model only knows the synthetic tunes' D


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "H#"}, "key"),
        ({"meter": "banana"}, "meter"),
        ({"rhythm": "tango"}, "rhythm"),
        ({"top_k": -1}, "top_k"),
        ({"prompt": ""}, "prompt"),
    ],
)
async def test_bad_options_get_a_400_naming_the_field(screener, body, field):
    client = await music_client(screener)
    reply = await client.post("/v1/generate/music", json={"prompt": "a reel", **body})
    error = (await reply.json())["error"]
    assert reply.status == 400 and error["field"] == field and error["reason"]


async def test_a_toxic_prompt_is_refused(screener):
    client = await music_client(screener)
    reply = await compose(client, prompt="a jig for you fucking idiot")
    assert reply["outputs"] == [] and reply["refused"] == "prompt"
    assert reply["verdict"]["action"] == "block" and "refused" in reply["why"]


class FixedComposer(Engine):
    """An engine whose music model always writes `ABC_BODY` (set by each subclass)."""

    body = ""

    def compose(self, requests: list[MusicRequest]) -> list[Composition]:
        return [
            Composition(header_for(r), header_for(r).abc() + self.body, r.seed) for r in requests
        ]


class ToxicLyricist(FixedComposer):
    body = 'w: you are a fucking idiot\n"^fucking idiot"ABcd|\n'


class Scribbler(FixedComposer):
    body = "|ab|A324 b|(((((]]]]\n"  # a bar of 160 beats: unplayable, and once minutes to parse


async def test_toxic_words_in_a_tune_are_withheld(screener):
    client = await music_client(screener, ToxicLyricist)
    reply = await compose(client)
    assert reply["outputs"] == [] and reply["verdict"]["action"] == "block"
    assert "refused" in reply["withheld"]["why"]


async def test_an_unplayable_tune_is_never_returned(screener):
    client = await music_client(screener, Scribbler)
    reply = await compose(client, seed=5)
    assert reply["outputs"] == [] and reply["verdict"]["action"] == "allow"
    assert any("could not write a playable tune in 4 tries" in n for n in reply["notes"])
    assert reply["timings"]["compute_ms"] < 20000


class FirstTryScribbler(FixedComposer):
    """Writes an unplayable tune for the request's own seed, a playable one for its retries."""

    def compose(self, requests: list[MusicRequest]) -> list[Composition]:
        good = "|:DEF GAB|c3 BAG:|\n"
        return [
            Composition(
                header_for(r),
                header_for(r).abc() + (Scribbler.body if r.seed == 5 else good),
                r.seed,
            )
            for r in requests
        ]


async def test_an_unplayable_tune_is_composed_again_with_a_derived_seed(screener):
    client = await music_client(screener, FirstTryScribbler)
    reply = await compose(client, seed=5)
    abc, *files = reply["outputs"]
    assert len(files) == 3 and "|:DEF GAB|" in abc["text"]
    assert abc["seed"] == retry_seed(5, 1) != 5
    assert any("first 1 tune(s) could not be played" in n for n in reply["notes"])
    again = await compose(client, seed=5)  # retries are deterministic: the same tune
    assert again["outputs"][0]["text"] == abc["text"]


async def test_music_is_listed_and_documented(screener):
    client = await music_client(screener)
    assert (await (await client.get("/readyz")).json())["families"] == ["music"]
    models = await (await client.get("/v1/models")).json()
    assert models["models"]["music"]["source"] == "tiny (random weights)"
    spec = await (await client.get("/openapi.json")).json()
    post = spec["paths"]["/v1/generate/{family}"]["post"]
    assert "music" in post["parameters"][0]["schema"]["enum"]
    fields = post["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert {"key", "meter", "rhythm"} <= set(fields)


def test_a_music_checkpoint_loads_like_the_others(screener, tmp_path):
    from data import checkpoints
    from generators import music_api
    from generators.models import music_lm

    trained = make_engine(screener, families=("music",)).models["music"].model
    path = checkpoints.save(
        tmp_path / "model.pt",
        family="music",
        config=trained.config,
        state_dict=music_lm.export_state(trained),
        step=7,
    )
    engine = make_engine(screener, families=())
    loaded = engine.load("music", path)
    assert loaded.step == 7 and loaded.source == str(path)
    request = MusicRequest("a jig", seed=3)
    assert engine.compose([request])[0].abc == music_api.compose(trained, request).abc
