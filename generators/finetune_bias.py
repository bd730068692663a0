"""The bias audits of a fine-tune: the base and the fine-tuned model audited alike, side by
side, as one section of the before/after report.

Text: the group-swapped prompts of `genbot audit generation --family text` (one identity term
per group, every role, `--audit-samples` generations each) — RealToxicityPrompts' expected
maximum toxicity and toxicity probability, sentiment, and the max/min disparity across groups.
GAN: the skin-tone audit, when the emoji dataset is built (it needs the tone variants). VAE:
variations have no prompt to swap, so there is nothing to audit; the section says so.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

# (report key, label, format) of the text audit's overall figures.
TEXT_OVERALL = (
    ("expected_max_toxicity", "expected max toxicity", "{:.3f}"),
    ("toxicity_probability", "toxicity probability", "{:.1%}"),
    ("mean_sentiment", "mean sentiment", "{:+.3f}"),
    ("not_allowed", "held or refused (pg13)", "{:.1%}"),
)


def section(args: Any, base: Path | str, tuned: Path, home: Path, settings: Any) -> tuple:
    """Return (title, markdown, data) comparing the two models' bias audits. `settings` are the
    service's (which scorers screen); without them, lexical + rules + PII."""
    if settings is None:
        settings = SimpleNamespace(detoxify="off", detoxify_model="unbiased", device="cpu")
        settings.detoxify_checkpoint = settings.detoxify_config = settings.nsfw_model = None
    if args.audit_samples <= 0:
        return "Bias audits", "Skipped (`--audit-samples 0`).", None
    if args.family == "text":
        return text_section(base, tuned, home, settings, args.audit_samples, args.seed)
    if args.family == "gan":
        return gan_section(base, tuned, home, args.audit_samples, args.seed)
    return (
        "Bias audits",
        "Variations have no prompt to swap: there is no bias audit of the VAE.",
        None,
    )


def text_section(base, tuned, home: Path, settings: Any, samples: int, seed: int) -> tuple:
    """Audit both text models with the same prompts and seeds; return the report section."""
    import torch

    from generators import audit_text
    from generators.models import text_lm
    from moderation.policy import policy_for
    from moderation.sentiment import SentimentScorer
    from moderation.stack import build_screener

    screener, policy = build_screener(settings), policy_for("pg13")
    terms = list({t.group: t for t in reversed(audit_text.TERMS)}.values())[::-1]
    reports = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see audit_text: two threads on a busy 2-core machine wait
    try:
        for name, source in (("before", base), ("after", tuned)):
            lm = text_lm.load(str(source), home)
            reports[name] = audit_text.audit(
                lm,
                lambda texts: screener.screen(texts, "output", policy),
                SentimentScorer(),
                samples,
                seed,
                terms=terms,
            )
    finally:
        torch.set_num_threads(threads)
    rows = [
        f"| {label} | {fmt.format(reports['before']['overall'][key])} | "
        f"{fmt.format(reports['after']['overall'][key])} |"
        for key, label, fmt in TEXT_OVERALL
    ]
    for metric, label, _ in audit_text.METRICS:
        ratios = [_ratio(reports[n]["groups"][metric]["disparity"]) for n in ("before", "after")]
        rows.append(f"| {label}: max/min across groups | {ratios[0]} | {ratios[1]} |")
    n = reports["before"]["prompts"]
    markdown = (
        f"Group-swapped prompts ({len(terms)} identity groups and none, {n} prompts x "
        f"{samples} samples, the same seeds for both models; scorers: "
        f"{', '.join(screener.model_versions)}).\n\n| figure | before | after |\n|---|---|---|\n"
        + "\n".join(rows)
    )
    return "Bias audit: group-swapped prompts", markdown, reports


def gan_section(base, tuned: Path, home: Path, samples: int, seed: int) -> tuple:
    """Audit both GANs for skin tones when the emoji data is built; return the section."""
    from data import emoji

    title = "Bias audit: skin tones"
    if not _gan_checkpoint(base).is_file():
        return title, f"The base {base} is not a checkpoint on disk: not audited.", None
    try:
        _, index = emoji.load(home, 64)
    except emoji.DatasetError:
        note = "Needs the emoji dataset (`genbot data build images`): not audited here."
        return title, note, None
    from data import checkpoints
    from generators import audit_images
    from generators.evaluate import load_encoder
    from generators.models import gan
    from generators.train import load_all

    models = {}
    for name, path in (("before", _gan_checkpoint(base)), ("after", tuned / "model.pt")):
        blob = checkpoints.load(path, family="gan")
        models[name] = gan.from_export(
            checkpoints.config_from(blob, gan.Config), blob["state_dict"]
        )
    data, held = load_all("emoji", models["before"].config.image_size, home)
    encoder = load_encoder(data, ~held, home, progress=False)
    cells = audit_images.emoji_cells(index)
    reports = {
        name: audit_images.audit(gan, model.eval(), data, held, encoder, cells, samples, seed)
        for name, model in models.items()
    }
    rows = []
    for key in ("tone_honoured", "tone_lift", "prompt_fidelity"):
        pairs = zip(reports["before"][key]["rows"], reports["after"][key]["rows"], strict=True)
        rows += [f"| {key} {b['group']} | {b['rate']:.3f} | {a['rate']:.3f} |" for b, a in pairs]
    markdown = "| figure | before | after |\n|---|---|---|\n" + "\n".join(rows)
    return title, markdown, reports


def _gan_checkpoint(base: Path | str) -> Path:
    path = Path(base)
    return path if path.suffix == ".pt" and path.name == "model.pt" else path.with_name("model.pt")


def _ratio(disparity: dict) -> str:
    ratio = disparity.get("max_min_ratio")
    return "n/a" if ratio is None else f"{ratio:.2f}"
