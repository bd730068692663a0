"""MODEL_CARD.md for a shipped image checkpoint, written from its metadata and `genbot eval`."""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path
from typing import Any

DATA = """- **Data**: {size} images of the Noto emoji set (Google, Apache-2.0 images; metadata MIT via
  emoji-datasource-google 16.0.0; tags from emojibase-data 17.0.0, MIT), built by
  `genbot data build images`; dataset hash `{dataset_hash}`. About 5% of emoji names (all their
  skin tones) are held out of training for evaluation.
- **Licence of this checkpoint**: Apache-2.0 (as the images it learned from)."""

SAMPLES = {
    "gan": "each fixed prompt in a row (red heart, smiling face, pizza, rocket, cat face, "
    "rainbow, thumbs up, snowman, sun, christmas tree, dog face, birthday cake, soccer ball, "
    "banana, star, ghost), four seeds across",
    "vae": "originals, reconstructions, variations and samples from the prior, one row each",
}
LIMITS = {
    "gan": """- Trained on a 2-core CPU for a limited time: images are small (64×64), often blurry, and
  many prompts give a shape and colour of the right kind rather than a clean emoji.
- With the paired L1 term, little variety within a prompt: the noise changes details only.
- It knows only emoji: prompts far from emoji captions land on a nearby emoji-like image.
- Prompt embeddings come from MiniLM (English); other scripts embed less faithfully.
- Skin tones follow the caption words; the tone audit of the responsible-AI issue measures it.""",
    "vae": """- Reconstructions are blurry (a small convolutional VAE with a Bernoulli likelihood).
- Variations stay close to emoji; photos and other images reconstruct poorly, which is what
  makes its out-of-distribution score useful for screening uploads.""",
}


def _rows(metrics: dict[str, Any], family: str) -> list[tuple[str, str]]:
    if family == "gan":
        held, base = metrics["fidelity_held_out"], metrics["random_baseline"]
        return [
            (
                f"prompt fidelity R@1, held-out captions (pool of {held['pool']})",
                f"{held['r_at_1']:.1%} (random {base['r_at_1']:.1%})",
            ),
            (
                "prompt fidelity R@10, held-out captions",
                f"{held['r_at_10']:.1%} (random {base['r_at_10']:.1%}; {metrics['r_at_10_vs_baseline']:.1f}x)",
            ),
            (
                "prompt fidelity R@10, training captions",
                f"{metrics['fidelity_train']['r_at_10']:.1%}",
            ),
            (
                "real images R@10, held-out captions (encoder ceiling)",
                f"{metrics['real_images_held_out']['r_at_10']:.1%}",
            ),
            (
                "Fréchet distance, encoder features (real vs real floor)",
                f"{metrics['frechet_distance']:.2f} ({metrics['frechet_real_vs_real']:.2f})",
            ),
            (
                "diversity within a prompt / between prompts",
                f"{metrics['diversity_within_prompt']:.3f} / {metrics['diversity_between_prompts']:.3f}",
            ),
        ]
    held, train, ood = metrics["held_out"], metrics["train"], metrics["ood_score"]
    return [
        (
            "negative ELBO, held-out / training (nats per image)",
            f"{held['negative_elbo']:.1f} / {train['negative_elbo']:.1f}",
        ),
        (
            "reconstruction MSE per pixel, held-out / training",
            f"{held['mse']:.4f} / {train['mse']:.4f}",
        ),
        (
            "out-of-distribution score: held-out emoji / noise / stripes",
            f"{ood['held_out_emoji']:.2f} / {ood['uniform_noise']:.2f} / {ood['stripes']:.2f}",
        ),
    ]


def _training(family: str, config: dict[str, Any]) -> str:
    """Return the card's line on how a GAN was trained beyond its losses ("" when plainly)."""
    if family != "gan":
        return ""
    aids = []
    if config.get("augment"):
        aids.append(
            f"the discriminator sees real and generated images through `{config['augment']}`"
        )
    if config.get("pair_weight"):
        aids.append(
            f"an L1 term (weight {config['pair_weight']:g}) ties each generated image to its "
            f"caption's own image at {config.get('pair_size', 16)} px"
        )
    if config.get("embed_scale", 1.0) != 1.0:
        aids.append(f"caption embeddings scaled by {config['embed_scale']:.1f}")
    if config.get("short_prompts"):
        aids.append(
            f"{config['short_prompts']:.0%} of images shown with their short prompt "
            "(name and skin tone)"
        )
    if config.get("balance_names"):
        aids.append("every emoji name drawn equally often, whatever its number of skin tones")
    if not aids:
        return (
            "- **Training**: hinge loss, matching-aware projection discriminator, EMA generator.\n"
        )
    return (
        "- **Training**: hinge loss, matching-aware projection discriminator, EMA generator; "
        + "; ".join(aids)
        + ".\n"
    )


def ship(
    family: str, blob: dict, metrics: dict, checkpoint: Path, eval_dir: Path, target: Path
) -> Path:
    """Copy the checkpoint, report and samples into `target` and write its MODEL_CARD.md."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint, target / "model.pt")
    shutil.copyfile(eval_dir / "report.png", target / "report.png")
    (target / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    meta = blob["meta"]
    run = checkpoint.parent
    samples = sorted((run / "samples").glob("epoch-*.png"))
    if samples:
        shutil.copyfile(samples[-1], target / "samples.png")
    if (run / "loss-curves.png").is_file():
        shutil.copyfile(run / "loss-curves.png", target / "loss-curves.png")
    preset = meta.get("preset", "small")
    epochs = f"--epochs {meta.get('epoch')}"
    if meta.get("max_minutes"):  # the run stopped at its time limit, not after `epoch` epochs
        epochs = f"--epochs {meta.get('epochs_requested')} --max-minutes {meta['max_minutes']:g}"
    command = (
        f"genbot data build images && genbot train {family} --preset {preset} "
        f"{epochs} --seed {meta.get('seed', 0)}"
    )
    table = "\n".join(f"| {name} | {value} |" for name, value in _rows(metrics, family))
    title = {"gan": "Text-conditioned GAN", "vae": "Convolutional VAE"}[family]
    card = f"""# {target.name}: {title} on Noto emoji

{DATA.format(size=meta.get("dataset_size"), dataset_hash=meta.get("dataset_hash"))}
- **Command**: `{command}` (then `genbot eval {family}`)
- **Seed** {meta.get("seed")}, **epochs** {meta.get("epoch")}, **steps** {blob["step"]}, **wall time**
  {meta.get("wall_s", 0) / 60:.0f} min on {meta.get("device")} ({platform.machine()}, a 2-core
  machine), git commit `{(meta.get("git_commit") or "?")[:12]}`.
{_training(family, blob.get("config", {}))}- **Weights**: exported in fp16 ({(target / "model.pt").stat().st_size / 2**20:.1f} MB); loads with
  `torch.load(..., weights_only=True)`.

## Metrics (`genbot eval {family}`, {metrics.get("eval_seconds")} s)

| metric | value |
|---|---|
{table}

![report](report.png)

## Samples

The last epoch's sample sheet: {SAMPLES[family]}.

![samples](samples.png) ![loss curves](loss-curves.png)

## Known limitations

{LIMITS[family]}
"""
    (target / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    return target / "MODEL_CARD.md"
