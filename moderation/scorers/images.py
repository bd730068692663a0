"""Image checks for uploads and outputs: a perceptual-hash denylist moderators add to, an
optional NSFW classifier (any transformers image-classification model), and an optional
out-of-distribution score (the VAE's, for uploads)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image

log = logging.getLogger(__name__)
# Labels an NSFW classifier may use for its unsafe class(es).
UNSAFE_CLASS_NAMES = frozenset({"nsfw", "porn", "hentai", "sexy", "explicit", "unsafe"})
HASH_BITS = 64


def perceptual_hash(image: Image.Image) -> str:
    """Return the 64-bit perceptual hash (DCT pHash) of `image` as 16 hex digits."""
    import imagehash

    return str(imagehash.phash(image))


def hash_distance(a: str, b: str) -> int:
    """Return the number of differing bits between two hex hashes."""
    return bin(int(a, 16) ^ int(b, 16)).count("1")


class ImageChecker:
    """Scores images: `image_denylisted`, `image_nsfw`, `image_out_of_distribution` in [0, 1]."""

    name = "images"

    def __init__(
        self,
        nsfw_model: str | None = None,
        out_of_distribution: Callable[[list[Image.Image]], list[float]] | None = None,
        max_distance: int = 8,
        device: str = "cpu",
    ) -> None:
        self.nsfw_model = nsfw_model
        self.out_of_distribution = out_of_distribution
        self.max_distance = max_distance
        self.device = device
        self._nsfw: Any = None
        self.version = f"images-phash{max_distance}" + (f"+nsfw:{nsfw_model}" if nsfw_model else "")

    def load(self) -> None:
        """Load the NSFW classifier through transformers' pipeline, when one is configured."""
        if self.nsfw_model and self._nsfw is None:
            from transformers import pipeline

            device = "cpu" if self.device == "auto" else self.device
            self._nsfw = pipeline("image-classification", model=self.nsfw_model, device=device)

    def denylist_score(self, image_hash: str, denylist: Sequence[str]) -> float:
        """Return 1.0 for a denylisted image, falling to 0 at twice `max_distance` bits away."""
        if not denylist:
            return 0.0
        nearest = min(hash_distance(image_hash, h) for h in denylist)
        if nearest <= self.max_distance:
            return 1.0
        return max(0.0, 1.0 - (nearest - self.max_distance) / self.max_distance)

    def score(
        self, images: list[Image.Image], denylist: Sequence[str] = ()
    ) -> list[dict[str, float]]:
        """Return one {label: score} dict per image."""
        self.load()
        out = [
            {"image_denylisted": self.denylist_score(perceptual_hash(im), denylist)}
            for im in images
        ]
        if self._nsfw is not None and images:
            for scores, ranked in zip(out, self._nsfw(images, top_k=None), strict=True):
                unsafe = [r["score"] for r in ranked if r["label"].lower() in UNSAFE_CLASS_NAMES]
                scores["image_nsfw"] = float(sum(unsafe))
        if self.out_of_distribution is not None and images:
            for scores, value in zip(out, self.out_of_distribution(images), strict=True):
                scores["image_out_of_distribution"] = float(min(1.0, max(0.0, value)))
        return out
