"""`genbot train <family>`: one training loop for every image family (GAN, VAE).

    genbot train gan --preset small --epochs 60
    genbot train vae --preset tiny --dry-run          # 2 steps on synthetic data, seconds
    genbot train text --finetune-from DIR --data EXPORT   # community fine-tune (finetune.py)

Progress bar with live losses; a resumable checkpoint every N steps, at each epoch's end and on
Ctrl-C (`--resume` continues from it); a sample grid PNG per epoch for fixed prompts; loss
curves PNG and the exported inference checkpoint (`model.pt`, EMA weights in fp16) at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data import checkpoints
from generators.registry import FAMILIES, family

log = logging.getLogger(__name__)

FIXED_PROMPTS = (
    "red heart",
    "smiling face",
    "pizza",
    "rocket",
    "cat face",
    "rainbow",
    "thumbs up",
    "snowman",
    "sun",
    "christmas tree",
    "dog face",
    "birthday cake",
    "soccer ball",
    "banana",
    "star",
    "ghost",
)


@dataclass
class TrainingData:
    """Images in [-1, 1] as (N, 3, S, S), their caption embeddings, and provenance."""

    images: Any
    embeddings: Any
    captions: list[str]
    name: str
    digest: str
    encode: Any  # texts -> embeddings, the same encoder the captions went through
    # Embeddings of what a person would type for each image (the emoji's name, and its skin
    # tone): captions list every tag, and a bare "rocket" embeds far from its own caption.
    short: Any = None
    # What each image shows regardless of its skin tone (the emoji's name): six of a hand's
    # images share one, an object has its own. None where there is no such grouping.
    groups: list[str] | None = None


def balanced_weights(groups: list[str]) -> np.ndarray:
    """Return sampling weights that give every group the same total (1/len(groups) each on
    average): each of a group's k items weighs 1/k."""
    _, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    return weights / weights.sum()


def _digest(images: np.ndarray, captions: list[str]) -> str:
    h = hashlib.sha256(images.tobytes())
    h.update("\n".join(captions).encode("utf-8"))
    return h.hexdigest()[:16]


def _to_tensor(images: np.ndarray, size: int):
    import torch
    from torch.nn import functional as F

    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="area" if x.shape[-1] > size else "bilinear")
    return x


def load_all(source: str, image_size: int, home: Path) -> tuple[TrainingData, Any]:
    """Return all of a dataset (held-out items included) and the boolean held-out mask.

    `synthetic` is made in code (every fourth image held out); `emoji` is the built dataset
    with ~5% of emoji names held out (see data.emoji.is_held_out)."""
    import torch

    from generators.text_encoder import hashed_embeddings

    if source == "synthetic":
        from data.synthetic import shapes

        images, captions = shapes(64, size=image_size, seed=0)
        shorts = groups = [c.split(",")[0] for c in captions]
        held = [k % 4 == 3 for k in range(len(captions))]
        encode = hashed_embeddings
    elif source == "emoji":
        from data import emoji
        from generators.text_encoder import shared_encoder

        images, index = emoji.load(home, 32 if image_size <= 32 else 64)
        captions = [e["caption"] for e in index]
        shorts = [e["name"] + (f", {e['tone']}" if e.get("tone") else "") for e in index]
        groups = [e["name"] for e in index]
        held = [emoji.is_held_out(e["name"]) for e in index]
        encode = shared_encoder().encode
    else:
        raise ValueError(f"unknown data source {source!r}; use synthetic or emoji")
    embeddings = caption_embeddings(home, source, captions, encode)
    data = TrainingData(
        images=_to_tensor(images, image_size),
        embeddings=torch.from_numpy(embeddings),
        captions=captions,
        name=source,
        digest=_digest(images, captions),
        encode=encode,
        short=torch.from_numpy(caption_embeddings(home, source, shorts, encode)),
        groups=groups,
    )
    return data, torch.tensor(held)


def subset(data: TrainingData, mask: Any) -> TrainingData:
    """Return the items of `data` where `mask` is true."""
    keep = mask.nonzero().flatten()
    return dataclasses.replace(
        data,
        images=data.images[keep],
        embeddings=data.embeddings[keep],
        short=None if data.short is None else data.short[keep],
        groups=None if data.groups is None else [data.groups[k] for k in keep.tolist()],
        captions=[data.captions[k] for k in keep.tolist()],
    )


