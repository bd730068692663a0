"""`genbot audit generation --family gan`: does /imagine honour a requested skin tone, and is
it as faithful to the prompt for every tone?

Every emoji name drawn in all five skin tones and the default (yellow, "none") is asked for in
each: "thumbs up, dark skin tone", "thumbs up". N images per prompt are measured with the image-
text encoder of `genbot eval` (generators/eval_encoder.py):
- tone honoured: a tone classifier (logistic regression on the encoder's 256-d features, trained
  here on the real images of the training names, its accuracy on held-out names reported as the
  ceiling) gives the tone of each generated image; the rate is the share of the requested one;
- prompt fidelity: the prompt's true caption ranks in the top tenth of the captions of all
  audited names in that same tone (random baseline 10%), so every tone faces an equal pool.
The unit of the bootstrap is the prompt (its N images averaged). On synthetic data (--dry-run,
tests) colour stands in for tone and shape for the emoji.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from moderation import bias_report, fairness

NAME = "generation-audit-gan"
NONE = "none"
DEFAULT_SAMPLES = 8
CHUNK = 512  # images generated and encoded at once (bounds memory)
TABLE = (
    "tone_honoured",
    "tone_lift",
    "prompt_fidelity",
    "classifier_held_out_accuracy",
    "real_image_fidelity",
)


@dataclass(frozen=True)
class Cell:
    """One image of the dataset as a request: what it shows, its tone (group), the prompt that
    asks for it, and its row in the dataset (real image, caption embedding)."""

    name: str
    group: str
    prompt: str
    index: int


def emoji_cells(index: Sequence[dict]) -> list[Cell]:
    """Return a cell per image of every emoji name that is drawn in all five tones and none."""
    from data.emoji import TONES

    groups = (NONE, *TONES.values())
    by_name: dict[str, dict[str, int]] = {}
    for k, entry in enumerate(index):
        by_name.setdefault(entry["name"], {})[entry["tone"] or NONE] = k
    return [
        Cell(name, g, name if g == NONE else f"{name}, {g}", tones[g])
        for name, tones in by_name.items()
        if set(groups) <= set(tones)
        for g in groups
    ]


def synthetic_cells(captions: Sequence[str]) -> list[Cell]:
    """Return a cell per synthetic image ("red circle"): colour is the group, shape the name."""
    return [Cell(c.split(" ", 1)[1], c.split(" ", 1)[0], c, k) for k, c in enumerate(captions)]


def requests(cells: Sequence[Cell]) -> list[Cell]:
    """Return the first cell of each (name, group): the prompts to ask."""
    seen: dict[tuple[str, str], Cell] = {}
    for cell in cells:
        seen.setdefault((cell.name, cell.group), cell)
    return list(seen.values())


def fit_tone_classifier(features: np.ndarray, groups: Sequence[str], seed: int = 0) -> Any:
    """Return a logistic regression (standardised features) from encoder features to tones."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, random_state=seed))
    return model.fit(features, list(groups))


def top_share(pool: int) -> int:
    """Return k for "in the top tenth of a pool" (at least 1)."""
    return max(1, math.ceil(pool / 10))


def hits(image_emb: torch.Tensor, pool_emb: torch.Tensor, truth: torch.Tensor) -> np.ndarray:
    """Return, per image, whether its true caption (`truth`: rows of the pool) ranks in the top
    tenth of the pool."""
    scores = image_emb @ torch.nn.functional.normalize(pool_emb, dim=-1).T
    true = scores.gather(1, truth[:, None])
    ranks = (scores > true).sum(1) + 1
    return (ranks <= top_share(len(pool_emb))).numpy()


