"""Fine-tuning the GAN or the VAE on approved community images, privately or not.

Both continue from a checkpoint at a small learning rate for a few epochs; community images of
any size are resized to the model's, and captions go through the encoder the base model was
trained with (MiniLM for emoji models, hashed vectors for synthetic ones).

VAE: every BatchNorm is folded into its convolution (statistics frozen: a few dozen images would
otherwise drag them, and Opacus refuses BatchNorm), so private and non-private runs train the
same function. GAN: the generator starts from the served EMA weights and the EMA restarts its
warm-up. Privately, only the discriminator sees community records (DP-SGD, spectral norm
frozen during the run); the generator learns through the discriminator from captions of the
public base dataset, so it inherits the discriminator's guarantee as post-processing.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from data import checkpoints
from data.community import CommunityItem
from generators import privacy, private_layers
from generators.registry import family

log = logging.getLogger(__name__)


def to_pixels(items: list[CommunityItem], size: int) -> torch.Tensor:
    """Return the items' images as (N, 3, size, size) in [-1, 1]: box-filtered when shrunk,
    bilinear when enlarged, as the training data is."""
    from PIL import Image

    tiles = []
    for item in items:
        image = Image.open(io.BytesIO(item.image_png)).convert("RGB")
        shrink = image.width > size or image.height > size
        method = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
        tiles.append(np.asarray(image.resize((size, size), method), dtype=np.uint8))
    x = torch.from_numpy(np.stack(tiles)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def caption_encoder(base_data: str):
    """Return the text encoder the base model's captions went through."""
    from generators import text_encoder

    if base_data == "synthetic":
        return text_encoder.hashed_embeddings
    return text_encoder.shared_encoder().encode


def load_base(name: str, source: str, home: Path) -> tuple[Any, Any, dict]:
    """Return (config, full model, checkpoint) to fine-tune: `tiny` builds an untrained tiny
    model on synthetic data (dry runs, tests); a GAN needs a training checkpoint
    (train-state.pt or last.pt), since model.pt holds only the generator."""
    module = family(name)
    if source == "tiny":
        return tiny_base(module, home)
    blob = checkpoints.load(Path(source), family=name)
    config = checkpoints.config_from(blob, module.Config)
    state = {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    if name == "gan" and not any(k.startswith("discriminator.") for k in state):
        raise ValueError(
            f"{source} holds only the generator; fine-tune a GAN from its train-state.pt "
            "(e.g. data/models/gan-emoji/train-state.pt), which keeps the discriminator"
        )
    model = module.build(config)
    model.load_state_dict(state)
    return config, model, blob


def tiny_base(module, home: Path) -> tuple[Any, Any, dict]:
    """Return an untrained tiny model of the family (VAE calibrated on synthetic shapes)."""
    from generators.train import load_data

    torch.manual_seed(0)
    config = module.PRESETS["tiny"]
    model = module.build(config)
    if module.FAMILY == "vae":
        module.calibrate(model, load_data("synthetic", config.image_size, home).images)
    blob = {"step": 0, "meta": {"data": "synthetic", "preset": "tiny"}, "source": "tiny"}
    return config, model, blob


def _loader(images: torch.Tensor, embeddings: torch.Tensor, batch: int):
    from torch.utils.data import DataLoader, TensorDataset

    dataset = TensorDataset(images, embeddings)
    return DataLoader(dataset, batch_size=min(batch, len(dataset)), shuffle=True)


def train(name: str, model: Any, images, embeddings, public, args, settings) -> tuple:
    """Fine-tune `model` in place; return (loss history, privacy summary or None)."""
    loader = _loader(images, embeddings, args.batch_size)
    if name == "vae":
        return _train_vae(model, loader, args, settings)
    return _train_gan(model, loader, public, args, settings)


def learning_rates(args: Any, config: Any) -> float | str:
    """Return the fine-tune's learning rate: the VAE's, or the GAN's two as text."""
    if args.family == "vae":
        return args.lr or config.lr / 5
    return (
        f"generator {config.lr_g * args.lr_scale:g}, discriminator {config.lr_d * args.lr_scale:g}"
    )


def _epochs(loader, args):
    step = 0
    for epoch in range(args.epochs):
        for batch in loader:
            step += 1
            yield epoch, step, batch
            if args.max_steps and step >= args.max_steps:
                return


def _train_vae(model, loader, args, settings) -> tuple[list, dict | None]:
    folded = private_layers.fold_batchnorm(model)
    params = list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=learning_rates(args, model.config))
    run = None
    model.train()  # Opacus records activations in training mode only
    if settings is not None:
        run = privacy.make_private(model, optimizer, loader, settings, args.epochs, args.seed)
        optimizer, loader = run.optimizer, run.loader
    history = []
    for epoch, step, (images, _) in _epochs(loader, args):
        if len(images) == 0:
            privacy.noise_only_step(run, params)
            continue
        pixels = (images + 1.0) / 2.0
        noise = torch.randn(len(pixels), model.config.latent_dim)
        losses = negative_elbo(model, pixels, noise)
        loss = losses.sum() / len(losses)  # the "mean" reduction Opacus expects
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append({"step": step, "epoch": epoch, "loss": float(loss.detach())})
    summary = run.summary() if run is not None else None
    if run is not None:
        run.close()
    private_layers.unfold_batchnorm(folded)
    return history, summary


