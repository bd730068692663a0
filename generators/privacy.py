"""Differentially private training (DP-SGD through Opacus) for the community fine-tunes.

Each record of the community export is one unit of privacy: its gradient is clipped to
`max_grad_norm` and Gaussian noise is added to the sum of a Poisson-sampled batch. The RDP
accountant tracks ε for the chosen δ over the steps actually taken; `spent` reports it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

ACCOUNTANT = "rdp"


@dataclass(frozen=True)
class PrivacySettings:
    """The budget of one private run: a target ε, or a fixed noise multiplier, at δ."""

    epsilon: float | None = 8.0
    delta: float = 1e-5
    max_grad_norm: float = 1.0
    noise_multiplier: float | None = None

    def check(self, records: int) -> None:
        """Raise ValueError when the settings cannot give a meaningful guarantee."""
        if records < 2:
            raise ValueError("differential privacy needs at least two training records")
        if not 0 < self.delta < 1 / records:
            raise ValueError(
                f"--dp-delta {self.delta:g} must be below 1/records = {1 / records:.3g} "
                "(a larger δ lets a record leak with that probability)"
            )
        if self.noise_multiplier is None and not (self.epsilon and self.epsilon > 0):
            raise ValueError("give --dp-epsilon > 0 or --dp-noise-multiplier")
        if self.max_grad_norm <= 0:
            raise ValueError("--dp-max-grad-norm must be positive")


@dataclass
class PrivateRun:
    """The Opacus objects of one private run and what it has spent."""

    engine: Any
    module: Any  # the GradSampleModule (hooks on the wrapped model's layers)
    optimizer: Any  # a DPOptimizer: clips per-record gradients, adds noise, counts steps
    loader: Any  # Poisson-sampled batches of the records
    settings: PrivacySettings

    def spent(self) -> float:
        """Return ε spent so far at the settings' δ (inf before any step)."""
        if not self.engine.accountant.history:
            return math.inf
        return float(self.engine.get_epsilon(self.settings.delta))

    def summary(self) -> dict[str, Any]:
        """Return what a model card and report say about the guarantee."""
        return {
            **asdict(self.settings),
            "noise_multiplier": float(self.optimizer.noise_multiplier),
            "epsilon": round(self.spent(), 3),
            "steps": sum(n for _, _, n in self.engine.accountant.history),
            "sample_rate": self.engine.accountant.history[-1][1]
            if self.engine.accountant.history
            else None,
            "accountant": ACCOUNTANT,
        }

    def close(self) -> Any:
        """Remove the per-sample-gradient hooks; return the plain model."""
        return self.module.to_standard_module()


def make_private(
    model: Any, optimizer: Any, loader: Any, settings: PrivacySettings, epochs: int, seed: int
) -> PrivateRun:
    """Return `model`, `optimizer` and `loader` made private for `epochs` passes over the data:
    the noise multiplier is the one that spends `settings.epsilon` by then, unless given."""
    import torch
    from opacus import PrivacyEngine

    settings.check(len(loader.dataset))
    engine = PrivacyEngine(accountant=ACCOUNTANT)
    common = {
        "module": model,
        "optimizer": optimizer,
        "data_loader": loader,
        "max_grad_norm": settings.max_grad_norm,
        "noise_generator": torch.Generator().manual_seed(seed),
    }
    if settings.noise_multiplier is not None:
        parts = engine.make_private(noise_multiplier=settings.noise_multiplier, **common)
    else:
        parts = engine.make_private_with_epsilon(
            target_epsilon=settings.epsilon, target_delta=settings.delta, epochs=epochs, **common
        )
    module, optimizer, loader = parts
    return PrivateRun(engine, module, optimizer, loader, settings)


def noise_only_step(run: PrivateRun, params: list) -> None:
    """Take the step of an empty Poisson batch: noise only, and counted by the accountant.

    Skipping it would reveal that no record was drawn, which the accounting does not allow
    for; the models here cannot run a forward pass on zero rows."""
    import torch

    run.optimizer.zero_grad(set_to_none=True)
    for p in params:
        p.grad_sample = torch.zeros((0, *p.shape), dtype=p.dtype, device=p.device)
    run.optimizer.step()