def load_data(source: str, image_size: int, home: Path) -> TrainingData:
    """Return the training part of a dataset (held-out names are for evaluation only)."""
    data, held = load_all(source, image_size, home)
    return subset(data, ~held)


class ImageCourse:
    """What an image family trains on: images in [-1, 1] with caption embeddings, the fixed
    prompts of the sample sheets, and the calls the trainer makes between steps."""

    def __init__(self, source: str, config: Any, home: Path) -> None:
        import torch

        self.data = load_data(source, config.image_size, home)
        self.name, self.digest, self.size = (
            self.data.name,
            self.data.digest,
            len(self.data.captions),
        )
        self.balance = getattr(config, "balance_names", False)
        prompts = list(FIXED_PROMPTS) if source == "emoji" else self.data.captions[:16]
        self.fixed = torch.from_numpy(np.asarray(self.data.encode(prompts), dtype=np.float32))

    def adapt(self, config: Any) -> Any:
        """Return the config to build the model with (unchanged for images)."""
        return config

    def order(self, n: int, rng):
        """Return an epoch's item indices: a permutation, or, when the config balances names,
        n draws with each name equally likely (a skin-toned hand is otherwise shown six times
        as often as a pizza, and people are 56% of the emoji set)."""
        import torch

        if self.balance and self.data.groups is not None:
            weights = torch.from_numpy(balanced_weights(self.data.groups))
            return torch.multinomial(weights, n, replacement=True, generator=rng)
        return torch.randperm(n, generator=rng)

    def step(self, module, model, opt, idx, device: str) -> dict[str, float]:
        """Run one training step on the items `idx` (a share of them captioned by their short
        prompt, when the family's config asks for it)."""
        import torch

        embeddings = self.data.embeddings[idx]
        share = getattr(getattr(model, "config", None), "short_prompts", 0.0)
        if share and self.data.short is not None:
            picked = torch.rand(len(idx)) < share
            embeddings = torch.where(picked[:, None], self.data.short[idx], embeddings)
        images = self.data.images[idx].to(device)
        return module.train_step(model, opt, images, embeddings.to(device), None)

    def preview(self, module, model, device: str, path: Path) -> Path:
        """Write the sample sheet of this epoch (fixed prompts, or images and reconstructions)."""
        import torch

        from generators.images import save_grid

        grid = module.preview(
            model,
            self.fixed.to(device),
            self.data.images[:16].to(device),
            torch.Generator().manual_seed(1234),
        )
        return save_grid(grid, path.with_suffix(".png"), columns=8)

    def finish(self, module, model, device: str) -> None:
        """Let the family calibrate on its training data (the VAE's OOD score)."""
        hook = getattr(module, "after_training", None)
        if hook is not None:
            hook(model, self.data.images.to(device))


def caption_embeddings(home: Path, source: str, captions: list[str], encode) -> np.ndarray:
    """Return the captions' embeddings, cached beside the dataset (keyed by the captions)."""
    if source == "synthetic":
        return encode(captions)
    key = hashlib.sha256("\n".join(captions).encode("utf-8")).hexdigest()[:16]
    cache = home / "datasets" / f"{source}-captions-minilm-{key}.npy"
    if cache.is_file():
        return np.load(cache)
    vectors = encode(captions, progress=True)
    np.save(cache, vectors)
    return vectors


