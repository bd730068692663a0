"""`genbot train <family> --finetune-from CKPT --data EXPORT`: the community fine-tuning loop.

    genbot train text --finetune-from data/models/text-small --data EXPORT [--dp --dp-epsilon 8]
    genbot train vae --finetune-from data/models/vae-emoji/model.pt --data EXPORT
    genbot train gan --finetune-from data/models/gan-emoji/train-state.pt --data EXPORT
    genbot train gan --finetune-from tiny --data synthetic --dry-run     # seconds

Text: LoRA adapters (peft), merged into a Hugging Face folder. GAN/VAE: continued training at a
small learning rate. `--dp`: DP-SGD through Opacus with ε reported at δ. Items rated below zero
are left out; about a fifth (by id hash) is held out. At the end: MODEL_CARD.md and FINETUNE.json
beside the model, the memorisation guard's index of the training records, and the before/after
report (REPORT.md, report.json, report.png) under GENBOT_HOME/reports/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from data.community import DATASHEET_FILE, CommunityItem, read_items

log = logging.getLogger(__name__)
FAMILIES = ("text", "gan", "vae")
HELD_OUT_SHARE = 5  # one item in five, by the hash of its id


def wants_finetune(argv: list[str]) -> bool:
    """Return True when `genbot train` arguments ask for a fine-tune."""
    return any(a == "--finetune-from" or a.startswith("--finetune-from=") for a in argv)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `genbot train <family> --finetune-from ...`."""
    p = argparse.ArgumentParser(prog="genbot train", description=__doc__.split("\n\n")[0])
    p.add_argument("family", choices=FAMILIES)
    p.add_argument(
        "--finetune-from",
        required=True,
        metavar="CHECKPOINT",
        help="text: a Hugging Face folder; vae: model.pt; gan: train-state.pt; "
        "tiny: an untrained tiny model built here",
    )
    p.add_argument(
        "--data",
        metavar="EXPORT",
        help="community export (community.jsonl or its folder); synthetic: made here",
    )
    p.add_argument("--out", help="output folder (default GENBOT_HOME/runs/<family>-finetune)")
    p.add_argument("--report", help="report folder (default GENBOT_HOME/reports/finetune-…)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, help="text: 5e-4 (LoRA); vae: a fifth of the preset's")
    p.add_argument("--lr-scale", type=float, default=0.25, help="gan: times the preset's rates")
    p.add_argument("--lora-rank", type=int, default=8)
    p.add_argument("--dp", action="store_true", help="differentially private (DP-SGD, Opacus)")
    p.add_argument("--dp-epsilon", type=float, default=8.0, help="target ε for the whole run")
    p.add_argument("--dp-noise-multiplier", type=float, help="fixed noise instead of a target ε")
    p.add_argument("--dp-delta", type=float, default=1e-5)
    p.add_argument("--dp-max-grad-norm", type=float, default=1.0, help="per-record clipping")
    p.add_argument("--eval-data", help="text: fortunes|synthetic; images: the base model's data")
    p.add_argument("--eval-samples", type=int, default=256, help="gan: images for the Fréchet")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-report", action="store_true", help="skip the before/after report")
    p.add_argument(
        "--audit-samples",
        type=int,
        default=3,
        help="bias audit in the report: generations per prompt, both models (0: none)",
    )
    p.add_argument("--dry-run", action="store_true", help="tiny base, synthetic export, 2 steps")
    return p


def is_held_out(item: CommunityItem) -> bool:
    """Return True for the items kept out of training for the report (stable per id)."""
    digest = hashlib.sha256(item.id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % HELD_OUT_SHARE == 0


def split(items: list[CommunityItem]) -> tuple[list, list, int]:
    """Return (training items, held-out items, how many were rated below zero and left out).

    Down-voted items are dropped rather than weighted: moderators approved every item, so the
    rating only says what the community liked; weighting by votes would repeat the popular
    items (more memorisation) and let a few records dominate the gradient."""
    kept = [i for i in items if i.rating >= 0]
    held = [i for i in kept if is_held_out(i)]
    train = [i for i in kept if not is_held_out(i)]
    if not held and len(train) > 4:
        held, train = train[-1:], train[:-1]
    return train, held, len(items) - len(kept)


def load_export(source: str, family: str) -> tuple[list[CommunityItem], str, str | None]:
    """Return (the family's items, a digest of them, the datasheet's path or None)."""
    if source == "synthetic":
        from data.synthetic import community_items

        items, datasheet = community_items(family), None
    else:
        path = Path(source)
        items = read_items(path, family=family)
        sheet = (path if path.is_dir() else path.parent) / DATASHEET_FILE
        datasheet = str(sheet) if sheet.is_file() else None
    h = hashlib.sha256()
    for item in items:
        h.update(json.dumps(item.to_json(), sort_keys=True).encode("utf-8"))
    return items, h.hexdigest()[:16], datasheet


def privacy_settings(args: argparse.Namespace) -> Any:
    """Return the PrivacySettings of `--dp`, or None."""
    if not args.dp:
        return None
    from generators.privacy import PrivacySettings

    return PrivacySettings(
        epsilon=None if args.dp_noise_multiplier is not None else args.dp_epsilon,
        delta=args.dp_delta,
        max_grad_norm=args.dp_max_grad_norm,
        noise_multiplier=args.dp_noise_multiplier,
    )


def family_module(name: str):
    """Return the fine-tuning module of a family."""
    from generators import finetune_images, finetune_text

    return finetune_text if name == "text" else finetune_images


def main(argv: list[str] | None = None, home: Path = Path("var"), service: Any = None) -> int:
    """Fine-tune, write the card, the private index and the report; return the exit status.
    `service` (the service's settings) chooses the scorers of the report's bias audit."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.data is None and not args.dry_run:
        parser.error("the following arguments are required: --data")
    if args.dry_run:
        args.finetune_from, args.data, args.epochs, args.eval_samples = "tiny", "synthetic", 1, 32
    args.max_steps = 2 if args.dry_run else None
    if args.eval_data is None and args.family == "text":
        args.eval_data = "synthetic" if args.finetune_from == "tiny" else "fortunes"
    try:
        return run(args, home, service)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"genbot train: {exc}") from None


def run(args: argparse.Namespace, home: Path, service: Any = None) -> int:
    """Run one fine-tune as parsed; return 0."""
    import torch

    torch.manual_seed(args.seed)
    items, digest, datasheet = load_export(args.data, args.family)
    train, held, dropped = split(items)
    if len(train) < 2:
        raise ValueError(f"{args.data}: {len(train)} usable {args.family} items; need two or more")
    settings = privacy_settings(args)
    if settings is not None:
        settings.check(len(train))
    out = Path(args.out) if args.out else home / "runs" / f"{args.family}-finetune"
    started = time.monotonic()
    module = family_module(args.family)
    history, summary, details = module.finetune(args, train, settings, out, home)
    data = {"export": str(args.data), "digest": digest, "datasheet": datasheet}
    data.update(records=len(items), train=len(train), held_out=len(held))
    data["dropped_rated_down"] = dropped
    training = {**details, "steps": len(history), "epochs": args.epochs}
    training.update(seed=args.seed, minutes=round((time.monotonic() - started) / 60, 2))
    training["final_loss"] = history[-1] if history else None
    folder = None
    if not args.no_report:
        folder = Path(args.report) if args.report else default_folder(home, args.family)
    facts = {"family": args.family, "data": data, "training": training, "privacy": summary}
    facts["report"] = str(folder / "REPORT.md") if folder else None
    (out / "FINETUNE.json").write_text(json.dumps(facts, indent=2), encoding="utf-8")
    write_card(out, facts)
    from data import install_secret
    from moderation.memorisation import write_private_index

    write_private_index(train, out, secret=install_secret.load(home))
    print(f"fine-tuned {args.family}: {len(history)} steps on {len(train)} records -> {out}")
    if summary:
        print(f"privacy: ε = {summary['epsilon']:.2f} at δ = {summary['delta']:g}")
    if folder is not None:
        print(f"report: {report(args, facts, out, train, held, home, folder, service)}")
    return 0


def default_folder(home: Path, family: str) -> Path:
    """Return the default report folder of a fine-tune finishing now."""
    from generators import finetune_report

    return finetune_report.default_folder(home, family)


def report(args, facts, out: Path, train: list, held: list, home: Path, folder: Path, service):
    """Measure base and fine-tuned model alike — `genbot eval`'s metrics and the bias audits —
    write the before/after report into `folder`; return the path of its REPORT.md."""
    from generators import finetune_bias, finetune_report

    before, after = family_module(args.family).compare(args, out, train, held, home)
    result = finetune_report.FinetuneReport(
        family=args.family,
        base=str(args.finetune_from),
        finetuned=str(out),
        data=facts["data"],
        training=facts["training"],
        privacy=facts["privacy"],
        before=before,
        after=after,
    )
    finetune_report.add_section(
        result, *finetune_bias.section(args, args.finetune_from, out, home, service)
    )
    return finetune_report.write_report(result, folder)


def write_card(out: Path, facts: dict) -> Path:
    """Write MODEL_CARD.md for the fine-tuned model: base, data, method, privacy."""
    from generators.finetune_report import privacy_line

    d, t = facts["data"], facts["training"]
    card = f"""# {out.name}: a community fine-tune ({facts["family"]})

- **Base model**: `{t["base"]}`; its own card states its data and licence, which still apply.
- **Method**: {t["method"]}; {t["steps"]} steps, {t["epochs"]} epochs, seed {t["seed"]},
  {t["minutes"]} min.
- **Data**: {d["train"]} approved, consented community results (the export `{d["export"]}`,
  hash `{d["digest"]}`, {d["records"]} records of this family: {d["held_out"]} held out for
  evaluation, {d["dropped_rated_down"]} rated below zero left out). Datasheet:
  {d["datasheet"] or "none beside the export"}.
- **Privacy**: {privacy_line(facts["privacy"])}.
- **Memorisation guard**: a hashed index of the training records lies beside this card
  (`moderation.memorisation.write_private_index`), for checking outputs against them.
- **Before/after evaluation**: {facts["report"] or "not made (--no-report)"}.
"""
    path = out / "MODEL_CARD.md"
    path.write_text(card, encoding="utf-8")
    return path
