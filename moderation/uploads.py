"""Safe decoding of uploaded images: size caps, content sniffing, bomb and truncation guards.

Used by the bot (attachments) and the service (base64 images) before any model sees pixels.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 24_000_000  # a 24-megapixel photo; decompression bombs are far beyond this
MIN_SIDE = 8


class UploadError(ValueError):
    """An upload cannot be used; the message says why in words a user understands."""


def open_image(
    data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> tuple[Image.Image, list[str]]:
    """Return the upload as an RGB image (first frame; transparency on white) and notes.

    Raises UploadError for anything that is not a usable image."""
    if not data:
        raise UploadError("the file is empty")
    if len(data) > max_bytes:
        raise UploadError(
            f"the file is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB"
        )
    try:
        # Image.open reads only the header: the pixel count is checked before decoding.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(
            f"the image has more than {max_pixels / 1e6:.0f} megapixels (a decompression bomb?)"
        ) from None
    except UnidentifiedImageError:
        raise UploadError(
            "this is not an image genbot can read (PNG, JPEG, GIF, WebP or BMP)"
        ) from None
    width, height = image.size
    if width * height > max_pixels:
        raise UploadError(
            f"the image is {width}×{height} ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {max_pixels / 1e6:.0f} megapixels"
        )
    if min(width, height) < MIN_SIDE:
        raise UploadError(
            f"the image is {width}×{height} pixels; at least {MIN_SIDE}×{MIN_SIDE} needed"
        )
    notes = []
    if getattr(image, "n_frames", 1) > 1:
        notes.append(f"animated {image.format}: the first of {image.n_frames} frames is used")
        image.seek(0)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError):
        raise UploadError("the image is truncated or corrupt") from None
    return _to_rgb(image), notes


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
