"""Convolutional VAE: image → latent (mean, log-variance) → image, for variations and blends.

The likelihood is Bernoulli per pixel on [0, 1], so the negative ELBO is in nats per image;
its quantiles over the training set (stored as buffers at the end of training) turn the
negative ELBO of an upload into an out-of-distribution score in [0, 1] for moderation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

FAMILY = "vae"


@dataclass(frozen=True)
class Config:
    """Sizes and training settings of one VAE."""

    image_size: int = 64
    latent_dim: int = 64
    channels: int = 32
    beta: float = 1.0
    lr: float = 1e-3
    batch_size: int = 64

    @property
    def levels(self) -> int:
        """Return how many 2x steps lie between the image and the 4x4 bottleneck."""
        return int(math.log2(self.image_size // 4))


PRESETS = {
    "tiny": Config(image_size=16, latent_dim=8, channels=8, batch_size=8),
    "small": Config(image_size=64, latent_dim=64, channels=32, batch_size=64),
    "base": Config(image_size=64, latent_dim=128, channels=64, batch_size=128),
}


class VAE(nn.Module):
    """Encoder to a diagonal Gaussian, decoder back to pixels in [0, 1]."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        down, channels = [], 3
        for level in range(config.levels):
            out = config.channels * 2**level
            down += [nn.Conv2d(channels, out, 4, 2, 1), nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
            channels = out
        self.encoder = nn.Sequential(*down, nn.Flatten())
        self.to_stats = nn.Linear(channels * 16, 2 * config.latent_dim)
        up = []
        for _ in range(config.levels):
            out = max(channels // 2, config.channels // 2)
            up += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(channels, out, 3, padding=1),
                nn.BatchNorm2d(out),
                nn.ReLU(),
            ]
            channels = out
        top = config.channels * 2 ** (config.levels - 1)
        self.from_latent = nn.Sequential(
            nn.Linear(config.latent_dim, top * 16), nn.Unflatten(1, (top, 4, 4))
        )
        self.decoder = nn.Sequential(*up, nn.Conv2d(channels, 3, 3, padding=1))
        # Negative-ELBO quantiles of the training set (nats); set by `calibrate`.
        self.register_buffer("elbo_p50", torch.tensor(float("nan")))
        self.register_buffer("elbo_p99", torch.tensor(float("nan")))

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (mean, log-variance) of the posterior for images in [0, 1]."""
        mean, logvar = self.to_stats(self.encoder(images * 2.0 - 1.0)).chunk(2, dim=1)
        return mean, logvar.clamp(-12.0, 8.0)

    def decode_logits(self, latent: torch.Tensor) -> torch.Tensor:
        """Return per-pixel Bernoulli logits for latents."""
        return self.decoder(self.from_latent(latent))

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Return images in [0, 1] for latents."""
        return torch.sigmoid(self.decode_logits(latent))


def negative_elbo(
    model: VAE, images: torch.Tensor, beta: float = 1.0, sample: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return per-image (negative ELBO, reconstruction nats, KL nats) for images in [0, 1].

    `sample` is the reparameterisation noise; None uses the posterior mean (deterministic)."""
    mean, logvar = model.encode(images)
    latent = mean if sample is None else mean + torch.exp(0.5 * logvar) * sample
    logits = model.decode_logits(latent)
    recon = F.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(1).sum(1)
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
    return recon + beta * kl, recon, kl


def optimizers(model: VAE) -> dict[str, torch.optim.Optimizer]:
    """Return the Adam optimiser."""
    return {"vae": torch.optim.Adam(model.parameters(), lr=model.config.lr)}


def train_step(
    model: VAE,
    opt: dict[str, torch.optim.Optimizer],
    images: torch.Tensor,
    embeddings: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """One update on a batch of images in [-1, 1]; return the losses (nats per image)."""
    model.train()
    pixels = (images + 1.0) / 2.0
    noise = torch.randn(pixels.shape[0], model.config.latent_dim, generator=generator).to(
        pixels.device
    )
    loss, recon, kl = negative_elbo(model, pixels, model.config.beta, noise)
    opt["vae"].zero_grad(set_to_none=True)
    loss.mean().backward()
    opt["vae"].step()
    return {"loss": float(loss.mean().detach()), "recon": float(recon.mean().detach()),
            "kl": float(kl.mean().detach())}  # fmt: skip


@torch.inference_mode()
def variations(
    model: VAE, images: torch.Tensor, num_samples: int, strength: float, rng: torch.Generator
) -> torch.Tensor:
    """Return `num_samples` variations of each image ([0, 1]): latents drawn around its
    posterior mean with prior-scaled noise times `strength` (0: the reconstruction)."""
    model.eval()
    mean, _ = model.encode(images)
    mean = mean.repeat_interleave(num_samples, dim=0)
    noise = torch.randn(mean.shape, generator=rng).to(mean.device)
    return model.decode(mean + strength * noise)


@torch.inference_mode()
def blend(model: VAE, a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Return `steps` images ([0, 1]) along the straight line between the latents of a and b."""
    model.eval()
    za, zb = model.encode(a[None])[0], model.encode(b[None])[0]
    t = torch.linspace(0.0, 1.0, steps, device=za.device)[:, None]
    return model.decode((1.0 - t) * za + t * zb)


@torch.inference_mode()
def calibrate(model: VAE, images: torch.Tensor, batch: int = 256) -> None:
    """Store the 50th and 99th percentile of the training set's negative ELBO (nats)."""
    model.eval()
    pixels = (images + 1.0) / 2.0
    values = torch.cat(
        [negative_elbo(model, pixels[k : k + batch])[0] for k in range(0, len(pixels), batch)]
    )
    model.elbo_p50.fill_(float(values.quantile(0.5)))
    model.elbo_p99.fill_(float(values.quantile(0.99)))


@torch.inference_mode()
def out_of_distribution(model: VAE, images: torch.Tensor) -> list[float]:
    """Return per image ([0, 1] pixels) a score in [0, 1]: 0 at or below the training median
    negative ELBO, 0.5 at its 99th percentile, approaching 1 far beyond it."""
    model.eval()
    values = negative_elbo(model, images)[0]
    p50, p99 = float(model.elbo_p50), float(model.elbo_p99)
    if not (math.isfinite(p50) and math.isfinite(p99)) or p99 <= p50:
        raise RuntimeError("this VAE was not calibrated: train it with `genbot train vae`")
    excess = ((values - p50) / (p99 - p50)).clamp(min=0.0)
    return (excess / (1.0 + excess)).tolist()


def preview(model: VAE, embeddings: torch.Tensor, images: torch.Tensor, rng: torch.Generator):
    """Return (grid images, columns): originals, reconstructions, variations, prior samples."""
    model.eval()
    with torch.inference_mode():
        originals = ((images[:8] + 1.0) / 2.0).clamp(0, 1)
        recon = model.decode(model.encode(originals)[0])
        varied = variations(model, originals, 1, 0.5, rng)
        prior = model.decode(
            torch.randn(8, model.config.latent_dim, generator=rng).to(originals.device)
        )
    return torch.cat([originals, recon, varied, prior]), 8


def after_training(model: VAE, images: torch.Tensor) -> None:
    """Calibrate the out-of-distribution score on the training images."""
    calibrate(model, images)


def export_state(model: VAE) -> dict[str, torch.Tensor]:
    """Return the inference weights (floats in fp16; calibration buffers kept in fp32)."""
    keep = {"elbo_p50", "elbo_p99"}
    return {k: v.half() if v.is_floating_point() and k not in keep else v
            for k, v in model.state_dict().items()}  # fmt: skip


def from_export(config: Config, state: dict[str, torch.Tensor]) -> VAE:
    """Return a VAE ready for inference from `export_state` weights (fp32 on CPU)."""
    model = VAE(config)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval()


def build(config: Config) -> VAE:
    """Return a new VAE for `config`."""
    return VAE(config)
