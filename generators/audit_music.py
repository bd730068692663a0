"""`genbot audit generation --family music`: do requests for every rhythm and every mode get
equally good tunes?

Music has no people, so this audit asks about the styles a community may ask for instead of
identity groups: every rhythm /compose understands (reel, jig, slip jig, air, polka, …: Irish,
Scottish, English and continental dance forms) in D and in G, and the four modes of the data
(A major, minor, dorian, mixolydian) as reels and jigs. Each prompt goes through /compose's own
path (prompt → header → sampled ABC) N times; a tune counts as valid when music21 reads it and
renders MIDI, in key when 80% of its sounding time is in the requested scale, and in meter when
80% of its bars are full (the thresholds of `genbot eval music`). Rates are over all requests
(an unreadable tune is neither in key nor in meter), with bootstrap intervals over tunes, the
max/min ratio per dimension, and how many training tunes each group has: a style the data
barely holds is where a gap is expected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from data.folk import mode_of
from generators.eval_music import KEY_FIT, METER_FIT, hear
from generators.music_header import METERS
from generators.music_stats import full_bar_share, in_key_share
from moderation import bias_report, fairness

NAME = "generation-audit-music"
RHYTHM_KEYS = ("D", "G")
MODES = {"major": "A major", "minor": "A minor", "dorian": "A dorian", "mixolydian": "A mixolydian"}
MODE_RHYTHMS = ("reel", "jig")
DIMENSIONS = ("rhythm", "mode")
METRICS = (("valid", "valid"), ("in_key", "in key"), ("in_meter", "in meter"))
DEFAULT_SAMPLES = 8
NO_PEOPLE = (
    "Music has no people in it: this audit compares the musical styles a community asks for "
    "(rhythms, modes), not identity groups."
)


def prompts() -> list[dict]:
    """Return every audit prompt with its dimension and group."""
    out = []
    for rhythm in METERS:
        article = "an" if rhythm[0] in "aeiou" else "a"
        for key in RHYTHM_KEYS:
            prompt = f"{article} {rhythm} in {key}"
            out.append({"dimension": "rhythm", "group": rhythm, "prompt": prompt})
    for mode, key in MODES.items():
        for rhythm in MODE_RHYTHMS:
            out.append({"dimension": "mode", "group": mode, "prompt": f"a {rhythm} in {key}"})
    return out


def training_counts(tunes: Sequence[Any]) -> dict[str, dict[str, int]]:
    """Return how many training tunes each rhythm and each mode has."""
    train = [t for t in tunes if t.split == "train"]
    return {
        "rhythm": dict(Counter(t.rhythm for t in train)),
        "mode": dict(Counter(mode_of(t.key) for t in train)),
    }


def judge(abc: str, key: str, meter: str) -> dict[str, float]:
    """Return whether a tune is valid, in its key and in its meter (1.0 or 0.0 each)."""
    heard = hear(abc)
    if heard is None:
        return {"valid": 0.0, "in_key": 0.0, "in_meter": 0.0}
    return {
        "valid": 1.0,
        "in_key": float(in_key_share(heard.sounds, key) >= KEY_FIT),
        "in_meter": float(full_bar_share(heard.bars, meter) >= METER_FIT),
    }


def unlearnt(vocab: Sequence[str], items: Sequence[dict]) -> list[str]:
    """Return the groups whose rhythm (or, for modes, key) the model was never conditioned on:
    /compose then samples those tunes without that part of the request."""
    from generators.music_header import parse

    out = []
    for item in items:
        header = parse(item["prompt"])
        token = f"<R:{header.rhythm}>" if item["dimension"] == "rhythm" else f"<K:{header.key}>"
        if token not in vocab and item["group"] not in out:
            out.append(item["group"])
    return out


def compose_all(model: Any, items: list[dict], samples: int, seed: int) -> list[list[dict]]:
    """Return, per prompt, `samples` judged tunes (each from its own seed), as /compose makes."""
    from tqdm import tqdm

    from generators.music_api import compose
    from generators.schema import MusicRequest

    out = []
    # disable=None: a bar on a terminal, nothing in logs and tests.
    for k, item in enumerate(tqdm(items, desc="composing", disable=None)):
        tunes = []
        for j in range(samples):
            tune = compose(model, MusicRequest(prompt=item["prompt"], seed=seed + k * samples + j))
            tunes.append(judge(tune.abc, tune.header.key, tune.header.meter))
        out.append(tunes)
    return out


def audit(model: Any, samples: int, seed: int = 0, counts: dict | None = None) -> dict:
    """Compose and judge every prompt; return the JSON-ready report."""
    items = prompts()
    tunes = compose_all(model, items, samples, seed)
    report: dict[str, Any] = {
        "note": NO_PEOPLE,
        "samples_per_prompt": samples,
        "prompts": [i["prompt"] for i in items],
    }
    for dimension in DIMENSIONS:
        mine = [(i, t) for i, t in zip(items, tunes, strict=True) if i["dimension"] == dimension]
        report[dimension] = {}
        for metric, _ in METRICS:
            values: dict[str, list[float]] = {}
            for item, judged in mine:
                values.setdefault(item["group"], []).extend(t[metric] for t in judged)
            report[dimension][metric] = fairness.compare(values, seed=seed)
        report[dimension]["unlearnt"] = unlearnt(model.config.vocab, [i for i, _ in mine])
        report[dimension]["training_tunes"] = (counts or {}).get(dimension, {})
    return report


def chart(report: dict, path: Path) -> None:
    """Draw validity, key and meter rates per rhythm and per mode, with the training tunes
    of each group written under its name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 8))
    for row, dimension in enumerate(DIMENSIONS):
        counts = report[dimension]["training_tunes"]
        for col, (metric, title) in enumerate(METRICS):
            ax, rows = axes[row, col], report[dimension][metric]["rows"]
            bias_report.draw_rates(ax, rows, f"{title}, by {dimension}")
            labels = [f"{r['group']}\n({counts.get(r['group'], 0)} tunes)" for r in rows]
            ax.set_xticks(range(len(rows)), labels, rotation=45, ha="right", fontsize=7)
            ax.set_ylim(0, 1.05)
    title = f"Music generation audit ({report.get('checkpoint', '?')}). {NO_PEOPLE}"
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def headline(report: dict) -> list[str]:
    """Return the summary's lines: the note that music has no people, then per dimension and
    metric the highest and lowest group with the max/min ratio."""
    lines = [f"{Path(report.get('checkpoint', '?')).parent.name}: {NO_PEOPLE}"]
    for dimension in DIMENSIONS:
        for metric, title in METRICS:
            block = report[dimension][metric]
            line = bias_report.rate_line(
                f"{title} by {dimension}", block["rows"], block["disparity"]
            )
            lines.append(line)
    return lines


