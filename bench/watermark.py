"""How well the image watermark survives, how often it is found where it is not, what it costs.

    .venv/bin/python bench/watermark.py [--tiles 40] [--grids 8] [--unmarked 240]

Marks emoji tiles (the built dataset under GENBOT_HOME, else synthetic shapes) enlarged to
256 px as the service does, and lays 2×2 grids out of marked tiles (generators/image_api.py
`pack`); attacks each copy (JPEG, WebP, resizes; one image cropped out of a grid) and reads it
back the way `genbot verify` does (at its own size, then at the genbot sizes it may have been
resized from, a grid cell by cell). Prints what marking one 2×2 request costs now and what a
separate mark over the grid cost before. Then reads unmarked images and grids and ones marked by
another install, and prints how many tag bits the closest of them matched: the threshold must
sit well above that.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data import synthetic
from generators.images import arrange, png_bytes
from moderation import watermark
from moderation.watermark import MARK_BITS, PAYLOAD_BITS, TAG_BITS

SECRET, OTHER = b"bench-install-secret", b"another-install-secret"
Case = tuple[np.ndarray, list[str]]  # a marked image and the marks of its images, row by row


def reencoded(rgb: np.ndarray, fmt: str, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt, quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def resized(rgb: np.ndarray, factor: float, how=Image.Resampling.BICUBIC) -> np.ndarray:
    image = Image.fromarray(rgb)
    size = (round(image.width * factor), round(image.height * factor))
    return np.asarray(image.resize(size, how))


ATTACKS = {
    "none": lambda x: x,
    "JPEG q80": lambda x: reencoded(x, "JPEG", 80),
    "JPEG q70": lambda x: reencoded(x, "JPEG", 70),
    "WebP q80": lambda x: reencoded(x, "WEBP", 80),
    "10% smaller (bicubic)": lambda x: resized(x, 0.9),
    "10% smaller (bilinear)": lambda x: resized(x, 0.9, Image.Resampling.BILINEAR),
    "10% larger (bicubic)": lambda x: resized(x, 1.1),
    "JPEG q80, then 10% smaller": lambda x: resized(reencoded(x, "JPEG", 80), 0.9),
}


TILE_ATTACKS: dict[str, Callable[[Case], Case]] = {
    name: lambda c, a=attack: (a(c[0]), c[1]) for name, attack in ATTACKS.items()
}


def cropped(case: Case, top: int = 0, left: int = 0, border: int = 0) -> Case:
    """Return the last image of a grid cut out of it, with `top` and `left` px of the grid above
    and to its left, or `border` px of it all around."""
    image, marks = case
    layout = watermark.grid_layouts((image.shape[1], image.shape[0]))[0]
    x0, y0, x1, y1 = layout.boxes()[-1]
    cut = image[y0 - top - border : y1 + border, x0 - left - border : x1 + border]
    return cut, marks[-1:]


GRID_ATTACKS: dict[str, Callable[[Case], Case]] = {
    **TILE_ATTACKS,
    "one image cut out": cropped,
    "one cut, JPEG q80": lambda c: (reencoded(cropped(c)[0], "JPEG", 80), c[1][-1:]),
    "one cut, 10% smaller": lambda c: (resized(cropped(c)[0], 0.9), c[1][-1:]),
    "one cut with its white border": lambda c: cropped(c, border=watermark.GRID_PAD * 4),
    "one cut, 2 px more top, left": lambda c: cropped(c, 2, 2),
    "one cut, 3 px more top, left": lambda c: cropped(c, 3, 3),
    "one cut, 4 px more top, left": lambda c: cropped(c, 4, 4),
}


def emoji_tiles(n: int, rng: np.random.Generator) -> np.ndarray:
    """Return n 64-px tiles: the built emoji dataset when there is one, else synthetic shapes."""
    path = Path(os.environ.get("GENBOT_HOME", "var")) / "datasets" / "emoji-64.npz"
    if path.is_file():
        images = np.load(path)["images"]
        return images[rng.choice(len(images), n, replace=False)]
    return synthetic.shapes(n, 64, seed=int(rng.integers(1 << 30)))[0]


def enlarge(tile: np.ndarray) -> np.ndarray:
    factor = watermark.enlargement(tile.shape[0])
    return tile.repeat(factor, 0).repeat(factor, 1)


def grid_of(tiles: list[np.ndarray]) -> np.ndarray:
    """Return 256-px tiles laid out 2×2 the way `pack` lays out a grid of 64-px images."""
    return arrange(np.stack(tiles), 2, watermark.GRID_PAD * watermark.enlargement(64))


def mark_of(k: int) -> str:
    return f"{k * 2654435761 % (1 << 32):08x}"


def bits_right(reading: watermark.Reading, marks: list[str]) -> int:
    mark = marks[reading.tile or 0]
    wrong = bin(int(reading.mark or "0", 16) ^ int(mark, 16)).count("1")
    return reading.tag_matches + MARK_BITS - wrong


def ms_each(fn: Callable[[], object], repeats: int) -> float:
    """Return the median milliseconds of `repeats` calls of fn."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def cost(tiles: list[np.ndarray], repeats: int) -> None:
    """Print what marking one 2×2 request costs: now (four tiles, the grid laid out of them)
    and before (the same four tiles, and a mark of its own over the grid)."""
    marks = [mark_of(k) for k in range(4)]
    marked = [watermark.embed(t, SECRET, m) for t, m in zip(tiles, marks, strict=True)]
    plain_grid = grid_of(tiles)
    tile_ms = ms_each(lambda: [watermark.embed(t, SECRET, "00c0ffee") for t in tiles], repeats)
    layout_ms = ms_each(lambda: grid_of(marked), repeats)
    grid_ms = ms_each(lambda: watermark.embed(plain_grid, SECRET, "00c0ffee"), repeats)
    png_ms = ms_each(lambda: png_bytes(grid_of(marked)), repeats)
    side = plain_grid.shape[0]
    print(f"\nmarking one 2×2 request (median of {repeats})")
    print(
        f"  4 tiles of 256 px: {tile_ms:.0f} ms; the {side}-px grid's PNG encode: {png_ms:.0f} ms"
    )
    print(f"  before: + its own grid mark {grid_ms:.0f} ms = {tile_ms + grid_ms:.0f} ms")
    print(
        f"  now: + laid out from the marked tiles {layout_ms:.1f} ms = {tile_ms + layout_ms:.0f} ms"
    )


