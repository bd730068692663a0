"""The invisible watermark in every genbot image: this install's tag and the image's mark id,
hidden in the luminance by the `invisible-watermark` package's DWT-DCT-SVD embedding, computed
on all blocks at once (moderation/dct_svd.py: the same bits, six times faster).

The payload is PAYLOAD_BITS bits: TAG_BITS bits of HMAC(install secret, "watermark") (the
same in every image of an install: it says "made here") and MARK_BITS bits of the image's mark
id (which finds its job in the store). The embedding writes bit `k mod n` into the k-th 8×8 block
row by row, so an odd n spreads every bit over all columns of the image (with 32 or 64 bits a
256-px image keeps each bit in the same columns, and a white margin then carries it badly).

Method, measured on emoji-like images (flat white backgrounds, hard edges; `bench/watermark.py`
prints the numbers, the README keeps them): the package's `dwtDct` quantises the
largest value of each block, which on such images often stops being the largest once changed:
63% of bits read back with no attack at all. Its `dwtDctSvd` (the same DWT and DCT, quantising
the block's largest singular value) in luminance reads back every bit, also after JPEG at
quality 80 and a 10% resize. Luminance rather than the default chroma channel: on white the
chroma change shows as faint blue blocks; a luminance step of at most ~5 levels does not.
Luminance cannot go above white, so pixels are first scaled by (255 - HEADROOM) / 255.

A grid of images is laid out from the marked images (generators/image_api.py `pack`): each cell
carries its own image's mark and none covers the whole grid, which would cost as much again as
marking every image. `read` finds a grid by its size (a `Layout`) and reads its cells one by one.

numpy, OpenCV and PyWavelets load inside the functions: the bot imports this module.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from moderation import dct_svd

TAG_BITS = 31
MARK_BITS = 32
PAYLOAD_BITS = TAG_BITS + MARK_BITS  # odd: see the module docstring
MIN_SIDE = 256  # the package marks images of at least 256×256 pixels (by area)
SCALE = 48  # quantisation step of the singular value: larger survives more, shows more
HEADROOM = 6  # levels kept free below white for the mark's upward steps
# A read counts as this install's when at most this many of the TAG_BITS tag bits differ.
# Measured (bench/watermark.py, README): marked images re-encoded (JPEG q80, WebP) or resized by
# 10% lose at most 1 tag bit; of 600 unmarked and other installs' images the closest differed in
# 6 (chance is 15.5 ± 2.8). By chance alone 3 or fewer differ once in 400,000 reads; a
# 256-px image takes up to 8 reads, a 536-px 2×2 grid up to 22 (4 cells at each of 5 sizes).
MAX_TAG_ERRORS = 3
# Reads at a genbot size next to the one a copy came from (a 2×2 grid shrunk by 10% read as a
# grid of 128-px images, 2% larger) fall out of step with the 8-px blocks yet still get most
# tag bits right, with wrong mark bits: so the first read (own size, then genbot sizes of the
# closest shape, smallest first) whose blocks agree this well with the tag wins, and failing
# that the one that agrees best; not the one with most tag bits right. Measured on emoji
# (bench/watermark.py): in step 0.76 to 1 after JPEG, WebP and 10% resizes; out of step at most
# 0.81 in grids; unmarked about 0.65. A 256-px image read as a grid of one (260 px: 2% larger,
# 2 px off) is nearly in step (0.91 on emoji, 0.97 on shapes) with a worse mark: the plain
# image, a smaller size, is tried first.
SURE = 0.9
# Where genbot images come from (generators/image_api.py `pack`): tiles of these model sizes
# enlarged by a whole factor to at least MIN_SIDE, grids of them with a 2-pixel pad per factor.
MODEL_SIDES = (16, 32, 64, 128, 256)
GRID_PAD = 2
MAX_COLUMNS, MAX_ROWS = 16, 4
# Over a third more than the largest of those (16 columns of 256-px images: 4.3 megapixels);
# reading takes about a second per 3 megapixels, so larger images are not read.
MAX_PIXELS = 8_000_000


@dataclass(frozen=True)
class Layout:
    """Where the images of a genbot grid lie (generators/images.py `arrange`): `columns`×`rows`
    cells of `tile` pixels with `pad` pixels of white around and between them."""

    columns: int
    rows: int
    tile: int
    pad: int

    @property
    def size(self) -> tuple[int, int]:
        """Return the grid's (width, height)."""
        step = self.tile + self.pad
        return self.columns * step + self.pad, self.rows * step + self.pad

    def boxes(self) -> list[tuple[int, int, int, int]]:
        """Return each cell's (left, top, right, bottom), row by row: the order of the images."""
        step, pad, tile = self.tile + self.pad, self.pad, self.tile
        return [
            (pad + c * step, pad + r * step, pad + c * step + tile, pad + r * step + tile)
            for r in range(self.rows)
            for c in range(self.columns)
        ]