def parse_sets(pairs: list[str], config: Any) -> Any:
    """Return `config` with `key=value` overrides applied (values parsed as JSON when they can)."""
    names = {f.name: f for f in dataclasses.fields(config)}
    changes = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key not in names:
            raise SystemExit(
                f"--set {pair!r}: expected key=value with key one of {', '.join(names)}"
            )
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        changes[key] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(config, **changes)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `genbot train`."""
    p = argparse.ArgumentParser(
        prog="genbot train",
        description=__doc__.split("\n\n")[0],
        epilog="fine-tuning: genbot train FAMILY --finetune-from CKPT --data EXPORT --help",
    )
    p.add_argument("family", choices=sorted(FAMILIES))
    p.add_argument("--preset", default="small")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--data", help="emoji|synthetic for images, folk|synthetic for music")
    p.add_argument("--out", help="run folder (default GENBOT_HOME/runs/<family>-<preset>)")
    p.add_argument("--resume", action="store_true", help="continue from the run's last.pt")
    p.add_argument(
        "--init",
        metavar="PATH",
        help="start from the weights of a compact training checkpoint (train-state.pt)",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=500, metavar="STEPS")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this")
    p.add_argument("--export", help="also copy the inference checkpoint into this folder")
    p.add_argument("--dry-run", action="store_true", help="2 steps on synthetic data")
    p.add_argument("--no-progress", action="store_true")
    return p


def resolve_device(name: str) -> str:
    """Return the torch device for a setting: auto picks cuda when present."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def main(argv: list[str] | None = None, home: Path = Path("var"), settings: Any = None) -> int:
    """Train a family; return the exit status (130 after Ctrl-C, with a checkpoint saved).
    `settings` (the service's) reach a fine-tune's bias audit."""
    from generators import finetune

    if finetune.wants_finetune(sys.argv[1:] if argv is None else argv):
        return finetune.main(argv, home, settings)
    args = build_parser().parse_args(argv)
    module = family(args.family)
    if args.preset not in module.PRESETS:
        raise SystemExit(f"unknown preset {args.preset!r}; choose from {', '.join(module.PRESETS)}")
    config = parse_sets(args.set, module.PRESETS[args.preset])
    if args.dry_run:
        args.data, args.epochs = "synthetic", 1
    args.data = args.data or getattr(module, "DEFAULT_DATA", "emoji")
    out = Path(args.out) if args.out else home / "runs" / f"{args.family}-{args.preset}"
    if args.dry_run and not args.out:
        out = home / "runs" / f"{args.family}-{args.preset}-dry-run"
    try:
        trainer = Trainer(module, config, args, out, home)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"genbot train: {exc}") from None
    return trainer.run()


