"""Image generation speed on this machine: the shipped GAN and VAE, batch of 1 vs 64.

    .venv/bin/python bench/images.py [--repeats 5]

Times the model call alone (prompt embeddings computed beforehand) and the whole /imagine path
(MiniLM embedding + generation + enlarging to 256 px + watermark + PNG encoding with
provenance), side by side; then the watermark's embedding next to the PNG encoding it precedes.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from data import checkpoints
from generators import image_api
from generators.images import grid, png_bytes, to_uint8
from generators.models import gan, vae
from generators.schema import ImageRequest
from generators.service.engine import DEFAULT_CHECKPOINTS
from generators.text_encoder import shared_encoder
from moderation import watermark
from moderation.provenance import Marker


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def load(module, path: Path):
    blob = checkpoints.load(path, family=module.FAMILY)
    return module.from_export(checkpoints.config_from(blob, module.Config), blob["state_dict"])


def provenance_rows(images: torch.Tensor, repeats: int) -> list[tuple[str, int, float]]:
    """Return the timings of a 256-px tile's and a 2×2 grid's watermark and PNG encoding."""
    factor = watermark.enlargement(images.shape[-1])
    tile = to_uint8(images[:1])[0].repeat(factor, 0).repeat(factor, 1)
    sheet = grid(images, 2, pad=watermark.GRID_PAD * factor, scale=factor)
    rows = []
    for name, pixels in ((f"{tile.shape[0]}-px tile", tile), (f"{sheet.shape[0]}-px grid", sheet)):
        embed = functools.partial(watermark.embed, pixels, b"bench-secret", "00c0ffee")
        rows.append(
            (f"PNG encode, {name}", 1, timed(functools.partial(png_bytes, pixels), repeats))
        )
        rows.append((f"watermark embed, {name}", 1, timed(embed, repeats)))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    g, v = load(gan, DEFAULT_CHECKPOINTS["gan"]), load(vae, DEFAULT_CHECKPOINTS["vae"])
    encoder = shared_encoder()
    marker = Marker(b"bench-install-secret")
    one = torch.as_tensor(encoder.encode(["red heart"]))
    many = torch.as_tensor(encoder.encode([f"prompt {k}" for k in range(64)]))
    rows = [
        (
            "GAN, 1 image",
            1,
            timed(lambda: gan.generate(g, one, 1, torch.Generator().manual_seed(0)), args.repeats),
        ),
        (
            "GAN, 64 images (one batch)",
            64,
            timed(lambda: gan.generate(g, many, 1, torch.Generator().manual_seed(0)), args.repeats),
        ),
        (
            "/imagine path, 4 images",
            4,
            timed(
                lambda: image_api.imagine(
                    g, encoder.encode, ImageRequest("red heart", 4, 0), marker=marker
                ),
                args.repeats,
            ),
        ),
    ]
    pixels = torch.rand(64, 3, v.config.image_size, v.config.image_size)
    rows += [
        (
            "VAE, 1 variation",
            1,
            timed(lambda: vae.variations(v, pixels[:1], 1, 0.5, torch.Generator()), args.repeats),
        ),
        (
            "VAE, 64 variations (one batch)",
            64,
            timed(lambda: vae.variations(v, pixels, 1, 0.5, torch.Generator()), args.repeats),
        ),
    ]
    rows += provenance_rows(gan.generate(g, many[:4], 1, torch.Generator()), args.repeats)
    print(f"CPU threads {torch.get_num_threads()}, torch {torch.__version__}")
    print(f"{'what':<34}{'seconds':>10}{'ms / image':>12}")
    for name, n, seconds in rows:
        print(f"{name:<34}{seconds:>10.4f}{1000 * seconds / n:>12.2f}")
    print(f"GAN per-image speed-up from batching 64: {rows[0][2] / (rows[1][2] / 64):.1f}x")


if __name__ == "__main__":
    main()