@dataclass(frozen=True)
class Reading:
    """What the watermark of one image says: tag bits that match this install, the mark id
    read (meaningful only when the tag matches), and the size it was read at; for a grid, its
    layout and the cell (0 first, row by row) whose image the reading comes from."""

    tag_matches: int
    mark: str
    size: tuple[int, int]
    agreement: float = 1.0  # share of the blocks' votes for the tag's bits (0.5 is chance)
    layout: Layout | None = None
    tile: int | None = None

    @property
    def from_install(self) -> bool:
        """Return True when the tag is this install's (within MAX_TAG_ERRORS bits)."""
        return TAG_BITS - self.tag_matches <= MAX_TAG_ERRORS


def enlargement(side: int) -> int:
    """Return the whole factor that brings a model's `side`-pixel image to at least MIN_SIDE."""
    return max(1, math.ceil(MIN_SIDE / side))


def tag_bits(secret: bytes) -> list[int]:
    """Return this install's TAG_BITS tag bits."""
    digest = hmac.new(secret, b"watermark", hashlib.sha256).digest()
    return _bits(digest, TAG_BITS)


def payload(secret: bytes, mark: str) -> list[int]:
    """Return the PAYLOAD_BITS bits hidden in an image: the install tag, then the mark id."""
    return tag_bits(secret) + _bits(bytes.fromhex(mark), MARK_BITS)


def embed(rgb: Any, secret: bytes, mark: str) -> Any:
    """Return a copy of an (H, W, 3) uint8 RGB image carrying the watermark."""
    import numpy as np

    height, width = rgb.shape[:2]
    if height * width < MIN_SIDE * MIN_SIDE:
        raise ValueError(f"a {width}×{height} image is too small to mark (256×256 at least)")
    darker = np.asarray(rgb, np.float32) * ((255 - HEADROOM) / 255)
    # Float in and out: the package writes its float result into a uint8 array otherwise,
    # which truncates every pixel down (half a level on average, against the mark).
    bgr = np.ascontiguousarray(np.round(darker)[:, :, ::-1])
    marked = dct_svd.embed_luma(bgr, payload(secret, mark), SCALE)
    return np.ascontiguousarray(np.clip(np.round(marked), 0, 255).astype(np.uint8)[:, :, ::-1])


def read_bits(rgb: Any) -> list[int]:
    """Return the PAYLOAD_BITS bits an (H, W, 3) uint8 RGB image carries (noise if none)."""
    return [int(share * 255 > 127) for share in votes(rgb)]  # the package's own threshold


def votes(rgb: Any) -> list[float]:
    """Return, for each of the PAYLOAD_BITS bits, the share of the image's blocks that read 1:
    the package's decoding, before it rounds each share to a bit."""
    import numpy as np

    bgr = np.ascontiguousarray(np.asarray(rgb, np.uint8)[:, :, ::-1])
    return dct_svd.luma_votes(bgr, PAYLOAD_BITS, SCALE)


def read(rgb: Any, secret: bytes) -> Reading | None:
    """Return the best reading of an image at its size and at the genbot sizes it may have
    been resized from (a copy that was shrunk or enlarged is read at its original size); at a
    grid's size each cell is read. None when the image is too small to carry a watermark at any
    of them, or too large to read."""
    import numpy as np
    from PIL import Image

    image = Image.fromarray(np.asarray(rgb, np.uint8))
    if image.width * image.height > MAX_PIXELS:
        return None
    tag, best = tag_bits(secret), None
    for size in candidate_sizes(*image.size):
        pixels = image if size == image.size else image.resize(size, Image.Resampling.BICUBIC)
        for layout, tile, region in _regions(pixels, whole=size == image.size):
            shares = votes(np.asarray(region))
            bits = [int(share * 255 > 127) for share in shares]
            matches = sum(a == b for a, b in zip(bits, tag, strict=False))
            agreement = sum(v if t else 1 - v for v, t in zip(shares, tag, strict=False)) / TAG_BITS
            if best is None or agreement > best.agreement:
                best = Reading(matches, _hex(bits[TAG_BITS:]), size, agreement, layout, tile)
            if agreement >= SURE:
                return best  # in step with the blocks (see SURE)
    return best


