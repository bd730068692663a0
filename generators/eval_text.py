"""`genbot eval text`: held-out perplexity of our own small GPT against a unigram baseline,
how often it repeats a training quote verbatim, samples, and `--ship DIR` as a Hugging Face
folder with its model card (the service then serves it with `--checkpoint text=DIR`)."""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

from data import checkpoints

CARD = """# text-small — genbot's own small GPT

A GPT-2-style causal language model (transformers `GPT2LMHeadModel`, {weights:,} weights,
{n_layer} layers, {n_embd} wide, context {n_positions} tokens) with a byte-level BPE tokenizer
of {vocab} tokens (trained by `tokenizers` on the same corpus). It exists to show genbot's
training process end to end (data → tokenizer → training → evaluation → shipped folder) on a
CPU; the packaged default for `/write` stays SmolLM2-135M-Instruct.

- **Data**: {size:,} training quotes of Debian's `fortunes` and `fortunes-min` packages, safe
  files only (`genbot data build text`: offensive, ethnic, politics and similar files are left
  out, and quotes genbot's own rules catch are dropped); dataset hash `{digest}`; 5% of quotes
  (by hash) held out. The quotes are of mixed provenance; Debian distributes them under the
  BSD-style licence of fortune-mod (`GENBOT_HOME/datasets/fortunes-LICENSE.txt` lists files).
- **Licence of this checkpoint**: BSD-style, as the fortune-mod distribution it learned from.
- **Made by**: `genbot train text --preset small` (seed {seed}, {step:,} steps, {epochs} epochs,
  {minutes:.0f} min on {device}), then `genbot eval text --ship data/models/text-small`.

## Evaluation (`genbot eval text`)

| metric | value |
|---|---|
| held-out perplexity (per BPE token) | {ppl_valid:.1f} |
| unigram baseline perplexity (token frequencies of the training quotes) | {ppl_unigram:.1f} |
| training-quote perplexity (a gap to held-out shows memorisation) | {ppl_train:.1f} |
| samples that repeat a training quote verbatim | see Memorisation (1,000 samples) |

## Samples (temperature 0.9, seed 1234)

```
{samples}
```

## Limits

- Small and trained briefly on a CPU: sentences are locally fluent and globally aimless.
- English only; it knows quips and proverbs, not facts. Not instruction-tuned.
- Outputs are screened by genbot's moderation like any other model's.
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `genbot eval text`."""
    p = argparse.ArgumentParser(prog="genbot eval text")
    p.add_argument("--checkpoint", help="default GENBOT_HOME/runs/text-small/model.pt")
    p.add_argument("--data", default="fortunes", choices=["fortunes", "synthetic"])
    p.add_argument("--out", help="folder for metrics.json (default: eval/ beside the checkpoint)")
    p.add_argument("--samples", type=int, default=100, help="samples for the verbatim check")
    p.add_argument("--ship", help="also write a Hugging Face folder with MODEL_CARD.md here")
    p.add_argument("--dry-run", action="store_true", help="a tiny untrained model, synthetic data")
    return p


def unigram_perplexity(train: list[list[int]], valid: list[list[int]], vocab: int) -> float:
    """Return the held-out perplexity of add-one token frequencies (the no-context baseline)."""
    counts = Counter(t for row in train for t in row)
    total = sum(counts.values()) + vocab
    nll = [-math.log((counts[t] + 1) / total) for row in valid for t in row]
    return math.exp(sum(nll) / max(1, len(nll)))


def verbatim_repeats(samples: list[str], train: list[str], width: int = 40) -> int:
    """Return how many samples contain a `width`-character span of some training quote."""
    spans = {q[k : k + width] for q in train for k in range(0, max(1, len(q) - width + 1), 8)}
    spans = {s for s in spans if len(s) == width}
    return sum(any(s[k : k + width] in spans for k in range(len(s) - width + 1)) for s in samples)


