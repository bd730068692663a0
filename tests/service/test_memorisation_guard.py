"""The real service on loopback holds an output that repeats the private data its model was
fine-tuned on: the guard is read from the model's folder when the model loads."""

import base64

import pytest

from bot.settings import ServiceSettings
from data import install_secret
from data.community import CommunityItem
from generators.evaluate import _tiny_checkpoint
from generators.models import gan, text_lm
from generators.service.engine import Engine
from generators.service.serve import ServeError, build_engine
from generators.text_encoder import hashed_embeddings
from moderation.memorisation import write_private_index
from moderation.ngram_index import normalise
from tests.service.helpers import FAMILIES, client_for


def _item(k: int, family: str, text: str | None = None, png: bytes | None = None):
    return CommunityItem(f"c{k}", family, "a prompt", 2, 0, "2026-12-01", "g1", text, png)


async def _serve(screener, home, family, source):
    engine = Engine("cpu", screener, hashed_embeddings, home=home)
    engine.load(family, source)
    return engine, await client_for(engine, {family: FAMILIES[family]})


def _labels(reply: dict) -> list[str]:
    return [r["label"] for r in reply["verdict"]["reasons"]]


async def test_text_that_repeats_a_private_item_is_held(screener, tmp_path):
    folder = text_lm.build_tiny(tmp_path / "text-finetuned")
    _, client = await _serve(screener, tmp_path, "text", folder)
    # The untrained model writes noise, which may stop at once or look rude to the lexical
    # scorer: take the first seed whose output is long and not blocked.
    for seed in range(40):
        request = {"prompt": "once upon a time", "seed": seed, "max_new_tokens": 64}
        before = await (await client.post("/v1/generate/text", json=request)).json()
        written = before["outputs"][0]["text"] if before["outputs"] else ""
        if len(normalise(written)[0]) >= 60:
            break
    assert len(normalise(written)[0]) >= 60 and "memorised" not in _labels(before)
    shared = f"Shared by a member: {written.upper()} (thanks!)"
    write_private_index([_item(1, "text", shared)], folder, install_secret.load(tmp_path))

    engine, client = await _serve(screener, tmp_path, "text", folder)
    assert engine.models["text"].private is not None
    after = await (await client.post("/v1/generate/text", json=request)).json()
    assert after["outputs"][0]["text"] == written
    assert after["verdict"]["action"] == "flag" and "memorised" in _labels(after)
    memorised = next(r for r in after["verdict"]["reasons"] if r["label"] == "memorised")
    start, end = memorised["span"]
    assert normalise(written[start:end])[0] == normalise(written)[0]


async def test_an_image_that_repeats_a_private_image_is_held(screener, tmp_path):
    checkpoint = _tiny_checkpoint(gan, tmp_path / "gan-finetuned" / "model.pt")
    _, client = await _serve(screener, tmp_path, "gan", checkpoint)
    request = {"prompt": "a red balloon", "seed": 7, "num_samples": 2}
    before = await (await client.post("/v1/generate/gan", json=request)).json()
    assert "memorised" not in _labels(before)
    # What the community shared: the posted tiles (enlarged and watermarked PNGs).
    tiles = [base64.b64decode(o["data"]) for o in before["outputs"] if o["role"] == "tile"]
    items = [_item(k, "gan", png=png) for k, png in enumerate(tiles)]
    write_private_index(items, checkpoint.parent, install_secret.load(tmp_path))

    _, client = await _serve(screener, tmp_path, "gan", checkpoint)
    after = await (await client.post("/v1/generate/gan", json=request)).json()
    assert after["verdict"]["action"] == "flag" and _labels(after)[0] == "memorised"
    assert len([o for o in after["outputs"] if o["role"] == "tile"]) == len(tiles)


def test_a_model_whose_guard_this_install_cannot_read_is_not_served(tmp_path):
    folder = text_lm.build_tiny(tmp_path / "text-finetuned")
    write_private_index([_item(1, "text", "x" * 80)], folder, b"another install's secret")
    env = {"GENBOT_HOME": str(tmp_path), "GENBOT_DETOXIFY": "off"}
    with pytest.raises(ServeError, match="another install's secret"):
        build_engine(ServiceSettings.from_env(env), {"text": folder}, "cpu", tiny=True)


def test_a_fine_tuned_model_without_its_guard_is_not_served(tmp_path):
    folder = text_lm.build_tiny(tmp_path / "text-finetuned")
    (folder / "FINETUNE.json").write_text('{"family": "text"}')  # what every fine-tune writes
    env = {"GENBOT_HOME": str(tmp_path), "GENBOT_DETOXIFY": "off"}
    with pytest.raises(ServeError, match="private index is missing"):
        build_engine(ServiceSettings.from_env(env), {"text": folder}, "cpu", tiny=True)
