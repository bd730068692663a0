"""`genbot eval gan|vae`: metrics.json and a report PNG for an image checkpoint.

GAN: Fréchet distance of encoder features (generated vs real, next to the real-vs-real floor);
prompt fidelity on held-out captions (rank of the true caption among 100 when retrieving with
the generated image: R@1, R@10 against the random baseline of 1% and 10%); the same for real
images (the encoder's ceiling) and for training captions; diversity within a prompt.
VAE: reconstruction error and negative ELBO on held-out and training images; the
out-of-distribution score of held-out emoji against noise and photos-like textures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from data import checkpoints
from generators import eval_encoder
from generators.registry import family
from generators.train import TrainingData, load_all, subset

RETRIEVAL_POOL = 100


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `genbot eval`."""
    p = argparse.ArgumentParser(prog="genbot eval", description=__doc__.split("\n\n")[0])
    p.add_argument("family", choices=["gan", "vae"], help="(text: see `genbot eval text -h`)")
    p.add_argument("--checkpoint", help="model.pt (default: the latest small run, else shipped)")
    p.add_argument("--data", default="emoji", choices=["emoji", "synthetic"])
    p.add_argument("--out", help="folder for metrics.json and report.png (default: beside it)")
    p.add_argument("--samples", type=int, default=1000, help="generated images for the FID")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--ship", metavar="DIR", help="also copy checkpoint, report and MODEL_CARD.md here"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="a tiny untrained model on synthetic data"
    )
    p.add_argument("--no-progress", action="store_true")
    return p


def default_checkpoint(name: str, home: Path) -> Path:
    """Return the newest small run's model.pt, else the shipped checkpoint."""
    run = home / "runs" / f"{name}-small" / "model.pt"
    if run.is_file():
        return run
    shipped = {"gan": "gan-emoji", "vae": "vae-emoji"}[name]
    return Path(__file__).resolve().parent.parent / "data" / "models" / shipped / "model.pt"


def load_encoder(data: TrainingData, train_mask, home: Path, progress: bool):
    """Return the eval encoder for this dataset, trained once and cached under GENBOT_HOME."""
    path = home / "models" / f"eval-encoder-{data.name}-{data.digest}.pt"
    model = eval_encoder.ImageEncoder(data.embeddings.shape[1])
    if path.is_file():
        model.load_state_dict(checkpoints.load(path, family="eval-encoder")["state_dict"])
        return model.eval()
    train = subset(data, train_mask)
    epochs = 40 if data.name == "synthetic" else 12
    model = eval_encoder.train(train.images, train.embeddings, epochs=epochs, progress=progress)
    checkpoints.save(
        path,
        family="eval-encoder",
        config=eval_encoder.Config(),
        state_dict=model.state_dict(),
        step=0,
        meta={"dataset_hash": data.digest},
    )
    return model


def _distinct(data: TrainingData, limit: int, seed: int) -> list[int]:
    seen, order = (
        {},
        torch.randperm(len(data.captions), generator=torch.Generator().manual_seed(seed)),
    )
    for k in order.tolist():
        seen.setdefault(data.captions[k], k)
    return sorted(seen.values())[:limit]


def _recall(ranks: torch.Tensor) -> dict[str, float]:
    return {
        "r_at_1": float((ranks <= 1).float().mean()),
        "r_at_10": float((ranks <= 10).float().mean()),
        "median_rank": float(ranks.float().median()),
        "pool": len(ranks),
    }


