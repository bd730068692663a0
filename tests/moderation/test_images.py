"""Uploads are decoded safely; image checks (denylist, NSFW classifier, OOD) give verdicts."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from moderation.policy import policy_for
from moderation.scorers.images import ImageChecker, hash_distance, perceptual_hash
from moderation.screen import Screener
from moderation.uploads import UploadError, open_image


def png_bytes(image: Image.Image, fmt="PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def picture(seed: int, size=64) -> Image.Image:
    rng = np.random.default_rng(seed)
    smooth = rng.random((8, 8, 3))
    big = np.kron(smooth, np.ones((size // 8, size // 8, 1)))
    return Image.fromarray((big * 255).astype("uint8"))


def bomb_png(width=20_000, height=20_000) -> bytes:
    """A valid small PNG whose header claims width x height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_a_png_and_a_jpeg_decode_to_rgb():
    for data in (png_bytes(picture(1)), png_bytes(picture(1), "JPEG", quality=90)):
        image, notes = open_image(data)
        assert image.mode == "RGB" and image.size == (64, 64) and notes == []


def test_transparency_is_composited_on_white():
    clear = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    image, _ = open_image(png_bytes(clear))
    assert image.getpixel((0, 0)) == (255, 255, 255)


def test_animated_gif_uses_the_first_frame():
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    image, notes = open_image(buffer.getvalue())
    assert image.getpixel((0, 0))[0] > 200 and "first of 2 frames" in notes[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"just some text, not an image", "not an image"),
        (b"%PDF-1.7 fake pdf", "not an image"),
        (bomb_png(), "decompression bomb"),
        (bomb_png(6000, 6000), r"6000×6000 \(36 megapixels\); the limit is 24"),
        (png_bytes(Image.new("RGB", (1, 1))), "1×1 pixels"),
        (png_bytes(picture(2))[:300], "truncated or corrupt"),
        (b"\x89PNG" + b"\x00" * (9 * 2**20), "the limit is 8 MB"),
    ],
)
def test_bad_uploads_get_a_clear_error(data, message):
    with pytest.raises(UploadError, match=message):
        open_image(data)


def test_denylisted_image_is_found_after_jpeg_and_resize():
    banned = picture(3, 128)
    altered = Image.open(io.BytesIO(png_bytes(banned.resize((115, 115)), "JPEG", quality=80)))
    other = picture(4, 128)
    checker = ImageChecker()
    denylist = [perceptual_hash(banned)]
    assert hash_distance(perceptual_hash(altered), denylist[0]) <= checker.max_distance
    scores = checker.score([altered.convert("RGB"), other], denylist)
    assert scores[0]["image_denylisted"] == 1.0 and scores[1]["image_denylisted"] < 0.5
    verdicts = Screener(images=checker).screen_images(
        [altered, other], "prompt", policy_for(), denylist
    )
    assert [v.action for v in verdicts] == ["block", "allow"]


@pytest.fixture(scope="module")
def tiny_nsfw_model(tmp_path_factory):
    import transformers

    folder = tmp_path_factory.mktemp("nsfw")
    labels = {0: "normal", 1: "nsfw"}
    config = transformers.ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, num_labels=2, id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )  # fmt: skip
    transformers.ViTForImageClassification(config).save_pretrained(folder)
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return str(folder)


def test_nsfw_classifier_loads_through_the_pipeline(tiny_nsfw_model):
    checker = ImageChecker(nsfw_model=tiny_nsfw_model)
    scores = checker.score([picture(5), picture(6)])
    assert all(0.0 < s["image_nsfw"] < 1.0 for s in scores)
    strict = policy_for("pg13", {"image_nsfw": [0.0, 0.01]})
    verdicts = Screener(images=checker).screen_images([picture(5)], "output", strict)
    assert verdicts[0].action == "block" and verdicts[0].top.label == "image_nsfw"


def test_out_of_distribution_score_is_used_for_uploads():
    def brightness_ood(images):  # stands in for the VAE's negative-ELBO score
        return [float(np.asarray(im).mean() / 255) for im in images]

    checker = ImageChecker(out_of_distribution=brightness_ood)
    white, dark = Image.new("RGB", (32, 32), "white"), Image.new("RGB", (32, 32), "black")
    verdicts = Screener(images=checker).screen_images([white, dark], "prompt", policy_for())
    assert [v.action for v in verdicts] == ["flag", "allow"]
    assert verdicts[0].top.label == "image_out_of_distribution"


def test_failing_image_checks_hold_outputs():
    def broken(images):
        raise RuntimeError("model fell over")

    screener = Screener(images=ImageChecker(out_of_distribution=broken))
    (held,) = screener.screen_images([picture(7)], "output", policy_for())
    assert held.action == "flag" and held.top.label == "scorer_failure"