def negative_elbo(model, pixels, noise) -> torch.Tensor:
    """Return the VAE's per-image negative ELBO (nats) with the reparameterisation `noise`."""
    from generators.models import vae

    return vae.negative_elbo(model, pixels, model.config.beta, noise)[0]


def _train_gan(model, loader, public, args, settings) -> tuple[list, dict | None]:
    from generators.models import gan

    # Start from the served (EMA) generator, and let the EMA follow the fine-tune from step 1.
    model.generator.load_state_dict(model.ema.state_dict())
    model.ema_updates.zero_()
    opt = gan.optimizers(model)
    scale = args.lr_scale
    for optimizer in opt.values():
        for group in optimizer.param_groups:
            group["lr"] *= scale
    if settings is None:
        history = [
            {"step": step, "epoch": epoch, **gan.train_step(model, opt, images, emb)}
            for epoch, step, (images, emb) in _epochs(loader, args)
        ]
        return history, None
    frozen = private_layers.freeze_spectral_norm(model.discriminator)
    opt["d"] = torch.optim.Adam(
        model.discriminator.parameters(), lr=model.config.lr_d * scale, betas=model.config.betas
    )
    model.discriminator.train()
    run = privacy.make_private(
        model.discriminator, opt["d"], loader, settings, args.epochs, args.seed
    )
    history = []
    for epoch, step, (images, emb) in _epochs(run.loader, args):
        losses = private_gan_step(model, run, opt["g"], images, emb, public, args.batch_size)
        history.append({"step": step, "epoch": epoch, **losses})
    summary = run.summary()
    run.close()
    private_layers.restore_spectral_norm(frozen)
    return history, summary