def evaluate_gan(module, model, data, held, encoder, samples: int, seed: int) -> dict[str, Any]:
    """Return the GAN's metrics."""
    rng = lambda: torch.Generator().manual_seed(seed)  # noqa: E731
    out: dict[str, Any] = {}
    for split, mask in (("held_out", held), ("train", ~held)):
        part = subset(data, mask)
        pick = _distinct(part, RETRIEVAL_POOL, seed)
        captions = part.embeddings[pick]
        generated = module.generate(model, captions, 1, rng()) * 2 - 1
        _, gen_emb = eval_encoder.encode(encoder, generated)
        _, real_emb = eval_encoder.encode(encoder, part.images[pick])
        out[f"fidelity_{split}"] = _recall(eval_encoder.retrieval_ranks(gen_emb, captions))
        out[f"real_images_{split}"] = _recall(eval_encoder.retrieval_ranks(real_emb, captions))
    pool = out["fidelity_held_out"]["pool"]
    out["random_baseline"] = {"r_at_1": 1 / pool, "r_at_10": min(1.0, 10 / pool)}
    out["r_at_10_vs_baseline"] = (
        out["fidelity_held_out"]["r_at_10"] / out["random_baseline"]["r_at_10"]
    )
    real_features, _ = eval_encoder.encode(encoder, data.images)
    n = min(samples, len(data.images))
    idx = torch.randperm(len(data.images), generator=rng())[:n]
    fake = module.generate(model, data.embeddings[idx], 1, rng()) * 2 - 1
    fake_features, fake_emb = eval_encoder.encode(encoder, fake)
    half = torch.randperm(len(real_features), generator=rng())
    a, b = half[: len(half) // 2], half[len(half) // 2 :]
    out["frechet_distance"] = eval_encoder.frechet_distance(real_features, fake_features)
    out["frechet_real_vs_real"] = eval_encoder.frechet_distance(real_features[a], real_features[b])
    prompts = data.embeddings[idx[:20]]
    per_prompt = module.generate(model, prompts, 8, rng()) * 2 - 1
    _, emb = eval_encoder.encode(encoder, per_prompt)
    emb = emb.view(len(prompts), 8, -1)
    within = 1 - (emb @ emb.transpose(1, 2)).sum((1, 2)).sub(8).div(56).mean()
    between = 1 - (fake_emb @ fake_emb.T).mean()
    out["diversity_within_prompt"] = float(within)
    out["diversity_between_prompts"] = float(between)
    return out


def evaluate_vae(module, model, data, held) -> dict[str, Any]:
    """Return the VAE's metrics (nats per image; MSE per pixel on [0, 1])."""
    out: dict[str, Any] = {}
    with torch.inference_mode():
        for split, mask in (("held_out", held), ("train", ~held)):
            pixels = (subset(data, mask).images + 1) / 2
            elbo, recon, kl = module.negative_elbo(model, pixels)
            mse = F.mse_loss(model.decode(model.encode(pixels)[0]), pixels, reduction="none").mean(
                (1, 2, 3)
            )
            out[split] = {
                "negative_elbo": float(elbo.mean()),
                "reconstruction_nats": float(recon.mean()),
                "kl_nats": float(kl.mean()),
                "mse": float(mse.mean()),
                "count": len(pixels),
            }
        held_pixels = (subset(data, held).images + 1) / 2
        size = held_pixels.shape[-1]
        noise = torch.rand(64, 3, size, size, generator=torch.Generator().manual_seed(0))
        stripes = (torch.arange(size).view(1, 1, 1, size) % 8 < 4).float().expand(64, 3, size, size)
        out["ood_score"] = {
            "held_out_emoji": _mean(module.out_of_distribution(model, held_pixels)),
            "uniform_noise": _mean(module.out_of_distribution(model, noise)),
            "stripes": _mean(module.out_of_distribution(model, stripes.contiguous())),
        }
    return out


def _mean(values: list[float]) -> float:
    return float(sum(values) / max(1, len(values)))


def _tiny_checkpoint(module, path: Path) -> Path:
    torch.manual_seed(0)
    config = module.PRESETS["tiny"]
    model = module.build(config)
    if module.FAMILY == "vae":
        module.calibrate(model, torch.rand(16, 3, config.image_size, config.image_size) * 2 - 1)
    state = module.export_state(model)
    return checkpoints.save(path, family=module.FAMILY, config=config, state_dict=state, step=0)


def main(argv: list[str] | None = None, home: Path = Path("var")) -> int:
    """Evaluate a checkpoint; write metrics.json and report.png; print the metrics."""
    if argv and argv[0] == "text":
        from generators import eval_text

        return eval_text.main(argv[1:], home)
    if argv and argv[0] == "music":
        from generators import eval_music

        return eval_music.main(argv[1:], home)
    if argv and argv[0] == "memorisation":
        from generators import eval_memorisation

        return eval_memorisation.main(argv[1:], home)
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    module = family(args.family)
    path = Path(args.checkpoint) if args.checkpoint else default_checkpoint(args.family, home)
    if args.dry_run:
        args.data, args.samples = "synthetic", 64
        path = _tiny_checkpoint(module, home / "runs" / f"{args.family}-eval-dry-run" / "model.pt")
    blob = checkpoints.load(path, family=args.family)
    config = checkpoints.config_from(blob, module.Config)
    model = module.from_export(config, blob["state_dict"])
    data, held = load_all(args.data, config.image_size, home)
    encoder = load_encoder(data, ~held, home, progress=not args.no_progress)
    if args.family == "gan":
        metrics = evaluate_gan(module, model, data, held, encoder, args.samples, args.seed)
    else:
        metrics = evaluate_vae(module, model, data, held)
    metrics.update(
        {
            "checkpoint": str(path),
            "step": blob["step"],
            "data": args.data,
            "dataset_hash": data.digest,
            "eval_seconds": round(time.monotonic() - started, 1),
        }
    )
    out = Path(args.out) if args.out else path.parent / "eval"
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    from generators.eval_report import report

    report(args.family, module, model, data, held, metrics, out / "report.png")
    print(json.dumps(metrics, indent=2))
    print(f"wrote {out / 'metrics.json'} and {out / 'report.png'}")
    if args.ship:
        from generators.model_card import ship

        print(f"shipped: {ship(args.family, blob, metrics, path, out, Path(args.ship))}")
    return 0