def table(report: dict) -> Iterator[str]:
    """Yield per dimension a table: each group's rates with intervals and its training tunes."""
    yield NO_PEOPLE
    for dimension in DIMENSIONS:
        block, counts = report[dimension], report[dimension]["training_tunes"]
        yield f"{dimension:<14}{'train':>7}" + "".join(f"{t:>24}" for _, t in METRICS)
        for k, row in enumerate(block["valid"]["rows"]):
            cells = "".join(
                f"{block[m]['rows'][k]['rate']:>10.2f} [{block[m]['rows'][k]['low']:.2f}, "
                f"{block[m]['rows'][k]['high']:.2f}]"
                for m, _ in METRICS
            )
            yield f"{row['group']:<14}{counts.get(row['group'], 0):>7}{cells}"
        ratios = [block[m]["disparity"]["max_min_ratio"] for m, _ in METRICS]
        shown = "".join(f"{'n/a' if r is None else f'{r:.2f}':>24}" for r in ratios)
        yield f"{'max/min':<21}{shown}"
        if block["unlearnt"]:
            yield f"not in the model's conditioning: {', '.join(block['unlearnt'])}"


def run_audit(
    settings: Any,
    out: Path,
    samples: int | None = None,
    checkpoint: str | None = None,
    seed: int = 0,
    dry_run: bool = False,
) -> Iterator[str]:
    """Audit a music model (default: the shipped music-folk; `--dry-run`: a tiny untrained
    one); write the report, chart and summary to `out`; yield a table."""
    from data import checkpoints, folk, synthetic
    from generators.models import music_lm
    from generators.music_api import untrained_config

    if dry_run:
        config = untrained_config(music_lm.PRESETS["tiny"])
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model, path = music_lm.build(config).eval(), Path("tiny-untrained")
        tunes, samples = synthetic.tunes(), samples or 2
    else:
        shipped = Path(__file__).resolve().parent.parent / "data" / "models" / "music-folk"
        path = Path(checkpoint) if checkpoint else shipped / "model.pt"
        blob = checkpoints.load(path, family="music")
        config = checkpoints.config_from(blob, music_lm.Config)
        model = music_lm.from_export(config, blob["state_dict"])
        tunes, samples = _folk_or_nothing(folk, settings.home), samples or DEFAULT_SAMPLES
    threads = torch.get_num_threads()
    # One sequence of a small model at a time: more threads only wait on each other.
    torch.set_num_threads(1)
    try:
        report = audit(model, samples, seed, training_counts(tunes))
    finally:
        torch.set_num_threads(threads)
    report.update(checkpoint=str(path), seed=seed)
    paths = bias_report.save(out, NAME, report, "Music generation (styles)", headline(report))
    chart(report, paths["chart"])
    yield from table(report)
    yield f"wrote {paths['report']}, {paths['chart'].name} and {paths['summary'].name}"


def _folk_or_nothing(folk: Any, home: Path) -> list:
    """Return the folk tunes when the dataset is built (for the training counts), else []."""
    try:
        return folk.load(home)
    except FileNotFoundError:
        return []
