"""The before/after report of a community fine-tune: report.json, REPORT.md and report.png.

`FinetuneReport` holds both models' metrics, measured the same way, and the facts of the run
(data, privacy, training). `add_section` appends more evidence to it — the bias audits of the
base and the fine-tuned model belong there — and `write_report` renders everything into one
folder, by default GENBOT_HOME/reports/finetune-<family>-<UTC time>/.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# (metric path, label, lower is better): the figures the chart shows and the table leads with.
HEADLINE = {
    "text": [
        ("perplexity_public_held_out", "public held-out perplexity", True),
        ("perplexity_community_held_out", "community held-out perplexity", True),
        ("perplexity_community_train", "community training perplexity", True),
    ],
    "vae": [
        ("base_data.held_out.negative_elbo", "base held-out −ELBO (nats)", True),
        ("base_data.held_out.mse", "base held-out MSE", True),
        ("community_held_out.negative_elbo", "community held-out −ELBO (nats)", True),
        ("community_held_out.mse", "community held-out MSE", True),
    ],
    "gan": [
        ("base_data.frechet_distance", "base Fréchet distance", True),
        ("base_data.fidelity_held_out.r_at_10", "base held-out caption R@10", False),
        ("community_held_out.r_at_1", "community held-out caption R@1", False),
        ("community_held_out.cosine", "community held-out image–caption cosine", False),
    ],
}


@dataclass
class Section:
    """A further part of the report: a titled Markdown block and its data for the JSON."""

    title: str
    markdown: str
    data: Any = None


@dataclass
class FinetuneReport:
    """Everything the report says about one fine-tune."""

    family: str
    base: str
    finetuned: str
    data: dict[str, Any]
    training: dict[str, Any]
    privacy: dict[str, Any] | None
    before: dict[str, Any]
    after: dict[str, Any]
    sections: list[Section] = field(default_factory=list)


def add_section(report: FinetuneReport, title: str, markdown: str, data: Any = None) -> None:
    """Append a section (e.g. a bias audit of both models) to the report."""
    report.sections.append(Section(title, markdown, data))


def flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Return the numeric leaves of nested metrics under dotted names."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def comparison(report: FinetuneReport) -> list[tuple[str, float, float]]:
    """Return (metric, before, after) for every numeric metric both models have."""
    before, after = flatten(report.before), flatten(report.after)
    return [(k, before[k], after[k]) for k in before if k in after]


def headline(report: FinetuneReport) -> list[tuple[str, float, float, bool]]:
    """Return (label, before, after, lower is better) of the family's headline metrics."""
    before, after = flatten(report.before), flatten(report.after)
    return [
        (label, before[key], after[key], lower)
        for key, label, lower in HEADLINE.get(report.family, [])
        if key in before and key in after
    ]


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def _change(before: float, after: float) -> str:
    if before == 0 or not (math.isfinite(before) and math.isfinite(after)):
        return "—"
    return f"{(after - before) / abs(before):+.1%}"


def privacy_line(privacy: dict[str, Any] | None) -> str:
    """Return the one-line statement of the privacy guarantee (or its absence)."""
    if not privacy:
        return "not differentially private (no --dp)"
    return (
        f"(ε = {privacy['epsilon']:.2f}, δ = {privacy['delta']:g})-differentially private per "
        f"community record: DP-SGD, noise multiplier {privacy['noise_multiplier']:.3g}, "
        f"clipping norm {privacy['max_grad_norm']:g}, {privacy['steps']} steps at sampling "
        f"rate {privacy['sample_rate']:.3g}, {privacy['accountant'].upper()} accountant"
    )


def markdown(report: FinetuneReport, chart: str = "report.png") -> str:
    """Return the report as Markdown."""
    d = report.data
    lines = [
        f"# Fine-tune report: {report.family}",
        "",
        f"- **Base**: `{report.base}`",
        f"- **Fine-tuned**: `{report.finetuned}` ({report.training.get('method', '')})",
        f"- **Data**: {d['train']} community records trained on, {d['held_out']} held out "
        f"for this report ({d['dropped_rated_down']} rated below zero left out) from "
        f"`{d['export']}` (hash `{d['digest']}`); datasheet: {d.get('datasheet') or 'none'}",
        f"- **Training**: {report.training.get('steps')} steps, {report.training.get('epochs')} "
        f"epochs, learning rate {report.training.get('lr')}",
        f"- **Privacy**: {privacy_line(report.privacy)}",
        "",
        "## Headline",
        "",
        "| metric | base | fine-tuned | change |",
        "|---|---|---|---|",
    ]
    for label, before, after, lower in headline(report):
        better = "lower is better" if lower else "higher is better"
        lines.append(
            f"| {label} ({better}) | {_fmt(before)} | {_fmt(after)} | {_change(before, after)} |"
        )
    lines += ["", f"![before and after]({chart})", "", "## All metrics", ""]
    lines += ["| metric | base | fine-tuned | change |", "|---|---|---|---|"]
    for name, before, after in comparison(report):
        lines.append(f"| {name} | {_fmt(before)} | {_fmt(after)} | {_change(before, after)} |")
    lines += _samples(report)
    for section in report.sections:
        lines += ["", f"## {section.title}", "", section.markdown.strip()]
    return "\n".join(lines) + "\n"


def _samples(report: FinetuneReport) -> list[str]:
    before, after = report.before.get("samples"), report.after.get("samples")
    if not before or not after:
        return []
    lines = ["", "## Samples (held-out community prompts, same seed)", ""]
    for a, b in zip(before, after, strict=False):
        lines += [
            f"**{a['prompt']}**",
            "",
            f"- base: {a['text']!r}",
            f"- fine-tuned: {b['text']!r}",
        ]
        lines.append("")
    return lines


def draw_chart(report: FinetuneReport, path: Path) -> Path:
    """Draw one pair of bars (base, fine-tuned) per headline metric into `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = headline(report) or [(n, b, a, True) for n, b, a in comparison(report)[:4]]
    fig, axes = plt.subplots(1, max(1, len(rows)), figsize=(3.2 * max(1, len(rows)), 3.6))
    axes = axes if hasattr(axes, "__len__") else [axes]
    for ax, (label, before, after, lower) in zip(axes, rows, strict=False):
        ax.bar(["base", "fine-tuned"], [before, after], color=["#8c8c8c", "#3b7dd8"])
        ax.set_title(f"{label}\n({'lower' if lower else 'higher'} is better)", fontsize=8)
        ax.tick_params(labelsize=8)
    title = f"{report.family} fine-tune; {privacy_line(report.privacy).split(':')[0]}"
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def default_folder(home: Path, family: str) -> Path:
    """Return a new GENBOT_HOME/reports/finetune-<family>-<UTC time>[-n]/ path."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    folder = home / "reports" / f"finetune-{family}-{stamp}"
    n = 1
    while folder.exists():
        n += 1
        folder = home / "reports" / f"finetune-{family}-{stamp}-{n}"
    return folder


def write_report(report: FinetuneReport, folder: Path) -> Path:
    """Write report.json, REPORT.md and report.png into `folder`; return the Markdown path."""
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(asdict(report), indent=2, default=str)
    (folder / "report.json").write_text(text, encoding="utf-8")
    draw_chart(report, folder / "report.png")
    path = folder / "REPORT.md"
    path.write_text(markdown(report), encoding="utf-8")
    return path
