"""From request to PNG bytes with tiny models: provenance, determinism and bad input."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from generators import image_api
from generators.models import gan, vae
from generators.schema import ImageRequest, RequestError, VariationRequest
from generators.text_encoder import hashed_embeddings
from moderation import watermark
from moderation.provenance import Marker
from moderation.uploads import UploadError
from tests.moderation.test_images import bomb_png, picture, png_bytes

MARKER = Marker(b"test-install-secret")


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return gan.build(gan.PRESETS["tiny"]).eval(), vae.build(vae.PRESETS["tiny"]).eval()


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_imagine_makes_a_2x2_grid_with_provenance(models):
    result = image_api.imagine(
        models[0], hashed_embeddings, ImageRequest("red heart", 4, 42), "gan-tiny", marker=MARKER
    )
    assert len(result.tiles) == 4 and result.seed == 42
    tile, sheet = decode(result.tiles[0]), decode(result.grid)
    # 16-px tiles enlarged 16 times, nearest neighbour: each model pixel is a flat 16×16 block
    # (up to the watermark's few levels).
    assert tile.size == (256, 256) and sheet.size == ((2 * (16 + 2) + 2) * 16,) * 2
    pixels = np.asarray(tile, np.int16)
    assert np.abs(pixels[:16, :16] - pixels[8, 8]).max() <= 12
    assert tile.text["ai_generated"] == "true" and tile.text["seed"] == "42"
    assert tile.text["model"] == "gan-tiny" and tile.text["mark"] == result.tile_marks[0]
    assert watermark.read(pixels.astype(np.uint8), MARKER.secret).mark == result.tile_marks[0]
    assert len(set(result.tile_marks)) == 4
    # The grid is laid out from the marked tiles (no mark of its own) and names tile 0's mark.
    assert decode(result.grid).text["mark"] == result.grid_mark == result.tile_marks[0]
    reading = watermark.read(np.asarray(sheet.convert("RGB")), MARKER.secret)
    assert reading.from_install and reading.mark == result.tile_marks[0]
    assert (reading.layout.columns, reading.layout.rows, reading.tile) == (2, 2, 0)
    again = image_api.imagine(
        models[0], hashed_embeddings, ImageRequest("red heart", 4, 42), "gan-tiny", marker=MARKER
    )
    # The same seed gives the same bytes, marks included: they derive from the pixels.
    assert (again.tiles, again.grid) == (result.tiles, result.grid)


def test_each_cell_of_the_grid_is_its_marked_tile_on_plain_white(models):
    request = VariationRequest(num_samples=3, seed=5)
    result = image_api.vary(models[1], png_bytes(picture(1)), request, marker=MARKER)
    sheet = np.asarray(decode(result.grid).convert("RGB"))
    (layout,) = watermark.grid_layouts((sheet.shape[1], sheet.shape[0]))
    assert (layout.columns, layout.rows) == (3, 1)
    white = np.ones(sheet.shape[:2], bool)
    for (left, top, right, bottom), tile in zip(layout.boxes(), result.tiles, strict=True):
        assert np.array_equal(sheet[top:bottom, left:right], np.asarray(decode(tile)))
        white[top:bottom, left:right] = False
    assert (sheet[white] == 255).all()


@pytest.mark.parametrize("prompt", ["ハートの絵", "сердце", "❤️❤️❤️", "x" * 1000])
def test_other_scripts_and_long_prompts_generate(models, prompt):
    request = ImageRequest.parse({"prompt": prompt})
    result = image_api.imagine(models[0], hashed_embeddings, request, marker=MARKER)
    assert len(result.tiles) == 4


@pytest.mark.parametrize(
    "body", [{"prompt": ""}, {"prompt": "x" * 10_000}, {"prompt": "a", "num_samples": 17}]
)
def test_bad_requests_fail_before_the_model(body):
    with pytest.raises(RequestError):
        ImageRequest.parse(body)


def test_vary_and_blend_uploads(models):
    upload = png_bytes(picture(1))
    varied = image_api.vary(
        models[1], upload, VariationRequest(num_samples=3, seed=5), marker=MARKER
    )
    assert len(varied.tiles) == 3 and decode(varied.tiles[0]).text["kind"] == "vary"
    strip = image_api.blend(
        models[1], upload, png_bytes(picture(2), "JPEG"), VariationRequest(steps=5), marker=MARKER
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
        image_api.vary(models[1], upload, VariationRequest(), marker=MARKER)


def test_animated_gif_uses_its_first_frame(models):
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "blue", "green")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    assert (
        len(
            image_api.vary(
                models[1], buffer.getvalue(), VariationRequest(num_samples=2), marker=MARKER
            ).tiles
        )
        == 2
    )


def test_vae_scores_uploads_for_the_image_checker(models):
    from generators.models.vae import calibrate

    calibrate(models[1], torch.rand(16, 3, 16, 16) * 2 - 1)
    score = image_api.out_of_distribution(models[1])
    values = score([picture(4), Image.new("RGB", (40, 20), "white")])
    assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values)
