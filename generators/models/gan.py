"""Text-conditioned DCGAN: prompt embedding (MiniLM, 384-d) + noise → image.

Generator: the embedding is projected and concatenated with the noise, then grown from 4×4 to
`image_size` by upsampling (nearest or bilinear) + conv blocks (no checkerboards). Discriminator:
strided convs with spectral norm and a projection head, `D(x, e) = w·h + <P e, h>`, trained with the
hinge loss on real/matching pairs against generated images and real images with mismatched
captions (matching-aware), so the generator must honour the prompt, not just look real.
The generator's weights are averaged (EMA) for sampling.

Five training aids, each a Config field (off in `tiny`): the discriminator sees real and
generated images through the same random shifts and cut-outs (DiffAugment), a low-resolution L1
term ties each generated image to its caption's own image (pix2pix's paired loss), the caption
embedding is scaled to the noise's magnitude, half the images are shown with their short
prompt (what people type) instead of the full caption, and every emoji name is drawn equally
often, whatever its number of skin tones.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm

from generators.models import augment

FAMILY = "gan"


@dataclass(frozen=True)
class Config:
    """Sizes and training settings of one GAN."""

    image_size: int = 64
    embed_dim: int = 384
    noise_dim: int = 128
    cond_dim: int = 128
    g_channels: int = 64
    d_channels: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.0, 0.99)
    ema_decay: float = 0.999
    mismatch_weight: float = 0.5
    batch_size: int = 64
    # nearest (the first shipped run) or bilinear (smoother; no blocky plaid at high resolution)
    upsample: str = "nearest"
    # What the discriminator sees of real and generated images alike: "" or a comma-separated
    # list of generators.models.augment.KINDS (keeps a small dataset from being memorised).
    augment: str = ""
    # Weight of an L1 term between a generated image and its caption's own image, both averaged
    # down to pair_size px (pix2pix's paired loss, at low resolution: it pins the layout and the
    # colours, which is what makes an emoji recognisable, and leaves the detail to the
    # adversarial loss). 0 = a pure GAN.
    pair_weight: float = 0.0
    pair_size: int = 16
    # MiniLM embeddings are unit vectors (about 0.05 per dimension) beside noise of 1 per
    # dimension, so at 1.0 the caption barely moves either network at first and conditioning is
    # learnt slowly. sqrt(embed_dim) brings them to 1 per dimension. 1.0 in checkpoints from
    # before the setting existed.
    embed_scale: float = 1.0
    # Share of training images shown with their short prompt (the emoji's name, and its skin
    # tone) instead of the full caption, so that what people type lands where it was trained.
    short_prompts: float = 0.0
    # Draw each epoch's images so that every emoji name is equally likely, whatever its number
    # of skin tones (see generators.train.ImageCourse.order).
    balance_names: bool = False

    @property
    def levels(self) -> int:
        """Return how many 2x up/down-sampling steps lie between 4x4 and the image."""
        return int(math.log2(self.image_size // 4))


PRESETS = {
    "tiny": Config(image_size=16, noise_dim=16, cond_dim=16, g_channels=8, d_channels=8,
                   batch_size=8, ema_decay=0.9, upsample="bilinear"),
    # Sized for a 2-core CPU (~0.5 s per step of 64 at 64x64 px); bilinear upsampling: nearest
    # left a plaid pattern that training did not remove. The pure GAN of the first runs (TTUR,
    # lr 1e-4/4e-4, embeddings as they come) was still blobs after 14 minutes and collapsed in
    # the next 20. The shipped gan-emoji trained with the aids below, added in stages (its model
    # card lists them). After 500 steps the paired L1 stood at 0.36 with lr 1e-4, 0.34 with 4e-4
    # and 0.30 with 4e-4 and scaled embeddings; short prompts made a typed "thumbs up" a thumb.
    # Objects (one image each, beside six skin tones of every hand) stayed blobs at weight 10 at
    # 16 px: balanced names and weight 30 at 32 px took the mean 16 px error of all training
    # images from 0.132 to 0.112 in 1,700 steps, where the 2,600 steps before had gained 0.005.
    "small": Config(image_size=64, g_channels=32, d_channels=32, batch_size=64,
                    upsample="bilinear", lr_g=4e-4, lr_d=4e-4, embed_scale=384**0.5,
                    augment="translation,cutout", pair_weight=30.0, pair_size=32,
                    short_prompts=0.5, balance_names=True),
    "base": Config(image_size=64, g_channels=128, d_channels=128, batch_size=128,
                   upsample="bilinear", lr_g=4e-4, lr_d=4e-4, embed_scale=384**0.5,
                   augment="translation,cutout", pair_weight=30.0, pair_size=32,
                   short_prompts=0.5, balance_names=True),
}  # fmt: skip


def _up_block(c_in: int, c_out: int, mode: str) -> nn.Module:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode=mode),
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class Generator(nn.Module):
    """(noise, embedding) → images in [-1, 1]."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        top = config.g_channels * 2 ** (config.levels - 1)
        self.condition = nn.Sequential(
            nn.Linear(config.embed_dim, config.cond_dim), nn.LeakyReLU(0.2)
        )
        self.stem = nn.Sequential(
            nn.Linear(config.noise_dim + config.cond_dim, top * 16, bias=False),
            nn.Unflatten(1, (top, 4, 4)),
            nn.BatchNorm2d(top),
            nn.ReLU(inplace=True),
        )
        blocks, channels = [], top
        for _ in range(config.levels):
            out = max(channels // 2, config.g_channels // 2)
            blocks.append(_up_block(channels, out, config.upsample))
            channels = max(channels // 2, config.g_channels // 2)
        self.blocks = nn.Sequential(*blocks)
        self.to_rgb = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, noise: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = torch.cat([noise, self.condition(embedding * self.config.embed_scale)], dim=1)
        return torch.tanh(self.to_rgb(self.blocks(self.stem(h))))


class Discriminator(nn.Module):
    """(images, embedding) → realness-and-match score (projection discriminator)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        layers, channels = [], 3
        for level in range(config.levels):
            out = config.d_channels * 2**level
            layers += [spectral_norm(nn.Conv2d(channels, out, 4, 2, 1)), nn.LeakyReLU(0.2)]
            channels = out
        self.features = nn.Sequential(*layers)
        self.head = spectral_norm(nn.Linear(channels * 16, 1))
        self.project = spectral_norm(nn.Linear(config.embed_dim, channels * 16))
        self.embed_scale = config.embed_scale

    def forward(self, images: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.features(images).flatten(1)
        e = self.project(embedding * self.embed_scale)
        return self.head(h).squeeze(1) + (e * h).sum(1)


class GAN(nn.Module):
    """The trainable pair plus the EMA generator used for sampling."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)
        self.ema = Generator(config)
        self.ema.load_state_dict(self.generator.state_dict())
        self.ema.requires_grad_(False)
        self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update_ema(self) -> None:
        """Move the EMA generator towards the trained one (buffers copied as they are). The
        decay warms up from 0.1, so early samples already follow the training."""
        self.ema_updates += 1
        n = float(self.ema_updates)
        decay = min(self.config.ema_decay, (1.0 + n) / (10.0 + n))
        for ema, live in zip(self.ema.parameters(), self.generator.parameters(), strict=True):
            ema.lerp_(live, 1.0 - decay)
        for ema, live in zip(self.ema.buffers(), self.generator.buffers(), strict=True):
            ema.copy_(live)


def optimizers(model: GAN) -> dict[str, torch.optim.Optimizer]:
    """Return the Adam optimisers of generator and discriminator."""
    c = model.config
    return {
        "g": torch.optim.Adam(model.generator.parameters(), lr=c.lr_g, betas=c.betas),
        "d": torch.optim.Adam(model.discriminator.parameters(), lr=c.lr_d, betas=c.betas),
    }


def train_step(
    model: GAN,
    opt: dict[str, torch.optim.Optimizer],
    images: torch.Tensor,
    embeddings: torch.Tensor,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """One discriminator and one generator update on a batch; return the losses."""
    c, n = model.config, images.shape[0]
    kinds = augment.parse(c.augment)
    seen = functools.partial(augment.apply, kinds=kinds)
    noise = torch.randn(n, c.noise_dim, generator=generator, device=images.device)
    fake = model.generator(noise, embeddings)
    wrong = embeddings.roll(1, dims=0)  # each image with another item's caption
    d_real = model.discriminator(seen(images), embeddings)
    d_fake = model.discriminator(seen(fake.detach()), embeddings)
    d_wrong = model.discriminator(seen(images), wrong)
    loss_d = (
        F.relu(1.0 - d_real).mean()
        + (1 - c.mismatch_weight) * F.relu(1.0 + d_fake).mean()
        + c.mismatch_weight * F.relu(1.0 + d_wrong).mean()
    )
    opt["d"].zero_grad(set_to_none=True)
    loss_d.backward()
    opt["d"].step()
    loss_g = -model.discriminator(seen(fake), embeddings).mean()
    pair = torch.zeros((), device=images.device)
    if c.pair_weight:
        size = min(c.pair_size, c.image_size)
        pair = F.l1_loss(F.adaptive_avg_pool2d(fake, size), F.adaptive_avg_pool2d(images, size))
    opt["g"].zero_grad(set_to_none=True)
    (loss_g + c.pair_weight * pair).backward()
    opt["g"].step()
    model.update_ema()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "pair_l1": pair.item(),
            "d_real": d_real.mean().item(), "d_fake": d_fake.mean().item()}  # fmt: skip


@torch.inference_mode()
def generate(
    model: GAN, embeddings: torch.Tensor, num_samples: int, rng: torch.Generator
) -> torch.Tensor:
    """Return (len(embeddings) * num_samples, 3, S, S) images in [0, 1] from the EMA generator.

    Pure and seeded: the noise comes only from `rng`, so the same seed gives the same pixels."""
    model.ema.eval()
    device = next(model.ema.parameters()).device
    repeated = embeddings.to(device).repeat_interleave(num_samples, dim=0)
    noise = torch.randn(repeated.shape[0], model.config.noise_dim, generator=rng).to(device)
    return (_sample(model, noise, repeated).float() + 1.0) / 2.0


# On a CPU, a forward pass over more images than this costs more per image: the activations
# of a big 64 px batch no longer fit the caches (small preset, one thread: 1.8-2.1 ms an image
# in batches of 4 to 16, 3.1 at 64, 3.7 at 128), so big batches go through in slices. A GPU
# takes the whole batch at once.
CPU_SLICE = 16


def _sample(model: GAN, noise: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
    if noise.device.type != "cpu" or noise.shape[0] <= CPU_SLICE:
        return model.ema(noise, embeddings)
    return torch.cat(
        [
            model.ema(noise[k : k + CPU_SLICE], embeddings[k : k + CPU_SLICE])
            for k in range(0, noise.shape[0], CPU_SLICE)
        ]
    )


@torch.inference_mode()
def generate_batch(
    model: GAN, embeddings: torch.Tensor, counts: list[int], rngs: list[torch.Generator]
) -> list[torch.Tensor]:
    """Return, for several requests at once (one batch, sliced on a CPU), each request's images.

    Request i has embedding i, wants counts[i] images and draws its noise from rngs[i] only,
    so its images are those `generate` gives alone for the same seed (the same pixels; floats
    may differ in the last bit, as kernels block a batch differently)."""
    model.ema.eval()
    device = next(model.ema.parameters()).device
    noise = torch.cat(
        [
            torch.randn(n, model.config.noise_dim, generator=g)
            for n, g in zip(counts, rngs, strict=True)
        ]
    )
    repeated = embeddings.to(device).repeat_interleave(torch.tensor(counts, device=device), dim=0)
    images = (_sample(model, noise.to(device), repeated).float() + 1.0) / 2.0
    return list(images.cpu().split(counts))


def build(config: Config) -> GAN:
    """Return a new GAN for `config` (a ValueError names a bad augmentation policy)."""
    augment.parse(config.augment)
    return GAN(config)


def preview(model: GAN, embeddings: torch.Tensor, images: torch.Tensor, rng: torch.Generator):
    """Return (grid images, columns): each fixed prompt in a row, four seeds across."""
    return generate(model, embeddings, 4, rng), 4


def export_state(model: GAN) -> dict[str, torch.Tensor]:
    """Return the inference weights: the EMA generator, floats in fp16 (a few MB)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in model.ema.state_dict().items()}


def from_export(config: Config, state: dict[str, torch.Tensor]) -> GAN:
    """Return a GAN ready to `generate` from `export_state` weights (fp32 on CPU), or from a
    whole training checkpoint's state (its EMA generator is what is served)."""
    if any(k.startswith("ema.") for k in state):
        state = {k.removeprefix("ema."): v for k, v in state.items() if k.startswith("ema.")}
    model = GAN(config)
    model.ema.load_state_dict(
        {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    )
    return model.eval()
