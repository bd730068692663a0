"""`genbot eval music`: held-out bits per token next to a unigram baseline, how many sampled tunes
music21 can play, whether they keep the requested key and meter, how far their pitch and interval
statistics are from the validation tunes' (next to the floor of two halves of those), how many
copy a training tune, a report PNG, samples.abc, and `--ship DIR` with its MODEL_CARD.md.

Offline and deterministic for a seed; sample headers are those of validation tunes.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from data import checkpoints
from generators.music_stats import (
    DEGREES,
    SPAN,
    full_bar_share,
    in_key_share,
    interval_histogram,
    js_distance,
    memorised,
    pitch_class_histogram,
    unigram_bits,
)

# Folk bodies last 190 characters at the median and 290 at the 90th percentile.
MAX_NEW_TOKENS = 400
KEY_FIT, METER_FIT = 0.8, 0.8
HEADER = 4  # rhythm, meter, key, unit: given by the request, never scored
SHOWN = 8  # tunes written to samples.abc
CONSTRAINED = (
    "as `/compose` samples, with the meter constraint (`generators/abc_bars.py`), which masks, "
    "character by character, every bar line that would close a bar short or long and every note "
    "length that would run past the bar's end"
)
FREE = (
    "freely (`--no-meter-constraint`; `/compose` adds the meter constraint): the model's own "
    "sense of bar lengths"
)
CARD = """# {name}: genbot's folk-tune model

A small decoder-only transformer ({weights:,} weights, {config.n_layer} layers, {config.n_embd}
wide, context {config.context}) writing an ABC tune body one character at a time, conditioned
on rhythm, meter, key and unit note length. `/compose` samples it; `music_render` plays it.

- **Data**: {train_tunes:,} training tunes (dataset hash `{dataset_hash}`) of the public-domain
  collections bundled with music21: Ryan's Mammoth Collection (1883), O'Neill's Music of Ireland
  (1850) and Aird's Airs (1782-1803), by `genbot data build music`; the Essen collection is left
  out for its non-commercial licence. One tune in ten (by a hash of the tune) is held out.
- **Licence of this checkpoint**: Apache-2.0, as genbot; the tunes are in the public domain.
- **Made by**: `genbot train music --preset {train_preset} --data {data} --epochs {train_epoch}
  --seed {train_seed}` ({step:,} steps, {minutes:.0f} min on {train_device}, commit `{commit}`),
  then `genbot eval music --ship` ({eval_seconds} s).

## Evaluation (`genbot eval music`, {samples_checked} tunes at temperature 1.0, seed {seed})

Sampled {constraint}.

| metric | model | validation tunes |
|---|---|---|
| bits per token, held-out tunes (header given) | {bits_per_token_valid} | unigram {unigram} |
| bits per token, training tunes (a gap shows memorisation) | {bits_per_token_train_sample} | |
| validity: music21 reads and renders it to MIDI (target 95%) | {validity:.0%} | |
| in key: 80% of the sounding time in the scale | {key_fit:.0%} | {reference_key_fit:.0%} |
| in meter: 80% of bars full (pickups count) | {meter_fit:.0%} | {reference_meter_fit:.0%} |
| in key and meter | {adherence:.0%} | {reference_adherence:.0%} |
| JS distance to validation tunes: pitch classes | {pitch_class_js} | {pitch_class_js_floor} |
| JS distance to validation tunes: intervals | {interval_js} | {interval_js_floor} |
| copies 16 notes or 40 chars of a training tune | {memorised} of {samples_checked} | {copied:.0%} |

Bits per token: body characters and the end; the unigram baseline counts training tokens (add
one). Shares are of the tunes music21 reads; a distance's floor is that between two halves of the
validation tunes. ![report](report.png) `samples.abc` holds the first {shown} samples.

## Limits

- Small and trained briefly; the form of a tune (strains answering each other, endings) is not
  measured. It knows the fiddle tunes of three old collections only.
- The collections hold variants of the same tunes: {memorised_reference_share:.0%} of validation
  tunes repeat a passage of a training tune, so held-out bits per token flatter the model a little.
