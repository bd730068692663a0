"""From request to PNG bytes with tiny models: provenance, determinism and bad input."""

import io

import pytest
import torch
from PIL import Image

from generators import image_api
from generators.models import gan, vae
from generators.schema import ImageRequest, RequestError, VariationRequest
from generators.text_encoder import hashed_embeddings
from moderation.uploads import UploadError
from tests.moderation.test_images import bomb_png, picture, png_bytes


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return gan.build(gan.PRESETS["tiny"]).eval(), vae.build(vae.PRESETS["tiny"]).eval()


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_imagine_makes_a_2x2_grid_with_provenance(models):
    result = image_api.imagine(
        models[0], hashed_embeddings, ImageRequest("red heart", 4, 42), "gan-tiny"
    )
    assert len(result.tiles) == 4 and result.seed == 42
    tile, sheet = decode(result.tiles[0]), decode(result.grid)
    assert tile.size == (16, 16) and sheet.width > 2 * 16 * 2
    assert tile.text["ai_generated"] == "true" and tile.text["seed"] == "42"
    assert tile.text["model"] == "gan-tiny"
    again = image_api.imagine(models[0], hashed_embeddings, ImageRequest("red heart", 4, 42))
    assert [decode(t).tobytes() for t in again.tiles] == [decode(t).tobytes() for t in result.tiles]


@pytest.mark.parametrize("prompt", ["ハートの絵", "сердце", "❤️❤️❤️", "x" * 1000])
def test_other_scripts_and_long_prompts_generate(models, prompt):
    result = image_api.imagine(models[0], hashed_embeddings, ImageRequest.parse({"prompt": prompt}))
    assert len(result.tiles) == 4


@pytest.mark.parametrize(
    "body", [{"prompt": ""}, {"prompt": "x" * 10_000}, {"prompt": "a", "num_samples": 17}]
)
def test_bad_requests_fail_before_the_model(body):
    with pytest.raises(RequestError):
        ImageRequest.parse(body)


def test_vary_and_blend_uploads(models):
    upload = png_bytes(picture(1))
    varied = image_api.vary(models[1], upload, VariationRequest(num_samples=3, seed=5))
    assert len(varied.tiles) == 3 and decode(varied.tiles[0]).text["kind"] == "vary"
    strip = image_api.blend(
        models[1], upload, png_bytes(picture(2), "JPEG"), VariationRequest(steps=5)
    )
    assert len(strip.tiles) == 5


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (b"GIF89a not really", "not an image"),
        (bomb_png(), "decompression bomb"),
        (png_bytes(picture(3))[:200], "truncated or corrupt"),
        (png_bytes(Image.new("RGB", (1, 1))), "1×1"),
    ],
)
def test_bad_uploads_are_refused_clearly(models, upload, message):
    with pytest.raises(UploadError, match=message):
        image_api.vary(models[1], upload, VariationRequest())


def test_animated_gif_uses_its_first_frame(models):
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "blue", "green")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    assert (
        len(image_api.vary(models[1], buffer.getvalue(), VariationRequest(num_samples=2)).tiles)
        == 2
    )


def test_vae_scores_uploads_for_the_image_checker(models):
    from generators.models.vae import calibrate

    calibrate(models[1], torch.rand(16, 3, 16, 16) * 2 - 1)
    score = image_api.out_of_distribution(models[1])
    values = score([picture(4), Image.new("RGB", (40, 20), "white")])
    assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values)
