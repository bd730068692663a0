"""What the image commands do, from request to PNG bytes: imagine (GAN), vary and blend (VAE).

These are the functions the service's engine calls. Inputs are validated (`schema`) and uploads
decoded safely (`moderation.uploads`) before any model sees them; every PNG carries text
metadata (`ai_generated`, model, seed) for provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from generators.images import grid, png_bytes, to_uint8
from generators.schema import ImageRequest, VariationRequest
from moderation.uploads import open_image


@dataclass(frozen=True)
class ImageResult:
    """PNG bytes of each image and of their grid, with the seed that made them."""

    tiles: list[bytes]
    grid: bytes
    seed: int


def _provenance(model_name: str, seed: int, kind: str) -> dict[str, str]:
    return {"ai_generated": "true", "generator": "genbot", "model": model_name,
            "seed": str(seed), "kind": kind}  # fmt: skip


def pack(images: torch.Tensor, columns: int, model_name: str, seed: int, kind: str) -> ImageResult:
    """Return the images as PNG tiles and a grid, each carrying provenance text chunks."""
    text = _provenance(model_name, seed, kind)
    tiles = [png_bytes(tile, text) for tile in to_uint8(images)]
    scale = max(1, 64 // images.shape[-1])
    return ImageResult(tiles, png_bytes(grid(images, columns, pad=2, scale=scale), text), seed)


def imagine(gan: Any, embed: Any, request: ImageRequest, model_name: str = "gan") -> ImageResult:
    """Return `num_samples` GAN images for the prompt (a 2x2 grid for four)."""
    from generators.models import gan as family

    embedding = torch.as_tensor(np.asarray(embed([request.prompt]), dtype=np.float32))
    rng = torch.Generator().manual_seed(request.seed)
    images = family.generate(gan, embedding, request.num_samples, rng)
    columns = 2 if request.num_samples == 4 else min(request.num_samples, 4)
    return pack(images, columns, model_name, request.seed, "imagine")


def image_tensor(data: bytes, size: int) -> torch.Tensor:
    """Return an upload as a (3, size, size) tensor in [0, 1] (safely decoded, resized)."""
    from PIL import Image

    image, _ = open_image(data)
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


def vary(vae: Any, image: bytes, request: VariationRequest, model_name: str = "vae") -> ImageResult:
    """Return `num_samples` variations of an uploaded image."""
    from generators.models import vae as family

    pixels = image_tensor(image, vae.config.image_size)[None]
    rng = torch.Generator().manual_seed(request.seed)
    images = family.variations(vae, pixels, request.num_samples, request.strength, rng)
    return pack(images, min(request.num_samples, 4), model_name, request.seed, "vary")


def blend(
    vae: Any, a: bytes, b: bytes, request: VariationRequest, model_name: str = "vae"
) -> ImageResult:
    """Return a strip of `steps` images from image a to image b through the VAE's latent space."""
    from generators.models import vae as family

    size = vae.config.image_size
    images = family.blend(vae, image_tensor(a, size), image_tensor(b, size), request.steps)
    return pack(images, request.steps, model_name, request.seed, "blend")


def out_of_distribution(vae: Any) -> Any:
    """Return a function images -> scores for the moderation ImageChecker (uploads)."""
    from generators.models import vae as family

    size = vae.config.image_size

    def score(images: list) -> list[float]:
        arrays = [np.asarray(im.convert("RGB").resize((size, size)), np.float32) for im in images]
        pixels = torch.from_numpy(np.stack(arrays) / 255.0).permute(0, 3, 1, 2).float()
        return family.out_of_distribution(vae, pixels)

    return score