def private_gan_step(model, run, opt_g, images, emb, public, batch: int) -> dict[str, float]:
    """One DP-SGD discriminator step on a Poisson batch of community records, then one
    generator step that sees only public captions; return the losses."""
    c, d = model.config, model.discriminator
    if len(images) == 0:
        privacy.noise_only_step(run, list(d.parameters()))
        loss_d = torch.zeros(())
    else:
        with torch.no_grad():
            # Eval mode: BatchNorm's running statistics, so fake i depends on caption i only.
            model.generator.eval()
            fake = model.generator(torch.randn(len(images), c.noise_dim), emb)
            model.generator.train()
        wrong = public[torch.randint(len(public), (len(images),))]  # public captions only
        per_record = (
            F.relu(1.0 - d(images, emb))
            + (1 - c.mismatch_weight) * F.relu(1.0 + d(fake, emb))
            + c.mismatch_weight * F.relu(1.0 + d(images, wrong))
        )
        loss_d = per_record.sum() / len(per_record)
        run.optimizer.zero_grad(set_to_none=True)
        loss_d.backward()
        run.optimizer.step()
    run.module.disable_hooks()
    d.requires_grad_(False)
    captions = public[torch.randint(len(public), (batch,))]
    loss_g = -d(model.generator(torch.randn(len(captions), c.noise_dim), captions), captions)
    opt_g.zero_grad(set_to_none=True)
    loss_g.mean().backward()
    opt_g.step()
    d.requires_grad_(True)
    run.module.enable_hooks()
    model.update_ema()
    return {"loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach().mean())}


def finetune(args: Any, items: list[CommunityItem], settings: Any, out: Path, home: Path):
    """Fine-tune the base checkpoint on `items`; write model.pt (and, for the GAN, the
    train-state.pt a later fine-tune starts from) into `out`; return (history, privacy
    summary, details for the card)."""
    config, model, blob = load_base(args.family, args.finetune_from, home)
    base_data = blob["meta"].get("data", "emoji")
    encode = caption_encoder(base_data)
    images = to_pixels(items, config.image_size)
    embeddings = torch.from_numpy(np.asarray(encode([i.prompt for i in items]), dtype=np.float32))
    public = public_data(base_data, config.image_size, home)
    history, summary = train(
        args.family, model, images, embeddings, public.embeddings, args, settings
    )
    module = family(args.family)
    if args.family == "vae":
        # Recalibrate the out-of-distribution score on public images only.
        module.calibrate(model, public.images)
    meta = {
        "data": base_data,
        "preset": blob["meta"].get("preset"),
        "finetuned_from": str(args.finetune_from),
        "finetune_records": len(items),
        "finetune_epochs": args.epochs,
        "privacy": summary,
        "git_commit": checkpoints.git_commit(),
    }
    step = int(blob["step"]) + len(history)
    save = lambda name, state: checkpoints.save(  # noqa: E731
        out / name, family=args.family, config=config, state_dict=state, step=step, meta=meta
    )
    save("model.pt", module.export_state(model))
    if args.family == "gan":
        half = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
        save("train-state.pt", half)
    details = {"base": str(args.finetune_from), "base_data": base_data, "base_step": blob["step"]}
    details["lr"] = learning_rates(args, config)
    details["method"] = (
        "continued training (BatchNorm statistics frozen)"
        if args.family == "vae"
        else "continued training of generator and discriminator"
    )
    return history, summary, details


def public_data(base_data: str, size: int, home: Path):
    """Return the base model's public training data (captions for the private GAN's
    generator, images for the VAE's calibration)."""
    from generators.train import load_data

    return load_data(base_data, size, home)


def compare(args: Any, out: Path, train_items: list, held: list, home: Path) -> tuple[dict, dict]:
    """Return (base metrics, fine-tuned metrics): `genbot eval`'s metrics on the public base
    data, and the fit to the held-out (and training) community items."""
    from generators import evaluate
    from generators.train import load_all

    module = family(args.family)
    config, base, _ = load_base(args.family, args.finetune_from, home)
    saved = checkpoints.load(out / "model.pt", family=args.family)
    tuned = module.from_export(config, saved["state_dict"])
    data, held_mask = load_all(saved["meta"]["data"], config.image_size, home)
    encode = caption_encoder(saved["meta"]["data"])
    encoder = None
    if args.family == "gan":
        encoder = evaluate.load_encoder(data, ~held_mask, home, progress=False)
    results = []
    for model in (base.eval(), tuned):
        if args.family == "gan":
            base_data = evaluate.evaluate_gan(
                module, model, data, held_mask, encoder, args.eval_samples, args.seed
            )
        else:
            base_data = evaluate.evaluate_vae(module, model, data, held_mask)
        metrics = {"base_data": base_data}
        for name, items in (("community_held_out", held), ("community_train", train_items)):
            if args.family == "gan":
                value = gan_fidelity(module, model, encoder, items, encode)
            else:
                value = vae_fit(module, model, items, config)
            if value is not None:
                metrics[name] = value
        results.append(metrics)
    return results[0], results[1]


@torch.inference_mode()
def vae_fit(module, model, items: list, config) -> dict[str, float] | None:
    """Return the VAE's negative ELBO, reconstruction MSE and out-of-distribution score on
    community images (None for no items)."""
    if not items:
        return None
    pixels = (to_pixels(items, config.image_size) + 1.0) / 2.0
    elbo, recon, _ = module.negative_elbo(model, pixels)
    mse = F.mse_loss(model.decode(model.encode(pixels)[0]), pixels)
    ood = module.out_of_distribution(model, pixels)
    return {
        "negative_elbo": float(elbo.mean()),
        "reconstruction_nats": float(recon.mean()),
        "mse": float(mse),
        "ood_score": float(np.mean(ood)),
        "count": len(items),
    }


@torch.inference_mode()
def gan_fidelity(module, model, encoder, items: list, encode) -> dict | None:
    """Return how well generated images for community captions match them: the rank of the
    true caption among the distinct captions when retrieving with the eval encoder (R@1,
    median rank, against 1/pool by chance) and the mean cosine of image and caption."""
    from generators import eval_encoder

    captions = sorted({item.prompt for item in items})
    if len(captions) < 2:
        return None
    emb = torch.from_numpy(np.asarray(encode(captions), dtype=np.float32))
    images = module.generate(model, emb, 1, torch.Generator().manual_seed(0)) * 2 - 1
    _, image_emb = eval_encoder.encode(encoder, images)
    ranks = eval_encoder.retrieval_ranks(image_emb, emb)
    return {
        "r_at_1": float((ranks <= 1).float().mean()),
        "median_rank": float(ranks.float().median()),
        "pool": len(captions),
        "random_r_at_1": 1 / len(captions),
        "cosine": float((image_emb * emb).sum(1).mean()),
    }
