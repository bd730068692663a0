"""The checkpoints shipped in data/models load with weights_only and generate on CPU."""

import json

import pytest
import torch

from data import checkpoints
from generators.models import gan, vae
from generators.service.engine import DEFAULT_CHECKPOINTS
from generators.text_encoder import shared_encoder


def shipped(family):
    return pytest.mark.skipif(
        not DEFAULT_CHECKPOINTS[family].is_file(), reason=f"no shipped {family} checkpoint yet"
    )


@pytest.mark.parametrize(
    "family", [pytest.param("gan", marks=shipped("gan")), pytest.param("vae", marks=shipped("vae"))]
)
def test_shipped_folder_is_complete(family):
    folder = DEFAULT_CHECKPOINTS[family].parent
    for name in ("model.pt", "MODEL_CARD.md", "metrics.json", "report.png", "samples.png"):
        assert (folder / name).is_file(), name
    assert DEFAULT_CHECKPOINTS[family].stat().st_size < 8 * 2**20  # a few MB
    card = (folder / "MODEL_CARD.md").read_text()
    assert "| metric | value |" in card and "Apache-2.0" in card


@shipped("gan")
def test_shipped_gan_generates_seeded_64px_images():
    blob = checkpoints.load(DEFAULT_CHECKPOINTS["gan"], family="gan")
    model = gan.from_export(checkpoints.config_from(blob, gan.Config), blob["state_dict"])
    embedding = torch.as_tensor(shared_encoder().encode(["red heart"]))
    a = gan.generate(model, embedding, 4, torch.Generator().manual_seed(1))
    b = gan.generate(model, embedding, 4, torch.Generator().manual_seed(1))
    assert a.shape == (4, 3, 64, 64) and torch.equal(a, b)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0 and float(a.std()) > 0.05


@shipped("gan")
def test_shipped_gan_meets_the_prompt_fidelity_target():
    metrics = json.loads((DEFAULT_CHECKPOINTS["gan"].parent / "metrics.json").read_text())
    assert metrics["r_at_10_vs_baseline"] >= 5.0


@shipped("vae")
def test_shipped_vae_varies_and_scores_uploads():
    blob = checkpoints.load(DEFAULT_CHECKPOINTS["vae"], family="vae")
    model = vae.from_export(checkpoints.config_from(blob, vae.Config), blob["state_dict"])
    pixels = torch.rand(2, 3, 64, 64)
    out = vae.variations(model, pixels, 3, 0.5, torch.Generator().manual_seed(0))
    assert out.shape == (6, 3, 64, 64)
    scores = vae.out_of_distribution(model, pixels)
    assert all(0.0 <= s <= 1.0 for s in scores)


@shipped("gan")
def test_shipped_gan_can_carry_on_training_from_its_train_state():
    folder = DEFAULT_CHECKPOINTS["gan"].parent
    blob = checkpoints.load(folder / "model.pt", family="gan")
    model = gan.from_export(checkpoints.config_from(blob, gan.Config), blob["state_dict"])
    images = gan.generate(
        model, torch.as_tensor(shared_encoder().encode(["sun"])), 2, torch.Generator()
    )
    assert images.shape == (2, 3, 64, 64)
    state = checkpoints.load(folder / "train-state.pt", family="gan")
    assert state["step"] == blob["step"] and any(
        k.startswith("discriminator.") for k in state["state_dict"]
    )


TEXT_SMALL = DEFAULT_CHECKPOINTS["gan"].parents[1] / "text-small"


@pytest.mark.skipif(not (TEXT_SMALL / "model.safetensors").is_file(), reason="no text-small yet")
def test_shipped_text_small_beats_its_baseline_and_serves(tmp_path):
    from generators.models import text_lm
    from generators.schema import TextRequest

    metrics = json.loads((TEXT_SMALL / "metrics.json").read_text())
    assert metrics["perplexity_valid"] < metrics["perplexity_unigram_baseline"] / 2
    assert "held-out perplexity" in (TEXT_SMALL / "MODEL_CARD.md").read_text()
    lm = text_lm.load(TEXT_SMALL, tmp_path)
    request = TextRequest.parse({"prompt": "A wise man", "max_new_tokens": 12, "seed": 3})
    first, again = text_lm.generate(lm, [request]), text_lm.generate(lm, [request])
    assert first[0].text == again[0].text and first[0].text.strip()


@shipped("music")
def test_shipped_music_plays_and_is_seeded():
    from generators import music_render
    from generators.models import music_lm

    folder = DEFAULT_CHECKPOINTS["music"].parent
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["validity"] >= 0.95 and metrics["memorised"] == 0
    assert "| metric |" in (folder / "MODEL_CARD.md").read_text()
    blob = checkpoints.load(DEFAULT_CHECKPOINTS["music"], family="music")
    model = music_lm.from_export(checkpoints.config_from(blob, music_lm.Config), blob["state_dict"])
    from generators import music_api
    from generators.schema import MusicRequest

    request = MusicRequest.parse({"prompt": "a jig in D", "seed": 5, "max_new_tokens": 300})
    tune = music_api.compose(model, request)
    assert tune.abc == music_api.compose(model, request).abc and "K:D" in tune.abc
    reels = [{"prompt": "a reel in G", "seed": seed, "max_new_tokens": 300} for seed in range(5)]
    tunes = [music_api.compose(model, MusicRequest.parse(body)).abc for body in reels]
    assert sum(music_render.render(abc).midi is not None for abc in tunes) >= 4
