"""The report PNG of `genbot eval`: the numbers as charts, next to the pictures they describe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from generators.images import grid
from generators.train import FIXED_PROMPTS, subset


def report(name: str, module, model, data, held, metrics: dict[str, Any], path: Path) -> Path:
    """Draw the family's report into `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13, 7))
    chart, pictures = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    if name == "gan":
        _gan(chart, pictures, module, model, data, metrics)
    else:
        _vae(chart, pictures, model, data, held, metrics)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _gan(chart, pictures, module, model, data, metrics) -> None:
    rows = [
        ("generated, held-out captions", metrics["fidelity_held_out"]),
        ("generated, training captions", metrics["fidelity_train"]),
        ("real images, held-out captions", metrics["real_images_held_out"]),
    ]
    x = range(len(rows))
    chart.bar([i - 0.2 for i in x], [r["r_at_1"] for _, r in rows], 0.4, label="R@1")
    chart.bar([i + 0.2 for i in x], [r["r_at_10"] for _, r in rows], 0.4, label="R@10")
    chart.axhline(metrics["random_baseline"]["r_at_10"], color="grey", ls="--", label="random R@10")
    chart.axhline(metrics["random_baseline"]["r_at_1"], color="grey", ls=":", label="random R@1")
    chart.set_xticks(list(x), [n for n, _ in rows], rotation=12, fontsize=8)
    chart.set_ylim(0, 1)
    chart.set_title(
        f"prompt fidelity (pool of {metrics['fidelity_held_out']['pool']}); "
        f"Fréchet {metrics['frechet_distance']:.1f} "
        f"(real-real {metrics['frechet_real_vs_real']:.1f})",
        fontsize=9,
    )
    chart.legend(fontsize=8)
    prompts = list(FIXED_PROMPTS) if data.name == "emoji" else data.captions[:16]
    embeddings = torch.as_tensor(data.encode(prompts))
    images = module.generate(model, embeddings, 4, torch.Generator().manual_seed(0))
    size = images.shape[-1]
    pictures.imshow(grid(images, 8, scale=max(1, 64 // size)))
    pictures.set_title(
        "fixed prompts, two per row, four seeds each: " + ", ".join(prompts), fontsize=7, wrap=True
    )
    pictures.axis("off")


def _vae(chart, pictures, model, data, held, metrics) -> None:
    scores = metrics["ood_score"]
    chart.bar(list(scores), list(scores.values()), color=["#5cb85c", "#d9534f", "#f0ad4e"])
    chart.set_ylim(0, 1)
    chart.set_title(
        f"out-of-distribution score; held-out -ELBO {metrics['held_out']['negative_elbo']:.0f} "
        f"nats, MSE {metrics['held_out']['mse']:.4f}",
        fontsize=9,
    )
    originals = ((subset(data, held).images[:8] + 1) / 2).clamp(0, 1)
    with torch.inference_mode():
        recon = model.decode(model.encode(originals)[0])
    size = originals.shape[-1]
    pictures.imshow(grid(torch.cat([originals, recon]), 8, scale=max(1, 64 // size)))
    pictures.set_title("held-out images (top) and their reconstructions (bottom)", fontsize=9)
    pictures.axis("off")