- The character codec can write ABC music21 cannot play; the service then sends the ABC alone.
"""


@dataclass(frozen=True)
class Heard:
    """What music21 made of a tune: its sounds (repeats played out) and its bars as written."""

    sounds: tuple
    bars: tuple[tuple[float, str], ...]


@dataclass(frozen=True)
class Evaluation:
    """The metrics of a run, with the sampled tunes' ABC and what music21 made of each."""

    metrics: dict[str, Any]
    headers: list[tuple[str, str, str, str]]
    tunes: list[str]
    heard: list[Heard | None]


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `genbot eval music`."""
    p = argparse.ArgumentParser(prog="genbot eval music", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", help="default GENBOT_HOME/runs/music-small/model.pt")
    p.add_argument("--data", choices=["folk", "synthetic"], help="default: the checkpoint's")
    p.add_argument("--out", help="folder for metrics.json (default: eval/ beside the checkpoint)")
    p.add_argument("--samples", type=int, default=100, help="sampled tunes (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-new-tokens", type=int, default=MAX_NEW_TOKENS)
    p.add_argument(
        "--no-meter-constraint",
        action="store_true",
        help="sample freely, without /compose's constraint that keeps every bar full",
    )
    p.add_argument("--ship", metavar="DIR", help="also copy the checkpoint and write MODEL_CARD.md")
    p.add_argument("--dry-run", action="store_true", help="a tiny untrained model, synthetic data")
    return p


def scored(codec: Any, tune: Any, context: int) -> list[int]:
    """Return the ids scored for a tune: its body and <eos> (the header is the request), as far
    as the model's context reaches."""
    return codec.encode(tune)[1 + HEADER : context + 1]


@torch.inference_mode()
def bits_per_token(model: Any, codec: Any, tunes: list, context: int, batch: int = 16) -> float:
    """Return the model's cross-entropy in bits per scored token (see `scored`) over the tunes."""
    from generators.models import music_lm

    nats, count = 0.0, 0
    for k in range(0, len(tunes), batch):
        ids = music_lm.batch(codec, tunes[k : k + batch], context)
        targets = ids[:, 1:].clone()
        targets[:, :HEADER] = codec.pad
        logits = model(ids[:, :-1]).float()
        loss = F.cross_entropy(
            logits.flatten(0, 1), targets.flatten(), ignore_index=codec.pad, reduction="sum"
        )
        nats, count = nats + float(loss), count + int((targets != codec.pad).sum())
    return nats / max(1, count) / math.log(2)


def tune_abc(n: int, header: tuple[str, str, str, str], body: str) -> str:
    """Return a whole ABC tune (X, T, R, M, L, K lines and the body)."""
    rhythm, meter, key, unit = header
    return f"X:{n}\nT:sample {n}\nR:{rhythm}\nM:{meter}\nL:{unit}\nK:{key}\n{body}\n"


def hear(abc: str) -> Heard | None:
    """Return what music21 makes of a tune through music_render (read, then MIDI), or None when
    it cannot play it."""
    from generators import music_render

    try:
        sounding, sounds, _ = music_render.read(abc)
        music_render.midi_bytes(sounding)
        bars = music_render.bar_lengths(abc)
    except Exception:  # music21 raises many kinds on bad ABC; render() shows the ABC alone then
        return None
    return Heard(tuple(sounds), tuple(bars))


def conditioning(heard: list[Heard | None], headers: list) -> dict[str, float]:
    """Return the shares of readable tunes in their key, in their meter, and in both."""
    fits = [
        (in_key_share(h.sounds, hd[2]) >= KEY_FIT, full_bar_share(h.bars, hd[1]) >= METER_FIT)
        for h, hd in zip(heard, headers, strict=True)
        if h is not None
    ]
    n = max(1, len(fits))
    return {
        "key_fit": sum(k for k, _ in fits) / n,
        "meter_fit": sum(m for _, m in fits) / n,
        "adherence": sum(k and m for k, m in fits) / n,
    }


def histograms(heard: list[Heard | None], headers: list) -> tuple[np.ndarray, np.ndarray]:
    """Return the readable tunes' mean pitch-class and interval histograms (each tune weighs the
    same, however long)."""
    pairs = [(h, hd) for h, hd in zip(heard, headers, strict=True) if h is not None]
    pcs = [pitch_class_histogram(h.sounds, hd[2]) for h, hd in pairs]
    steps = [interval_histogram(h.sounds) for h, _ in pairs]
    return (
        np.mean(pcs, 0) if pcs else np.zeros(12),
        np.mean(steps, 0) if steps else np.zeros(2 * SPAN + 1),
    )


def _distance(p: np.ndarray, q: np.ndarray) -> float | None:
    return round(js_distance(p, q), 4) if p.sum() > 0 and q.sum() > 0 else None


