"""The image–text encoder that evaluation measures with (no Inception or CLIP weights here).

A small CNN maps an image into MiniLM's 384-d caption space, trained contrastively (InfoNCE
with a learned temperature) against the frozen caption embeddings of the training images. Its
pooled features serve the Fréchet distance; its embeddings serve caption retrieval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

SIZE = 64
FEATURES = 256


@dataclass(frozen=True)
class Config:
    """The encoder's fixed shape (recorded in its checkpoint)."""

    size: int = SIZE
    features: int = FEATURES
    embed_dim: int = 384


class ImageEncoder(nn.Module):
    """Images in [-1, 1] (any size; resized to 64) → (features 256-d, embedding 384-d unit)."""

    def __init__(self, embed_dim: int = 384) -> None:
        super().__init__()
        layers, channels = [], 3
        for out in (32, 64, 128, FEATURES):
            layers += [nn.Conv2d(channels, out, 4, 2, 1), nn.BatchNorm2d(out), nn.ReLU()]
            channels = out
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(FEATURES, embed_dim)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images.shape[-1] != SIZE:
            images = F.interpolate(images, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
        features = self.body(images)
        return features, F.normalize(self.head(features), dim=-1)


def train(
    images: torch.Tensor,
    embeddings: torch.Tensor,
    epochs: int = 12,
    batch_size: int = 128,
    seed: int = 0,
    progress: bool = True,
) -> ImageEncoder:
    """Return an encoder trained to match `images` with their caption `embeddings`."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    model = ImageEncoder(embeddings.shape[1])
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    rng = torch.Generator().manual_seed(seed)
    n = len(images)
    steps = max(1, n // min(batch_size, n))
    bar = tqdm(total=epochs * steps, desc="training the eval encoder", disable=not progress)
    for _ in range(epochs):
        order = torch.randperm(n, generator=rng)
        for k in range(steps):
            idx = order[k * batch_size : (k + 1) * batch_size]
            flipped = torch.where(
                torch.rand(len(idx), 1, 1, 1) < 0.5, images[idx].flip(-1), images[idx]
            )
            _, image_emb = model(flipped)
            text = F.normalize(embeddings[idx], dim=-1)
            logits = model.log_scale.exp().clamp(max=100) * image_emb @ text.T
            # Captions repeat (tone variants share most words): equal captions are all positives.
            same = (text @ text.T > 0.999).float()
            targets = same / same.sum(1, keepdim=True)
            loss = -(targets * logits.log_softmax(1)).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    return model.eval()


@torch.inference_mode()
def encode(
    model: ImageEncoder, images: torch.Tensor, batch: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (features, embeddings) for images in [-1, 1], in batches."""
    model.eval()
    parts = [model(images[k : k + batch]) for k in range(0, len(images), batch)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Return the Fréchet distance between Gaussians fitted to two feature sets (FID's formula)."""
    import numpy as np
    from scipy import linalg

    x, y = a.double().numpy(), b.double().numpy()
    mu_x, mu_y = x.mean(0), y.mean(0)
    cov_x, cov_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = linalg.sqrtm(cov_x @ cov_y)
    if np.iscomplexobj(root):
        root = root.real
    return float(((mu_x - mu_y) ** 2).sum() + np.trace(cov_x + cov_y - 2.0 * root))


def retrieval_ranks(image_emb: torch.Tensor, caption_emb: torch.Tensor) -> torch.Tensor:
    """Return, for image i, the rank (1 = best) of caption i among all captions."""
    scores = image_emb @ F.normalize(caption_emb, dim=-1).T
    true = scores.diagonal().unsqueeze(1)
    return (scores > true).sum(1) + 1