def robustness(cases: list[Case], attacks: dict[str, Callable[[Case], Case]], label: str) -> None:
    sizes = [png_size(x) for x, _ in cases]
    side = cases[0][0].shape
    print(f"\n{label}: {len(cases)} images {side[1]}×{side[0]}")
    print(f"  PNG size (median) {statistics.median(sizes) / 1024:.1f} KiB marked")
    print(
        f"  {'attack':<30}{'bits right':>11}{'worst':>7}{'tag errors max':>16}"
        f"{'agreement min':>15}{'found':>7}{'read ms':>9}"
    )
    for name, attack in attacks.items():
        attacked = [attack(case) for case in cases]
        started = time.perf_counter()
        readings = [watermark.read(x, SECRET) for x, _ in attacked]
        read_ms = 1000 * (time.perf_counter() - started) / len(cases)
        right = [
            bits_right(r, m) / PAYLOAD_BITS for r, (_, m) in zip(readings, attacked, strict=True)
        ]
        worst_tag = max(TAG_BITS - r.tag_matches for r in readings)
        found = sum(r.from_install for r in readings) / len(readings)
        agreement = min(r.agreement for r in readings)
        print(
            f"  {name:<30}{statistics.mean(right):>11.2%}{min(right):>7.1%}"
            f"{worst_tag:>16}{agreement:>15.2f}{found:>7.0%}{read_ms:>9.0f}"
        )


