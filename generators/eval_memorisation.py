"""`genbot eval memorisation --family text|music|gan`: how often a shipped model reproduces its
training items (1,000 samples by default), written to GENBOT_HOME/reports and, with
`--ship DIR`, into DIR/MODEL_CARD.md under "Memorisation". `--calibrate` measures the image
guard's threshold instead: re-encoded copies against distinct images (the Noto emoji when built,
else synthetic shapes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path
from typing import Any

SHIPPED = Path(__file__).resolve().parent.parent / "data" / "models"
DEFAULTS = {
    "text": [SHIPPED / "text-small"],
    "music": [SHIPPED / "music-folk" / "model.pt"],
    "gan": [SHIPPED / "gan-emoji" / "model.pt"],
}
DATA = {"text": "fortunes", "music": "folk", "gan": "emoji"}
HEADING = "## Memorisation"


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `genbot eval memorisation`."""
    p = argparse.ArgumentParser(prog="genbot eval memorisation", description=__doc__.split(".")[0])
    p.add_argument("--family", choices=sorted(DEFAULTS), help="the model family to measure")
    p.add_argument("--checkpoint", help="model.pt, or a text model's folder (default: shipped)")
    p.add_argument("--data", help="training data (default: the family's public dataset)")
    p.add_argument("--samples", type=int, default=1000, help="samples to check (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="folder for the JSON (default GENBOT_HOME/reports)")
    p.add_argument("--ship", metavar="DIR", help="write the figures into DIR/MODEL_CARD.md")
    p.add_argument("--calibrate", action="store_true", help="calibrate the image threshold")
    p.add_argument("--dry-run", action="store_true", help="a tiny untrained model, synthetic data")
    return p


def default_checkpoint(family: str) -> Path:
    """Return the shipped model of `family` (the first of its candidates that exists)."""
    return next((p for p in DEFAULTS[family] if p.exists()), DEFAULTS[family][-1])


def tiny_checkpoint(family: str, home: Path) -> Path:
    """Return an untrained tiny model of `family` (for --dry-run)."""
    if family == "text":
        from generators.models import text_lm

        return text_lm.build_tiny(home / "models" / "text-tiny")
    if family == "music":
        from generators.eval_music import _tiny_checkpoint

        return _tiny_checkpoint(home)
    from generators.evaluate import _tiny_checkpoint
    from generators.models import gan

    return _tiny_checkpoint(gan, home / "runs" / "gan-memorisation-dry-run" / "model.pt")


def measure(family: str, path: Path, home: Path, samples: int, seed: int, data: str) -> dict:
    """Return the family's memorisation figures for the model at `path`."""
    import torch

    from generators import memorisation_figures as figures

    run = {"text": figures.text_figures, "music": figures.music_figures, "gan": figures.gan_figures}
    threads = torch.get_num_threads()
    # Small models, one machine shared with others: more threads only wait on each other.
    torch.set_num_threads(1)
    try:
        return run[family](path, home, samples, seed, data)
    finally:
        torch.set_num_threads(threads)


def card_section(figures: dict[str, Any]) -> str:
    """Return the model card's Memorisation section for `figures`."""
    rows = "\n".join(f"| {what} | {value} |" for what, value in figures["rows"])
    took = f"{figures['seconds']:.0f} s on {os.cpu_count()} CPU cores, seed {figures['seed']}"
    return f"""{HEADING}

How often the model hands back a training item (`{figures["command"]}`, {took}). A sample
counts when it repeats a training item by the memorisation guard's own test: {figures["test"]}.
Sampling: {figures["sampling"]}.

| samples | repeat a training item |
|---|---|
{rows}
{_examples(figures.get("examples", []))}
The training data is public, so outputs like these are not held; a model fine-tuned on the
community's (private) contributions carries a memorisation guard, and its outputs that repeat
one are held for a moderator's review.
"""


def _examples(examples: list[str]) -> str:
    if not examples:
        return ""
    quoted = [e.replace("`", "'") for e in examples]
    return "\nWhat was repeated:\n\n" + "\n".join(f"- `{e}`" for e in quoted) + "\n"


def write_card_section(card: Path, section: str) -> Path:
    """Put `section` into the model card at `card`: in place of its Memorisation section, else
    before its Limits section, else at the end; return the card's path."""
    text = card.read_text(encoding="utf-8") if card.is_file() else ""
    old = re.search(rf"^{HEADING}\n.*?(?=^## |\Z)", text, flags=re.M | re.S)
    limits = re.search(r"^## (Known limitations|Limits)", text, flags=re.M)
    if old:
        rest = text[old.end() :]
        text = text[: old.start()] + section + ("\n" + rest if rest else "")
    elif limits:
        text = text[: limits.start()] + section + "\n" + text[limits.start() :]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(text, encoding="utf-8")
    return card


def calibrate(home: Path, dry_run: bool) -> dict[str, Any]:
    """Return the image guard's calibration on the emoji (or synthetic shapes)."""
    from dataclasses import asdict

    from moderation.image_index import calibrate as run

    path = home / "datasets" / "emoji-64.npz"
    if path.is_file() and not dry_run:
        from data import emoji

        images, index = emoji.load(home, 64)
        groups, source = [e["name"] for e in index], "emoji-64"
    else:
        from data import synthetic

        images, groups = synthetic.shapes(24 if dry_run else 256, size=64, seed=0)
        source = "synthetic shapes (the emoji dataset is not built here)"
    return {"images": source, **asdict(run(images, groups))}


def main(argv: list[str] | None = None, home: Path = Path("var")) -> int:
    """Measure (or calibrate), print the figures, write them as JSON; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    started = time.monotonic()
    out = Path(args.out) if args.out else home / "reports"
    out.mkdir(parents=True, exist_ok=True)
    if args.calibrate:
        result = calibrate(home, args.dry_run)
        path = out / "memorisation-calibration.json"
    else:
        if args.family is None:
            parser.error("--family is needed (or --calibrate)")
        if args.dry_run:
            args.data, args.samples = "synthetic", min(args.samples, 16)
        checkpoint = Path(args.checkpoint) if args.checkpoint else default_checkpoint(args.family)
        if args.dry_run:
            checkpoint = tiny_checkpoint(args.family, home)
        data = args.data or DATA[args.family]
        result = measure(args.family, checkpoint, home, args.samples, args.seed, data)
        command = "genbot eval memorisation " + " ".join(argv or [])
        result.update(checkpoint=str(checkpoint), seed=args.seed, command=command.strip())
        path = out / f"memorisation-{args.family}.json"
    result["seconds"] = round(time.monotonic() - started, 1)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")
    if args.ship and not args.calibrate:
        card = write_card_section(Path(args.ship) / "MODEL_CARD.md", card_section(result))
        print(f"shipped: {card}")
    return 0