def _regions(image: Any, whole: bool) -> Iterator[tuple[Layout | None, int | None, Any]]:
    """Yield the parts of a PIL image to read: the cells of each grid of its size, then (when
    `whole`, or when no grid has its size) the image itself if it is large enough, and when
    `whole` the image without the white around it."""
    layouts = grid_layouts(image.size)
    for layout in layouts:
        for tile, box in enumerate(layout.boxes()):
            yield layout, tile, image.crop(box)
    # At the file's own size the whole image is read too: a piano roll, or a crop of one
    # image with some of the grid's white around it, may have a grid's size by chance.
    if (whole or not layouts) and image.width * image.height >= MIN_SIDE * MIN_SIDE:
        yield None, None, image
    trimmed = _trimmed(image) if whole else image
    if trimmed.size != image.size and trimmed.width * trimmed.height >= MIN_SIDE * MIN_SIDE:
        yield None, None, trimmed


def _trimmed(image: Any) -> Any:
    """Return a PIL image without the rows and columns of white around it. One image cut out of
    a grid with a little of the grid's white (pure white) is then read in step (untrimmed, a
    2-px offset missed 1 read in 8: bench/watermark.py). Marked images stay HEADROOM below white,
    so no row or column of theirs is this white on average."""
    import numpy as np

    luma = np.asarray(image.convert("L"), np.float32)
    rows = np.flatnonzero(luma.mean(axis=1) < 255 - HEADROOM / 2)
    columns = np.flatnonzero(luma.mean(axis=0) < 255 - HEADROOM / 2)
    if not len(rows) or not len(columns):
        return image
    return image.crop((columns[0], rows[0], columns[-1] + 1, rows[-1] + 1))


def grid_layouts(size: tuple[int, int]) -> tuple[Layout, ...]:
    """Return the layouts of the genbot grids that are `size` (width, height) pixels."""
    return _layouts().get(size, ())


def canonical_sizes() -> set[tuple[int, int]]:
    """Return every (width, height) a genbot image or grid can have."""
    tiles = {(side * enlargement(side),) * 2 for side in MODEL_SIDES}
    return tiles | set(_layouts())


def candidate_sizes(width: int, height: int, limit: int = 6) -> list[tuple[int, int]]:
    """Return the sizes to read an image at: its own, then up to `limit` genbot sizes of the
    same shape that a copy 25% smaller or larger could come from, closest shape first."""
    aspect = width / height
    near = [
        (abs(w / h - aspect) / aspect, (w, h))
        for w, h in _canonical()
        if abs(w / h - aspect) <= 0.02 * aspect and 0.75 <= width / w <= 1.34
    ]
    ranked = [size for _, size in sorted(near) if size != (width, height)]
    return [(width, height), *ranked[:limit]]


@functools.cache
def _canonical() -> tuple[tuple[int, int], ...]:
    return tuple(sorted(canonical_sizes()))


@functools.cache
def _layouts() -> dict[tuple[int, int], tuple[Layout, ...]]:
    found: dict[tuple[int, int], tuple[Layout, ...]] = {}
    for side in MODEL_SIDES:
        factor = enlargement(side)
        for columns in range(1, MAX_COLUMNS + 1):
            for rows in range(1, MAX_ROWS + 1):
                layout = Layout(columns, rows, side * factor, GRID_PAD * factor)
                found[layout.size] = (*found.get(layout.size, ()), layout)
    return found


def _bits(data: bytes, count: int) -> list[int]:
    return [(data[k // 8] >> (7 - k % 8)) & 1 for k in range(count)]


def _hex(bits: list[int]) -> str:
    value = int("".join(map(str, bits)), 2) if bits else 0
    return f"{value:0{len(bits) // 4}x}"