def png_size(rgb: np.ndarray) -> int:
    return len(png_bytes(rgb))


def unmarked_sets(n: int, rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    """Return groups of images that do not carry this install's mark."""
    k = max(1, n // 8)
    yy, xx = np.mgrid[0:256, 0:256] / 255
    gradients = [
        (np.stack([xx, yy, (xx + yy) / 2], 2)[..., rng.permutation(3)] * 255).astype(np.uint8)
        for _ in range(k)
    ]
    coarse = [Image.fromarray((rng.random((8, 8, 3)) * 255).astype(np.uint8)) for _ in range(k)]
    smooth = [np.asarray(c.resize((256, 256), Image.Resampling.BICUBIC)) for c in coarse]
    other = [
        watermark.embed(enlarge(t), OTHER, mark_of(j))
        for j, t in enumerate(emoji_tiles(4 * k, rng))
    ]
    return {
        "noise": [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(k)],
        "flat colours": [np.full((256, 256, 3), c, np.uint8) for c in rng.integers(0, 256, (k, 3))],
        "gradients": gradients,
        "smooth photos-like": smooth,
        "emoji, unmarked": [enlarge(t) for t in emoji_tiles(k, rng)],
        "emoji, another install": other[:k],
        "2×2 grids, unmarked": [
            grid_of([enlarge(t) for t in emoji_tiles(4, rng)]) for _ in range(k)
        ],
        "2×2 grids, another install": [grid_of(other[4 * j : 4 * j + 4]) for j in range(k)],
    }


def false_positives(n: int, rng: np.random.Generator) -> None:
    limit = watermark.MAX_TAG_ERRORS
    print(f"\nunmarked and other installs' images (found = at most {limit} tag bits off)")
    print(f"  {'group':<28}{'images':>8}{'closest (tag errors)':>22}{'found':>8}{'read ms':>9}")
    total = found = 0
    for name, images in unmarked_sets(n, rng).items():
        started = time.perf_counter()
        readings = [watermark.read(x, SECRET) for x in images]
        read_ms = 1000 * (time.perf_counter() - started) / len(images)
        closest = min(TAG_BITS - r.tag_matches for r in readings)
        hits = sum(r.from_install for r in readings)
        total, found = total + len(images), found + hits
        print(f"  {name:<28}{len(images):>8}{closest:>22}{hits:>8}{read_ms:>9.0f}")
    print(f"  false positives: {found} of {total}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiles", type=int, default=40)
    parser.add_argument("--grids", type=int, default=8)
    parser.add_argument("--unmarked", type=int, default=240)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    tiles = [enlarge(t) for t in emoji_tiles(args.tiles, rng)]
    cost(tiles[:4], args.repeats)
    marks = [mark_of(k) for k in range(len(tiles))]
    started = time.perf_counter()
    marked = [watermark.embed(x, SECRET, m) for x, m in zip(tiles, marks, strict=True)]
    embed_ms = 1000 * (time.perf_counter() - started) / len(tiles)
    print(f"\nembed {embed_ms:.1f} ms per 256-px tile ({len(tiles)} tiles)")
    robustness([(x, [m]) for x, m in zip(marked, marks, strict=True)], TILE_ATTACKS, "tiles")
    grids = []
    for g in range(args.grids):
        four = [enlarge(t) for t in emoji_tiles(4, rng)]
        grid_marks = [mark_of(1000 + 4 * g + k) for k in range(4)]
        cells = [watermark.embed(t, SECRET, m) for t, m in zip(four, grid_marks, strict=True)]
        grids.append((grid_of(cells), grid_marks))
    robustness(grids, GRID_ATTACKS, "2×2 grids laid out from marked tiles")
    false_positives(args.unmarked, rng)


if __name__ == "__main__":
    main()