def evaluate(model: Any, course: Any, samples: int) -> dict[str, Any]:
    """Return the text family's metrics for `model` on the course's data."""
    import torch

    from generators.models import text_gpt

    chunk = lambda rows: [rows[k : k + 32] for k in range(0, len(rows), 32)]  # noqa: E731
    valid = text_gpt.perplexity(model, [course.batch(c) for c in chunk(course.valid)], pad=1)
    train_part = course.train[:: max(1, len(course.train) // 600)]
    train = text_gpt.perplexity(model, [course.batch(c) for c in chunk(train_part)], pad=1)
    encode = lambda texts: [course.tokenizer.encode(t).ids + [0] for t in texts]  # noqa: E731
    vocab = course.tokenizer.get_vocab_size()
    unigram = unigram_perplexity(encode(course.train), encode(course.valid), vocab)
    rng = torch.Generator().manual_seed(0)
    texts = [text_gpt.preview(model, course.tokenizer, rng, 48) for _ in range(samples // 4)]
    drawn = [t for block in texts for t in block.split("\n---\n")]
    shown = text_gpt.preview(model, course.tokenizer, torch.Generator().manual_seed(1234))
    return {
        "perplexity_valid": round(valid, 2),
        "perplexity_train_sample": round(train, 2),
        "perplexity_unigram_baseline": round(unigram, 2),
        "verbatim_repeats": verbatim_repeats(drawn, course.train),
        "samples_checked": len(drawn),
        "samples": shown.split("\n---\n"),
        "valid_quotes": len(course.valid),
    }


def main(argv: list[str] | None = None, home: Path = Path("var")) -> int:
    """Evaluate a text checkpoint; write metrics.json (and ship it); print the metrics."""
    from generators.models import text_gpt

    args = build_parser().parse_args(argv)
    started = time.monotonic()
    path = Path(args.checkpoint or home / "runs" / "text-small" / "model.pt")
    if args.dry_run:
        args.data, args.samples = "synthetic", 8
        path = _tiny_checkpoint(home)
    blob = checkpoints.load(path, family="text")
    config = checkpoints.config_from(blob, text_gpt.Config)
    course = text_gpt.TextCourse(args.data, config, home)
    course.adapt(config)
    model = text_gpt.from_export(config, blob["state_dict"])
    metrics = evaluate(model, course, args.samples)
    metrics.update(
        checkpoint=str(path),
        step=blob["step"],
        data=args.data,
        dataset_hash=course.digest,
        eval_seconds=round(time.monotonic() - started, 1),
    )
    out = Path(args.out) if args.out else path.parent / "eval"
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    print(json.dumps({k: v for k, v in metrics.items() if k != "samples"}, indent=2))
    if args.ship:
        print(f"shipped: {ship(model, course, blob, metrics, Path(args.ship))}")
    return 0


def _tiny_checkpoint(home: Path) -> Path:
    from generators.models import text_gpt

    config = text_gpt.PRESETS["tiny"]
    course = text_gpt.TextCourse("synthetic", config, home)
    config = course.adapt(config)
    model = text_gpt.build(config)
    path = home / "runs" / "text-eval-dry-run" / "model.pt"
    state = text_gpt.export_state(model)
    return checkpoints.save(path, family="text", config=config, state_dict=state, step=0)


def ship(model: Any, course: Any, blob: dict, metrics: dict, folder: Path) -> Path:
    """Write the Hugging Face folder, metrics and MODEL_CARD.md into `folder`; return it."""
    from generators.models import text_gpt

    text_gpt.export_folder(model, course.tokenizer, folder)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    meta, config = blob.get("meta", {}), model.genbot_config
    card = CARD.format(
        weights=sum(p.numel() for p in model.parameters()),
        n_layer=config.n_layer,
        n_embd=config.n_embd,
        n_positions=config.n_positions,
        vocab=config.vocab_size,
        size=course.size,
        digest=course.digest,
        seed=meta.get("seed", 0),
        step=blob["step"],
        epochs=meta.get("epoch", 0),
        minutes=meta.get("wall_s", 0) / 60,
        device=meta.get("device", "cpu"),
        ppl_valid=metrics["perplexity_valid"],
        ppl_unigram=metrics["perplexity_unigram_baseline"],
        ppl_train=metrics["perplexity_train_sample"],
        verbatim=metrics["verbatim_repeats"],
        sampled=metrics["samples_checked"],
        samples="\n---\n".join(metrics["samples"]),
    )
    (folder / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    return folder