def language(model: Any, codec: Any, train: list, valid: list) -> dict[str, float]:
    """Return bits per token on the validation tunes, on 400 training tunes and for the unigram
    baseline."""
    context = model.config.context
    part = train[:: max(1, len(train) // 400)]
    ids = [[scored(codec, t, context) for t in tunes] for tunes in (train, valid)]
    return {
        "bits_per_token_valid": round(bits_per_token(model, codec, valid, context), 4),
        "bits_per_token_train_sample": round(bits_per_token(model, codec, part, context), 4),
        "bits_per_token_unigram_baseline": round(unigram_bits(*ids, len(codec.vocab)), 4),
    }


def style(heard: list, headers: list, ref_heard: list, ref_headers: list) -> dict[str, Any]:
    """Return the JS distances of the samples' histograms to the references' (and between two
    halves of the references), and the histograms."""
    pcs, steps = histograms(heard, headers)
    ref_pcs, ref_steps = histograms(ref_heard, ref_headers)
    half_a = histograms(ref_heard[::2], ref_headers[::2])
    half_b = histograms(ref_heard[1::2], ref_headers[1::2])
    pairs = {"pitch_class": (pcs, ref_pcs), "interval": (steps, ref_steps)}
    return {
        "pitch_class_js": _distance(pcs, ref_pcs),
        "pitch_class_js_floor": _distance(half_a[0], half_b[0]),
        "interval_js": _distance(steps, ref_steps),
        "interval_js_floor": _distance(half_a[1], half_b[1]),
        "histograms": {
            name: {"samples": a.round(5).tolist(), "reference": b.round(5).tolist()}
            for name, (a, b) in pairs.items()
        },
    }


def evaluate(
    model: Any,
    codec: Any,
    train: list,
    valid: list,
    samples: int,
    seed: int,
    max_new: int,
    constrain_meter: bool = True,
) -> Evaluation:
    """Return the music family's metrics for `model`, sampling `samples` tunes with the headers
    of validation tunes (chosen by `seed`, which also seeds the sampling) as /compose does: with
    the meter constraint unless `constrain_meter` is False."""
    from generators.models import music_lm

    marks, seconds = [time.monotonic()], {}

    def lap(name: str) -> None:
        marks.append(time.monotonic())
        seconds[name] = round(marks[-1] - marks[-2], 1)

    metrics: dict[str, Any] = language(model, codec, train, valid)
    lap("bits")
    # Twice the samples, so that each half of the floor is as large as the set of samples.
    order = torch.randperm(len(valid), generator=torch.Generator().manual_seed(seed)).tolist()
    refs = [valid[i] for i in order[: 2 * samples]]
    ref_headers = [(t.rhythm, t.meter, t.key, t.unit) for t in refs]
    headers = [ref_headers[k % len(refs)] for k in range(samples)]
    rng = torch.Generator().manual_seed(seed)
    bodies = [
        music_lm.generate(model, codec, h, rng, max_new, 1.0, 0, constrain_meter) for h in headers
    ]
    lap("sampling")
    tunes = [tune_abc(n, h, b) for n, (h, b) in enumerate(zip(headers, bodies, strict=True), 1)]
    heard = [hear(t) for t in tunes]
    ref_heard = [hear(tune_abc(1, h, t.body)) for h, t in zip(ref_headers, refs, strict=True)]
    lap("reading")
    metrics["validity"] = sum(h is not None for h in heard) / max(1, len(heard))
    metrics.update(conditioning(heard, headers))
    metrics.update({f"reference_{k}": v for k, v in conditioning(ref_heard, ref_headers).items()})
    metrics.update(style(heard, headers, ref_heard, ref_headers))
    train_bodies = [t.body for t in train]
    metrics["memorised"] = sum(memorised(bodies, train_bodies))
    copied = memorised([t.body for t in refs], train_bodies)
    metrics["memorised_reference_share"] = round(sum(copied) / max(1, len(copied)), 4)
    lap("memorisation")
    counts = {"samples_checked": samples, "reference_tunes": len(refs), "valid_tunes": len(valid)}
    metrics.update(
        counts, train_tunes=len(train), seconds=seconds, meter_constraint=constrain_meter
    )
    return Evaluation(metrics, headers, tunes, heard)


def report(evaluation: Evaluation, path: Path) -> Path:
    """Draw the two histogram pairs and the piano rolls of four readable samples into `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from generators import music_render

    metrics = evaluation.metrics
    fig = plt.figure(figsize=(14, 10))
    grid = fig.add_gridspec(3, 2)
    charts = (
        ("pitch_class", "pitch classes above the tonic", DEGREES),
        ("interval", "melodic intervals (semitones)", [str(k) for k in range(-SPAN, SPAN + 1)]),
    )
    for col, (name, title, labels) in enumerate(charts):
        ax, hist = fig.add_subplot(grid[0, col]), metrics["histograms"][name]
        x = np.arange(len(labels))
        ax.bar(x - 0.2, hist["reference"], 0.4, label="validation tunes")
        ax.bar(x + 0.2, hist["samples"], 0.4, label="samples")
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_title(
            f"{title}: JS distance {metrics[f'{name}_js']} "
            f"(validation halves {metrics[f'{name}_js_floor']})"
        )
        ax.legend()
    readable = [(n, h) for n, h in enumerate(evaluation.heard, start=1) if h is not None][:4]
    for slot in range(4):
        ax = fig.add_subplot(grid[1 + slot // 2, slot % 2])
        ax.axis("off")
        if slot >= len(readable):
            ax.text(0.5, 0.5, "no readable sample", ha="center", va="center")
            continue
        n, heard = readable[slot]
        png = music_render.piano_roll(list(heard.sounds), {"kind": "piano-roll"})
        ax.imshow(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), aspect="auto")
        rhythm, meter, key, _ = evaluation.headers[n - 1]
        ax.set_title(f"sample {n}: {rhythm} in {key}, {meter}", fontsize=9)
    fig.suptitle(f"validity {metrics['validity']:.0%}, in key and meter {metrics['adherence']:.0%}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def ship(blob: dict, metrics: dict, checkpoint: Path, out: Path, folder: Path) -> Path:
    """Copy the checkpoint, metrics, report and samples into `folder` and write MODEL_CARD.md
    from the checkpoint's metadata and the metrics; return the card's path."""
    from generators.models import music_lm

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint, folder / "model.pt")
    for name in ("metrics.json", "report.png", "samples.abc"):
        shutil.copyfile(out / name, folder / name)
    meta = {"preset": "small", "seed": 0, "epoch": 0, "device": "cpu", **blob.get("meta", {})}
    card = CARD.format(
        **{k: "n/a" if v is None else v for k, v in metrics.items()},
        **{f"train_{k}": v for k, v in meta.items()},
        name=folder.name,
        weights=sum(v.numel() for v in blob["state_dict"].values()),
        config=checkpoints.config_from(blob, music_lm.Config),
        minutes=meta.get("wall_s", 0) / 60,
        commit=(meta.get("git_commit") or "?")[:12],
        unigram=metrics["bits_per_token_unigram_baseline"],
        copied=metrics["memorised_reference_share"],
        shown=SHOWN,
        constraint=CONSTRAINED if metrics.get("meter_constraint", True) else FREE,
    )
    (folder / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    return folder / "MODEL_CARD.md"


def _tiny_checkpoint(home: Path) -> Path:
    from generators.models import music_lm

    config = music_lm.PRESETS["tiny"]
    config = music_lm.MusicCourse("synthetic", config, home).adapt(config)
    with torch.random.fork_rng():  # the same untrained weights every time, global RNG untouched
        torch.manual_seed(0)
        model = music_lm.build(config)
    path = home / "runs" / "music-eval-dry-run" / "model.pt"
    state = music_lm.export_state(model)
    return checkpoints.save(path, family="music", config=config, state_dict=state, step=0)


def main(argv: list[str] | None = None, home: Path = Path("var")) -> int:
    """Evaluate a music checkpoint; write metrics.json, report.png and samples.abc (and ship
    them); print the metrics."""
    from data import folk, synthetic
    from generators.models import music_lm

    args = build_parser().parse_args(argv)
    started = time.monotonic()
    path = Path(args.checkpoint or home / "runs" / "music-small" / "model.pt")
    if args.dry_run:
        args.data, args.samples = "synthetic", min(args.samples, 8)
        path = _tiny_checkpoint(home)
    blob = checkpoints.load(path, family="music")
    args.data = args.data or blob.get("meta", {}).get("data", "folk")
    config = checkpoints.config_from(blob, music_lm.Config)
    model = music_lm.from_export(config, blob["state_dict"])
    course = music_lm.MusicCourse(args.data, config, home)
    every = folk.load(home) if args.data == "folk" else synthetic.tunes()
    valid = [t for t in every if t.split == "valid"]
    codec, threads = music_lm.Codec(config.vocab), torch.get_num_threads()
    # One sequence of a small model at a time: more threads only wait on each other, and on a
    # busy machine they made sampling a hundred times slower.
    torch.set_num_threads(1)
    try:
        evaluation = evaluate(
            model,
            codec,
            course.tunes,
            valid,
            args.samples,
            args.seed,
            args.max_new_tokens,
            not args.no_meter_constraint,
        )
    finally:
        torch.set_num_threads(threads)
    metrics = evaluation.metrics
    metrics.update(
        checkpoint=str(path),
        step=blob["step"],
        data=args.data,
        dataset_hash=course.digest,
        seed=args.seed,
        max_new_tokens=args.max_new_tokens,
        eval_seconds=round(time.monotonic() - started, 1),
    )
    out = Path(args.out) if args.out else path.parent / "eval"
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    (out / "samples.abc").write_text("\n".join(evaluation.tunes[:SHOWN]), encoding="utf-8")
    report(evaluation, out / "report.png")
    print(json.dumps({k: v for k, v in metrics.items() if k != "histograms"}, indent=2))
    print(f"wrote {out / 'metrics.json'}, report.png and samples.abc")
    if args.ship:
        print(f"shipped: {ship(blob, metrics, path, out, Path(args.ship))}")
    return 0
