"""What the image commands do, from request to PNG bytes: imagine (GAN), vary and blend (VAE).

These are the functions the service's engine calls. Inputs are validated (`schema`) and uploads
decoded safely (`moderation.uploads`) before any model sees them. Every image is enlarged to at
least 256 px by a whole factor, nearest neighbour: the model's pixels stay crisp and exact (a
smooth filter would blur them and invent detail between them), and the invisible watermark needs
256 px. Every PNG carries the watermark (`moderation.watermark`) and text metadata for provenance
(`ai_generated`, model, seed, kind, and the signed mark id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from generators.images import arrange, png_bytes, to_uint8
from generators.schema import ImageRequest, VariationRequest
from moderation.provenance import Marker
from moderation.uploads import open_image
from moderation.watermark import GRID_PAD, enlargement


@dataclass(frozen=True)
class ImageResult:
    """PNG bytes of each image and of their grid, with the seed that made them and the mark
    id of each image (`genbot verify` finds the job by it); the grid carries its images' marks
    and names the first one's."""

    tiles: list[bytes]
    grid: bytes
    seed: int
    tile_marks: tuple[str, ...] = ()
    grid_mark: str = ""


def _provenance(model_name: str, seed: int, kind: str) -> dict[str, str]:
    return {"ai_generated": "true", "generator": "genbot", "model": model_name,
            "seed": str(seed), "kind": kind}  # fmt: skip


def pack(
    images: torch.Tensor, columns: int, model_name: str, seed: int, kind: str, *, marker: Marker
) -> ImageResult:
    """Return the images, enlarged to at least 256 px, as watermarked PNG tiles and a grid of
    them, each carrying provenance text chunks."""
    text = _provenance(model_name, seed, kind)
    factor = enlargement(images.shape[-1])
    big = to_uint8(images).repeat(factor, axis=1).repeat(factor, axis=2)
    marked = [marker.watermarked(tile, "tile") for tile in big]
    marks = tuple(mark for _, mark in marked)
    tiles = [png_bytes(pixels, {**text, **marker.png_text(mark)}) for pixels, mark in marked]
    # The grid is laid out from the marked tiles, so each cell carries its tile's mark and
    # `genbot verify` reads it cell by cell: a mark of its own cost as much as marking all four
    # tiles again (bench/watermark.py). Its text chunks name tile 0's mark (the same job).
    sheet = arrange(np.stack([pixels for pixels, _ in marked]), columns, GRID_PAD * factor)
    grid_png = png_bytes(sheet, {**text, **marker.png_text(marks[0])})
    return ImageResult(tiles, grid_png, seed, marks, marks[0])


def imagine(
    gan: Any, embed: Any, request: ImageRequest, model_name: str = "gan", *, marker: Marker
) -> ImageResult:
    """Return `num_samples` GAN images for the prompt (a 2x2 grid for four)."""
    from generators.models import gan as family

    embedding = torch.as_tensor(np.asarray(embed([request.prompt]), dtype=np.float32))
    rng = torch.Generator().manual_seed(request.seed)
    images = family.generate(gan, embedding, request.num_samples, rng)
    columns = 2 if request.num_samples == 4 else min(request.num_samples, 4)
    return pack(images, columns, model_name, request.seed, "imagine", marker=marker)


def image_tensor(data: bytes, size: int) -> torch.Tensor:
    """Return an upload as a (3, size, size) tensor in [0, 1] (safely decoded, resized)."""
    from PIL import Image

    image, _ = open_image(data)
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


def vary(
    vae: Any, image: bytes, request: VariationRequest, model_name: str = "vae", *, marker: Marker
) -> ImageResult:
    """Return `num_samples` variations of an uploaded image."""
    from generators.models import vae as family

    pixels = image_tensor(image, vae.config.image_size)[None]
    rng = torch.Generator().manual_seed(request.seed)
    images = family.variations(vae, pixels, request.num_samples, request.strength, rng)
    columns = min(request.num_samples, 4)
    return pack(images, columns, model_name, request.seed, "vary", marker=marker)


def blend(
    vae: Any,
    a: bytes,
    b: bytes,
    request: VariationRequest,
    model_name: str = "vae",
    *,
    marker: Marker,
) -> ImageResult:
    """Return a strip of `steps` images from image a to image b through the VAE's latent space."""
    from generators.models import vae as family

    size = vae.config.image_size
    images = family.blend(vae, image_tensor(a, size), image_tensor(b, size), request.steps)
    return pack(images, request.steps, model_name, request.seed, "blend", marker=marker)


def out_of_distribution(vae: Any) -> Any:
    """Return a function images -> scores for the moderation ImageChecker (uploads)."""
    from generators.models import vae as family

    size = vae.config.image_size

    def score(images: list) -> list[float]:
        arrays = [np.asarray(im.convert("RGB").resize((size, size)), np.float32) for im in images]
        pixels = torch.from_numpy(np.stack(arrays) / 255.0).permute(0, 3, 1, 2).float()
        return family.out_of_distribution(vae, pixels)

    return score