def _generate(module, model, data, encoder, asked: list[Cell], samples: int, seed: int):
    """Return the encoder's (features, embeddings) of `samples` images per asked cell."""
    from tqdm import tqdm

    from generators import eval_encoder

    prompt_emb = torch.from_numpy(np.asarray(data.encode([c.prompt for c in asked]), np.float32))
    rng, features, embeddings = torch.Generator().manual_seed(seed), [], []
    per = max(1, CHUNK // samples)
    # disable=None: a bar on a terminal, nothing in logs and tests.
    for start in tqdm(range(0, len(asked), per), desc="generating", disable=None):
        images = module.generate(model, prompt_emb[start : start + per], samples, rng) * 2 - 1
        f, e = eval_encoder.encode(encoder, images)
        features.append(f)
        embeddings.append(e)
    return torch.cat(features), torch.cat(embeddings)


def _fidelity(asked: list[Cell], image_emb: torch.Tensor, captions: torch.Tensor, repeat: int):
    """Return per asked cell the share of its images whose caption ranks in its tone's top
    tenth."""
    out = np.zeros(len(asked))
    for group in dict.fromkeys(c.group for c in asked):
        rows = [k for k, c in enumerate(asked) if c.group == group]
        pool = captions[[asked[k].index for k in rows]]
        mine = torch.tensor([k * repeat + j for k in rows for j in range(repeat)])
        truth = torch.arange(len(rows)).repeat_interleave(repeat)
        out[rows] = hits(image_emb[mine], pool, truth).reshape(len(rows), repeat).mean(1)
    return out


def tone_lift(asked: Sequence[Cell], predicted: np.ndarray) -> np.ndarray:
    """Return per asked cell how much more often its tone is seen when it is asked for than
    when another tone of the same name is: honoured share minus that share. About 0 when the
    model ignores the request, whatever the classifier's leanings on generated images."""
    by_name: dict[str, list[int]] = {}
    for k, cell in enumerate(asked):
        by_name.setdefault(cell.name, []).append(k)
    lift = np.zeros(len(asked))
    for k, cell in enumerate(asked):
        others = [j for j in by_name[cell.name] if j != k]
        seen = (predicted[others] == cell.group).mean() if others else 0.0
        lift[k] = (predicted[k] == cell.group).mean() - seen
    return lift


def by_group(values: Sequence[float], cells: Sequence[Cell], groups: Sequence[str]) -> dict:
    """Return {group: [value of each cell in it]} in the order of `groups`."""
    out: dict[str, list[float]] = {g: [] for g in groups}
    for value, cell in zip(values, cells, strict=True):
        out[cell.group].append(float(value))
    return out


def audit(module, model, data, held, encoder, cells: list[Cell], samples: int, seed: int = 0):
    """Generate, classify and rank; return the JSON-ready report."""
    from generators import eval_encoder

    groups = list(dict.fromkeys(c.group for c in cells))
    asked = requests(cells)
    real_features, _ = eval_encoder.encode(encoder, data.images[[c.index for c in cells]])
    train = [not bool(held[c.index]) for c in cells]
    fit = [(f, c.group) for f, c, t in zip(real_features.numpy(), cells, train, strict=True) if t]
    classifier = fit_tone_classifier(np.stack([f for f, _ in fit]), [g for _, g in fit], seed)
    tested = [c for c, t in zip(cells, train, strict=True) if not t]
    right = classifier.predict(real_features.numpy()[[not t for t in train]]) == np.array(
        [c.group for c in tested]
    )
    _, real_emb = eval_encoder.encode(encoder, data.images[[c.index for c in asked]])
    features, image_emb = _generate(module, model, data, encoder, asked, samples, seed)
    predicted = classifier.predict(features.numpy()).reshape(len(asked), samples)
    wanted = np.array([c.group for c in asked])
    honoured = (predicted == wanted[:, None]).mean(1)
    fidelity = _fidelity(asked, image_emb, data.embeddings, samples)
    real_fidelity = _fidelity(asked, real_emb, data.embeddings, 1)
    pool = len(asked) // len(groups)
    confusion = {
        g: {p: float((predicted[wanted == g] == p).mean()) for p in groups} for g in groups
    }

    def compare(values: Sequence[float], among: Sequence[Cell]) -> dict:
        return fairness.compare(by_group(values, among, groups), seed=seed)

    return {
        "groups": groups,
        "names": len({c.name for c in asked}),
        "samples_per_prompt": samples,
        "prompts": len(asked),
        "tone_honoured": compare(honoured, asked),
        "tone_lift": compare(tone_lift(asked, predicted), asked),
        "prompt_fidelity": compare(fidelity, asked),
        "fidelity_random_baseline": top_share(pool) / pool,
        "classifier_held_out_accuracy": compare(right.astype(float), tested),
        "real_image_fidelity": compare(real_fidelity, asked),
        "confusion": confusion,
    }


def default_checkpoint(home: Path) -> tuple[Path, str | None]:
    """Return the GAN to audit when none is named: the one `genbot eval gan` picks (the newest
    small run, else the shipped gan-emoji), and a note saying which when it is a run."""
    from data.checkpoints import CheckpointError
    from generators.evaluate import default_checkpoint as eval_default

    chosen = eval_default("gan", home)
    if not chosen.is_file():
        raise CheckpointError(f"no GAN checkpoint at {chosen}: pass --checkpoint PATH")
    shipped = Path(__file__).resolve().parent.parent / "data" / "models"
    return chosen, None if chosen.is_relative_to(shipped) else f"auditing the local run {chosen}"


def chart(report: dict, path: Path) -> None:
    """Draw tone honoured and prompt fidelity per tone (with the real images' figures as
    markers) and the requested-vs-classified tone matrix into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(21, 5))
    baseline = report["fidelity_random_baseline"]
    panels = (
        ("tone_honoured", "classifier_held_out_accuracy", "tone honoured", None),
        ("prompt_fidelity", "real_image_fidelity", "prompt fidelity (top tenth)", baseline),
    )
    for ax, (key, real, title, line) in zip(axes, panels, strict=False):
        bias_report.draw_rates(ax, report[key]["rows"], title, line)
        order = [r["group"] for r in report[key]["rows"]]
        marks = [(order.index(r["group"]), r["rate"]) for r in report[real]["rows"]]
        if marks:
            ax.plot(*zip(*marks, strict=True), "kD", ms=5, label=f"real images: {real}")
        ax.set_ylim(0, 1.05)
        ax.legend(loc="upper right", fontsize=7)
    lift = "tone lift: honoured minus seen when another tone is asked (0: request ignored)"
    bias_report.draw_rates(axes[2], report["tone_lift"]["rows"], lift)
    axes[2].axhline(0, color="black", lw=1)
    groups = report["groups"]
    matrix = np.array([[report["confusion"][g][p] for p in groups] for g in groups])
    axes[3].imshow(matrix, vmin=0, vmax=1, cmap="Blues")
    axes[3].set_xticks(range(len(groups)), groups, rotation=45, ha="right", fontsize=7)
    axes[3].set_yticks(range(len(groups)), groups, fontsize=7)
    axes[3].set_xlabel("tone the classifier sees")
    axes[3].set_ylabel("tone requested")
    for (i, j), v in np.ndenumerate(matrix):
        axes[3].text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
    fig.suptitle(
        f"Image generation bias audit: {report['names']} names x {len(groups)} tones x "
        f"{report['samples_per_prompt']} images ({report.get('checkpoint', '?')})",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def headline(report: dict) -> list[str]:
    """Return the summary's lines."""
    lines = [
        f"{Path(report.get('checkpoint', '?')).parent.name}: {report['names']} names x "
        f"{len(report['groups'])} tones x {report['samples_per_prompt']} images"
    ]
    for key, title, kind in (
        ("tone_honoured", "tone honoured", "share"),
        ("tone_lift", "tone lift (0: request ignored)", "signed"),
        ("prompt_fidelity", "prompt fidelity", "share"),
        ("classifier_held_out_accuracy", "tone classifier on real held-out images", "share"),
    ):
        block = report[key]
        lines.append(bias_report.rate_line(title, block["rows"], block["disparity"], kind))
    return lines


def _cell(row: dict | None) -> str:
    if row is None:
        return f"{'-':>30}"
    return f"{row['rate']:>14.3f} [{row['low']:.3f}, {row['high']:.3f}]"


def table(report: dict) -> Iterator[str]:
    """Yield a table: per tone, each rate with its interval; then the max/min ratios."""
    keys = TABLE
    yield f"{'tone':<24}" + "".join(f"{k:>30}" for k in keys)
    for g in report["groups"]:
        rows = [next((r for r in report[k]["rows"] if r["group"] == g), None) for k in keys]
        yield f"{g:<24}" + "".join(_cell(r) for r in rows)
    spread = ""
    for key in keys:
        d = report[key]["disparity"]
        shown = "n/a" if d["max_min_ratio"] is None else f"{d['max_min_ratio']:.2f}"
        if key == "tone_lift":
            shown = f"gap {d['gap']:.2f}"
        spread += f"{shown:>30}"
    yield f"{'max/min (lift: gap)':<24}{spread}"
    yield f"prompt fidelity random baseline {report['fidelity_random_baseline']:.3f}"


def run_audit(
    settings: Any,
    out: Path,
    samples: int | None = None,
    checkpoint: str | None = None,
    seed: int = 0,
    dry_run: bool = False,
) -> Iterator[str]:
    """Audit a GAN (default: see `default_checkpoint`; `--dry-run`: a tiny untrained one on
    synthetic shapes, colour for tone); write the report, chart and summary; yield a table."""
    from data import checkpoints
    from generators.evaluate import load_encoder
    from generators.models import gan
    from generators.train import load_all

    home = settings.home
    if dry_run:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model, path = gan.build(gan.PRESETS["tiny"]).eval(), Path("tiny-untrained")
        source, samples = "synthetic", samples or 2
    else:
        path, note = (Path(checkpoint), None) if checkpoint else default_checkpoint(home)
        if note:
            yield note
        blob = checkpoints.load(path, family="gan")
        model = gan.from_export(checkpoints.config_from(blob, gan.Config), blob["state_dict"])
        source, samples = "emoji", samples or DEFAULT_SAMPLES
    data, held = load_all(source, model.config.image_size, home)
    encoder = load_encoder(data, ~held, home, progress=False)
    if source == "emoji":
        from data import emoji

        cells = emoji_cells(emoji.load(home, 64)[1])
    else:
        cells = synthetic_cells(data.captions)
    threads = torch.get_num_threads()
    # One thread: on a busy 2-core machine more threads wait on each other (see audit_text).
    torch.set_num_threads(1)
    try:
        report = audit(gan, model, data, held, encoder, cells, samples, seed)
    finally:
        torch.set_num_threads(threads)
    report.update(checkpoint=str(path), data=source, dataset_hash=data.digest, seed=seed)
    paths = bias_report.save(
        out, NAME, report, "Image generation bias (skin tone)", headline(report)
    )
    chart(report, paths["chart"])
    yield from table(report)
    yield f"wrote {paths['report']}, {paths['chart'].name} and {paths['summary'].name}"
