"""How alike two images are for the memorisation guard: each image becomes a 16x16 colour
thumbnail (on white, box-averaged), two images are as far apart as the RMS difference of
their thumbnails (0: the same picture, 1: black against white), and a new image repeats an
indexed one when its nearest neighbour is closer than a threshold calibrated on data.

`calibrate` measures that: distances between images and their own light re-encodings (PNG,
JPEG, resizes up to 256 px and back, a pixel's shift, a little noise or brightness; all must be
held) against distances between distinct images (which must pass), and picks the threshold.
Torch-free: numpy and Pillow.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

SIDE = 16
# `genbot eval memorisation --calibrate` on the 3,486 Noto emoji at 64 px: 0.11% of 27,888
# re-encoded copies lie beyond it (not held), 1.5% of emoji lie within it of their nearest
# other emoji (man/woman/person variants, mostly). Copies enlarged to 256 px and watermarked as
# the service posts them (moderation.watermark) measured 0.018-0.021 from their originals.
THRESHOLD = 0.0306


def thumbnail(image: Any) -> np.ndarray:
    """Return the (SIDE * SIDE * 3,) float32 thumbnail in [0, 1] of PNG/JPEG bytes, a PIL image,
    or an (H, W[, C]) array (uint8, or floats in [0, 1]); transparency is composited on white."""
    from PIL import Image

    if isinstance(image, bytes | bytearray):
        image = Image.open(io.BytesIO(image))
        image.load()
    elif isinstance(image, np.ndarray):
        array = image if image.dtype == np.uint8 else (np.clip(image, 0, 1) * 255).round()
        image = Image.fromarray(array.astype(np.uint8).squeeze())
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    small = image.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32).reshape(-1) / 255.0


def distances(queries: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Return the (Q, N) RMS distances between thumbnails `queries` (Q, D) and `index` (N, D)."""
    q, x = np.atleast_2d(queries).astype(np.float64), np.atleast_2d(index).astype(np.float64)
    squared = (q * q).sum(1)[:, None] + (x * x).sum(1)[None, :] - 2 * q @ x.T
    return np.sqrt(np.clip(squared, 0, None) / q.shape[1])


def nearest(queries: np.ndarray, index: np.ndarray, chunk: int = 512) -> tuple[np.ndarray, ...]:
    """Return, per query thumbnail, the distance to its nearest indexed one and that one's row."""
    best, rows = [], []
    for start in range(0, len(queries), chunk):
        d = distances(queries[start : start + chunk], index)
        rows.append(d.argmin(1))
        best.append(d[np.arange(len(d)), rows[-1]])
    return np.concatenate(best), np.concatenate(rows)


def reencodings(image: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """Return light re-encodings of an (H, W, 3) uint8 image: what a copy looks like after
    saving, sharing, upscaling or watermarking."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    pil, (h, w) = Image.fromarray(image), image.shape[:2]

    def jpeg(quality: int) -> np.ndarray:
        buffer = io.BytesIO()
        pil.save(buffer, "JPEG", quality=quality)
        return np.asarray(Image.open(buffer).convert("RGB"))

    def resized(size: int, back: bool, how=Image.Resampling.BICUBIC) -> np.ndarray:
        out = pil.resize((size, size), how)
        return np.asarray(out.resize((w, h), how) if back else out)

    noise = rng.normal(0, 4, image.shape)
    return [
        jpeg(90),
        jpeg(60),
        resized(256, back=False),
        resized(256, back=False, how=Image.Resampling.NEAREST),
        resized(w // 2, back=True),
        np.asarray(pil.filter(ImageFilter.GaussianBlur(0.8))),
        np.clip(image.astype(np.float64) * 0.97, 0, 255).astype(np.uint8),
        np.clip(image + noise, 0, 255).astype(np.uint8),
    ]


@dataclass(frozen=True)
class Calibration:
    """The chosen threshold and what it costs on the calibration images."""

    threshold: float
    false_pass: float  # share of re-encoded copies at or beyond the threshold (not held)
    false_hold: float  # share of distinct images within it of their nearest other image
    copies: int
    distinct: int
    copy_quantiles: dict[str, float]
    distinct_quantiles: dict[str, float]


def calibrate(images: np.ndarray, groups: list[str], seed: int = 0) -> Calibration:
    """Return the threshold that best separates re-encoded copies from distinct images.

    Copies: each image's `reencodings`, against the image. Distinct: each image against its
    nearest image of another group (variants of one picture, e.g. skin tones, share a group, as
    do pixel-identical images under two names), the hardest case there is. The threshold
    minimises the sum of both error rates."""
    thumbs = np.stack([thumbnail(im) for im in images])
    copy_d = np.concatenate(
        [
            distances(np.stack([thumbnail(r) for r in reencodings(im, seed + k)]), thumbs[k])[:, 0]
            for k, im in enumerate(images)
        ]
    )
    labels = np.asarray(_same_picture(images, groups))
    distinct_d = np.empty(len(images))
    for start in range(0, len(images), 512):
        d = distances(thumbs[start : start + 512], thumbs)
        d[labels[start : start + 512, None] == labels[None, :]] = np.inf
        distinct_d[start : start + 512] = d.min(1)
    candidates = np.unique(np.round(np.concatenate([copy_d, distinct_d]), 4))
    copies_beyond = 1 - np.searchsorted(np.sort(copy_d), candidates) / len(copy_d)
    distinct_within = np.searchsorted(np.sort(distinct_d), candidates) / len(distinct_d)
    threshold = float(candidates[np.argmin(copies_beyond + distinct_within)])
    quantiles = lambda d: {f"p{q}": round(float(np.percentile(d, q)), 4) for q in (1, 50, 99)}  # noqa: E731
    return Calibration(
        threshold=threshold,
        false_pass=round(float((copy_d >= threshold).mean()), 4),
        false_hold=round(float((distinct_d < threshold).mean()), 4),
        copies=len(copy_d),
        distinct=len(distinct_d),
        copy_quantiles=quantiles(copy_d),
        distinct_quantiles=quantiles(distinct_d[np.isfinite(distinct_d)]),
    )


def _same_picture(images: np.ndarray, groups: list[str]) -> list[str]:
    """Return the groups with every set of pixel-identical images merged into one."""
    first: dict[bytes, str] = {}
    return [
        first.setdefault(np.ascontiguousarray(im).tobytes(), g)
        for im, g in zip(images, groups, strict=True)
    ]
