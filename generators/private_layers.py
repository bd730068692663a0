"""Rewrites of two layer kinds that per-record gradients cannot go through, and their undoing.

BatchNorm mixes the records of a batch (its statistics), so Opacus refuses it; its usual fix
swaps in GroupNorm, which changes the architecture and would leave a checkpoint the family's
loader cannot read. Here each BatchNorm is folded, with its running statistics, into the
convolution before it (an exact rewrite of the model in eval mode) and replaced by Identity;
`unfold_batchnorm` puts BatchNorms back as the identity, so the state dict keeps its keys.

Spectral norm keeps power-iteration buffers in the layer, which Opacus does not support:
`freeze_spectral_norm` divides each weight by its current spectral norm once (a plain weight
again) and `restore_spectral_norm` puts the parametrisation back around the trained weight.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import remove_spectral_norm, spectral_norm


def fold_batchnorm(model: nn.Module) -> list[tuple[nn.Sequential, int, nn.BatchNorm2d]]:
    """Fold every Conv2d → BatchNorm2d pair of `model`'s Sequentials into the Conv2d and put
    Identity in the BatchNorm's place; return where they were (for `unfold_batchnorm`)."""
    folded = []
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for k in range(1, len(seq)):
            conv, norm = seq[k - 1], seq[k]
            if isinstance(norm, nn.BatchNorm2d):
                if not isinstance(conv, nn.Conv2d):
                    raise ValueError(f"{norm} follows {type(conv).__name__}, not a Conv2d")
                _fold(conv, norm)
                seq[k] = nn.Identity()
                folded.append((seq, k, norm))
    return folded


@torch.no_grad()
def _fold(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    if conv.bias is None:  # a new bias would add a key the family's loader does not expect
        raise ValueError(f"{conv} has no bias to fold {norm} into")
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    conv.weight.mul_(scale.view(-1, 1, 1, 1))
    conv.bias.copy_((conv.bias - norm.running_mean) * scale + norm.bias)


@torch.no_grad()
def unfold_batchnorm(folded: list[tuple[nn.Sequential, int, nn.BatchNorm2d]]) -> None:
    """Put each folded BatchNorm back as the identity map (mean 0, variance 1 - eps, scale 1,
    shift 0), so the model computes what the folded one did and loads into the family."""
    for seq, k, norm in folded:
        norm.running_mean.zero_()
        norm.running_var.fill_(1.0 - norm.eps)
        norm.weight.fill_(1.0)
        norm.bias.zero_()
        seq[k] = norm


def freeze_spectral_norm(model: nn.Module) -> dict[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """Replace each spectrally normalised layer's weight by its normalised value as a plain
    parameter; return the power-iteration vectors (u, v) of each layer for the restore."""
    saved = {}
    for module in model.modules():
        if hasattr(module, "weight_orig"):
            saved[module] = (module.weight_u.clone(), module.weight_v.clone())
            remove_spectral_norm(module)
    return saved


@torch.no_grad()
def restore_spectral_norm(
    saved: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]], iterations: int = 20
) -> None:
    """Wrap the trained weights in spectral norm again, starting the power iteration from the
    saved vectors. The frozen weights had spectral norm 1, so after a short fine-tune the new
    normalisation changes each layer by a factor close to 1."""
    for module, (u, v) in saved.items():
        spectral_norm(module)
        module.weight_u.copy_(u)
        module.weight_v.copy_(v)
        weight = module.weight_orig.flatten(1)
        for _ in range(iterations):
            module.weight_v.copy_(nn.functional.normalize(weight.T @ module.weight_u, dim=0))
            module.weight_u.copy_(nn.functional.normalize(weight @ module.weight_v, dim=0))