class Trainer:
    """Holds one training run's model, optimisers, data and history."""

    def __init__(self, module, config, args, out: Path, home: Path) -> None:
        import torch

        self.module, self.config, self.args, self.out = module, config, args, out
        self.device = resolve_device(args.device)
        torch.manual_seed(args.seed)
        self.course = getattr(module, "course", ImageCourse)(args.data, config, home)
        self.config = config = self.course.adapt(config)
        self.model = module.build(config).to(self.device)
        self.opt = module.optimizers(self.model)
        self.step, self.epoch, self.history, self.wall = 0, 0, [], 0.0
        self.rng = torch.Generator().manual_seed(args.seed)
        if args.resume:
            self._resume()
        elif args.init:
            self._init_from(Path(args.init))

    def _resume(self) -> None:
        blob = checkpoints.load(self.out / "last.pt", family=self.module.FAMILY)
        self.model.load_state_dict(blob["state_dict"])
        for name, state in blob["optimizer_state"].items():
            self.opt[name].load_state_dict(state)
        self.step, meta = blob["step"], blob["meta"]
        self.epoch, self.history, self.wall = meta["epoch"], meta["history"], meta["wall_s"]
        self.rng.set_state(self._byte_tensor(meta["rng_state"]))
        log.info("resumed %s at step %d (epoch %d)", self.out, self.step, self.epoch)

    def _init_from(self, path: Path) -> None:
        # Weights only (fp16 in the file): the optimisers start afresh, the step count goes on.
        blob = checkpoints.load(path, family=self.module.FAMILY)
        state = {
            k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()
        }
        self.model.load_state_dict(state)
        self.step, self.epoch = blob["step"], blob["meta"].get("epoch", 0)
        log.info("initialised from %s (step %d)", path, self.step)

    def save_compact(self) -> Path:
        """Write train-state.pt: every weight (not the optimisers) in fp16, to carry a run on
        to another machine in a few MB."""
        state = {
            k: v.half() if v.is_floating_point() else v for k, v in self.model.state_dict().items()
        }
        meta = {k: v for k, v in self.meta().items() if k not in ("history", "rng_state")}
        return checkpoints.save(
            self.out / "train-state.pt",
            family=self.module.FAMILY,
            config=self.config,
            state_dict=state,
            step=self.step,
            meta=meta,
        )

    @staticmethod
    def _byte_tensor(values: list[int]):
        import torch

        return torch.tensor(values, dtype=torch.uint8)

    def meta(self) -> dict:
        """Return the provenance and progress recorded in every checkpoint."""
        return {
            "epoch": self.epoch,
            "history": self.history,
            "wall_s": self.wall,
            "seed": self.args.seed,
            "preset": self.args.preset,
            "data": self.course.name,
            "dataset_hash": self.course.digest,
            "dataset_size": self.course.size,
            "git_commit": checkpoints.git_commit(),
            "device": self.device,
            # What was asked, beside what was done (epoch): a run stopped by --max-minutes is
            # reproduced by the same two options, not by its epoch count.
            "epochs_requested": self.args.epochs,
            "max_minutes": self.args.max_minutes,
            "rng_state": self.rng.get_state().tolist(),
        }

    def save(self, name: str = "last.pt") -> Path:
        """Write the resumable checkpoint (model, optimisers, progress)."""
        return checkpoints.save(
            self.out / name,
            family=self.module.FAMILY,
            config=self.config,
            state_dict=self.model.state_dict(),
            step=self.step,
            meta=self.meta(),
            optimizer_state={k: o.state_dict() for k, o in self.opt.items()},
        )

    def run(self) -> int:
        """Train for the remaining epochs; return 0, or 130 when interrupted (saved)."""
        from tqdm import tqdm

        self.out.mkdir(parents=True, exist_ok=True)
        n = self.course.size
        batch = min(self.config.batch_size, n)
        steps_per_epoch = max(1, n // batch)
        limit = 2 if self.args.dry_run else None
        started = time.monotonic() - self.wall
        bar = tqdm(
            total=self.args.epochs * steps_per_epoch,
            initial=self.step,
            disable=self.args.no_progress,
            desc=f"train {self.module.FAMILY}",
        )
        try:
            while self.epoch < self.args.epochs:
                order = self._order(n)
                for k in range(steps_per_epoch):
                    idx = order[k * batch : (k + 1) * batch]
                    losses = self._train_step(idx)
                    self.step += 1
                    self.wall = time.monotonic() - started
                    self.history.append({"step": self.step, **losses})
                    bar.update(1)
                    bar.set_postfix(
                        {k: f"{v:.3f}" for k, v in losses.items() if k.startswith("loss")}
                    )
                    if self.step % self.args.checkpoint_every == 0:
                        self.save()
                    if limit is not None and self.step >= limit:
                        break
                    if self._out_of_time():
                        self.save()
                        return self.finish(stopped_early=True)
                self.epoch += 1
                self.preview()
                self.save()
                if limit is not None and self.step >= limit:
                    break
        except KeyboardInterrupt:
            self.save()
            bar.close()
            print(f"interrupted: resumable checkpoint at {self.out / 'last.pt'} (use --resume)")
            return 130
        bar.close()
        return self.finish(stopped_early=False)

    def _order(self, n: int):
        import torch

        order = getattr(self.course, "order", None)
        if order is not None:
            return order(n, self.rng)
        return torch.randperm(n, generator=self.rng)

    def _train_step(self, idx) -> dict[str, float]:
        return self.course.step(self.module, self.model, self.opt, idx, self.device)

    def _out_of_time(self) -> bool:
        return self.args.max_minutes is not None and self.wall > self.args.max_minutes * 60

    def preview(self) -> Path:
        """Write this epoch's samples (a PNG sheet, or ABC text for music)."""
        path = self.out / "samples" / f"epoch-{self.epoch:04d}"
        return self.course.preview(self.module, self.model, self.device, path)

    def finish(self, stopped_early: bool) -> int:
        """Write the loss curves and the inference checkpoint; print where they are."""
        from generators.images import plot_curves

        self.course.finish(self.module, self.model, self.device)
        plot_curves(
            self.history, self.out / "loss-curves.png", title=f"{self.module.FAMILY} training"
        )
        model_path = checkpoints.save(
            self.out / "model.pt",
            family=self.module.FAMILY,
            config=self.config,
            state_dict=self.module.export_state(self.model),
            step=self.step,
            meta={k: v for k, v in self.meta().items() if k not in ("history", "rng_state")},
        )
        self.save_compact()
        if self.args.export:
            export = Path(self.args.export)
            export.mkdir(parents=True, exist_ok=True)
            (export / "model.pt").write_bytes(model_path.read_bytes())
        state = "stopped at the time limit" if stopped_early else "finished"
        print(
            f"{state}: {self.step} steps, {self.epoch} epochs, {self.wall / 60:.1f} min; "
            f"inference checkpoint {model_path}"
        )
        if not math.isfinite(self.history[-1].get("loss_g", self.history[-1].get("loss", 0.0))):
            print("warning: the last loss is not finite")
            return 1
        return 0
