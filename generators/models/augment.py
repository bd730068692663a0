"""Differentiable augmentations for a GAN's discriminator (DiffAugment, Zhao et al. 2020).

With ~3,000 training images the discriminator memorises the real set within minutes and its
gradients stop teaching the generator anything; the run then collapses. Showing the
discriminator randomly shifted and cut-out versions of *both* real and generated images keeps it
from memorising, and because the transforms are differentiable the generator still learns from
them. Colour transforms are left out on purpose: the discriminator matches images to captions,
and "red heart" against "blue heart" is a colour.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

KINDS = ("translation", "cutout")


def parse(policy: str) -> tuple[str, ...]:
    """Return the transforms named in a comma-separated policy ("" = none); unknown names raise."""
    kinds = tuple(k.strip() for k in policy.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; choose from {', '.join(KINDS)}")
    return kinds


def translate(images: torch.Tensor, ratio: float = 0.125, fill: float = 1.0) -> torch.Tensor:
    """Shift each image by a random whole number of pixels, up to `ratio` of its size each way;
    what comes in from the edge is `fill` (white: the emoji background)."""
    n, _, h, w = images.shape
    pad_h, pad_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    if pad_h == 0 and pad_w == 0:
        return images
    padded = F.pad(images, (pad_w, pad_w, pad_h, pad_h), value=fill)
    dy = torch.randint(0, 2 * pad_h + 1, (n,), device=images.device)
    dx = torch.randint(0, 2 * pad_w + 1, (n,), device=images.device)
    rows = (dy[:, None] + torch.arange(h, device=images.device)[None, :])[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=images.device)[None, :])[:, None, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    # Advanced indexing keeps the gradient to every kept pixel.
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].squeeze(1).permute(0, 3, 1, 2)


def cutout(images: torch.Tensor, ratio: float = 0.5, fill: float = 1.0) -> torch.Tensor:
    """Paint one random square of `ratio` of the image's size per image with `fill`."""
    n, _, h, w = images.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    top = torch.randint(0, h - ch + 1, (n, 1, 1), device=images.device)
    left = torch.randint(0, w - cw + 1, (n, 1, 1), device=images.device)
    ys = torch.arange(h, device=images.device)[None, :, None]
    xs = torch.arange(w, device=images.device)[None, None, :]
    hole = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)
    return torch.where(hole[:, None], torch.full_like(images, fill), images)


def apply(images: torch.Tensor, kinds: tuple[str, ...]) -> torch.Tensor:
    """Return `images` (in [-1, 1]) through each transform of `kinds`, in order."""
    for kind in kinds:
        images = translate(images) if kind == "translation" else cutout(images)
    return images
