"""`genbot audit data`: who and what each training set represents, as a table and a chart.

- emoji (GAN, VAE): images per skin tone (the default yellow counts as "none"), and identity
  terms (moderation/identity.py) in the captions, per identity group and per term;
- fortunes (text-small): quotes that mention each identity term and group, per 1,000 quotes,
  and gendered words (woman/women/girl… against man/men/boy…, she/her against he/him/his);
- folk (music-folk): tunes per rhythm and per mode; music has no people, so identity terms are
  counted only in the titles.
Word counts, not senses: "old", "white", "black", "straight" or "man" (people in general) often
do not name an identity group, so a count is an upper bound. Torch-free; a dataset that is not
built is reported as such.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from data.emoji import TONES
from data.folk import mode_of
from moderation import bias_report
from moderation.identity import GROUPS, mentions, term_of

NAME = "data-audit"
TONE_ORDER = ("none", *TONES.values())
FEMININE = {"she", "her", "hers", "herself", "woman", "women", "girl", "girls", "female"}
MASCULINE = {"he", "him", "his", "himself", "man", "men", "boy", "boys", "male"}
_WORD = re.compile(r"[a-z']+")
BUILD = {"emoji": "images", "fortunes": "text", "folk": "music"}


def identity_counts(texts: Iterable[str]) -> dict[str, Any]:
    """Return how many texts mention each identity group and term (a text counts once per
    term), and how many texts there are."""
    groups: Counter[str] = Counter()
    terms: Counter[str] = Counter()
    total = 0
    for text in texts:
        total += 1
        found = {term_of(m) for m in mentions(text)} - {None}
        terms.update(t.text for t in found)
        groups.update({t.group for t in found})
    return {
        "texts": total,
        "groups": {g: groups.get(g, 0) for g in GROUPS},
        "terms": dict(terms.most_common()),
    }


def gendered_words(texts: Iterable[str]) -> dict[str, int]:
    """Return the counts of feminine and masculine words (pronouns and nouns) in the texts."""
    counts = {"feminine": 0, "masculine": 0}
    for text in texts:
        for word in _WORD.findall(text.lower()):
            if word in FEMININE:
                counts["feminine"] += 1
            elif word in MASCULINE:
                counts["masculine"] += 1
    return counts


def emoji_audit(home: Path) -> dict[str, Any]:
    """Return the emoji set's images per skin tone and identity terms in its captions."""
    entries = json.loads(_dataset(home, "emoji-index.json").read_text(encoding="utf-8"))["entries"]
    tones = Counter(e["tone"] or "none" for e in entries)
    people = [e for e in entries if e["category"] == "People & Body"]
    return {
        "images": len(entries),
        "tones": {t: tones.get(t, 0) for t in TONE_ORDER},
        "people_and_body_images": len(people),
        "identity": identity_counts(e["caption"] for e in entries),
        "gendered_words": gendered_words(e["name"] for e in entries),
    }


def fortunes_audit(home: Path) -> dict[str, Any]:
    """Return identity terms and gendered words in the text model's training quotes."""
    rows = _jsonl(_dataset(home, "fortunes.jsonl"))
    texts = [row["text"] for row in rows if row["split"] == "train"]
    identity = identity_counts(texts)
    per = 1000 / max(1, len(texts))
    identity["per_1000"] = {g: n * per for g, n in identity["groups"].items()}
    return {"quotes": len(texts), "identity": identity, "gendered_words": gendered_words(texts)}


def folk_audit(home: Path) -> dict[str, Any]:
    """Return the music model's training tunes per rhythm and mode, and identity terms in
    their titles."""
    tunes = [row for row in _jsonl(_dataset(home, "folk-abc.jsonl")) if row["split"] == "train"]
    return {
        "tunes": len(tunes),
        "rhythms": dict(Counter(t["rhythm"] for t in tunes).most_common()),
        "modes": dict(Counter(mode_of(t["key"]) for t in tunes).most_common()),
        "identity_in_titles": identity_counts(t["title"] for t in tunes),
        "note": "music has no people: identity terms are counted in the titles only",
    }


def _dataset(home: Path, name: str) -> Path:
    path = home / "datasets" / name
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def audit(home: Path) -> dict[str, Any]:
    """Return the report of every training set; a set that is not built says how to build it."""
    report: dict[str, Any] = {}
    for name, run in (("emoji", emoji_audit), ("fortunes", fortunes_audit), ("folk", folk_audit)):
        try:
            report[name] = run(home)
        except FileNotFoundError as exc:
            report[name] = {"missing": f"{exc}: run `genbot data build {BUILD[name]}`"}
    return report


def _share(counts: dict[str, int]) -> str:
    total = max(1, sum(counts.values()))
    return ", ".join(f"{k} {n} ({n / total:.0%})" for k, n in counts.items())


def _gender_ratio(words: dict[str, int]) -> str:
    if not words["feminine"]:
        return f"masculine {words['masculine']} : feminine 0"
    ratio = words["masculine"] / words["feminine"]
    return f"masculine {words['masculine']} : feminine {words['feminine']} ({ratio:.1f} : 1)"


def headline(report: dict) -> list[str]:
    """Return the summary's lines: one or two per training set."""
    lines = []
    emoji, fortunes, folk = report["emoji"], report["fortunes"], report["folk"]
    if "missing" in emoji:
        lines.append(f"emoji: {emoji['missing']}")
    else:
        lines.append(f"emoji ({emoji['images']} images), skin tone: {_share(emoji['tones'])}")
        lines.append(f"emoji names, gendered words: {_gender_ratio(emoji['gendered_words'])}")
    if "missing" in fortunes:
        lines.append(f"fortunes: {fortunes['missing']}")
    else:
        rates = ", ".join(f"{g} {v:.1f}" for g, v in fortunes["identity"]["per_1000"].items())
        lines.append(f"fortunes ({fortunes['quotes']} quotes), per 1,000 quotes: {rates}")
        lines.append(f"fortunes, gendered words: {_gender_ratio(fortunes['gendered_words'])}")
    if "missing" in folk:
        lines.append(f"folk: {folk['missing']}")
    else:
        top = dict(list(folk["rhythms"].items())[:6])
        lines.append(f"folk ({folk['tunes']} tunes; no people), rhythms: {_share(top)}")
        lines.append(f"folk, modes: {_share(folk['modes'])}")
    return lines


def _bars(ax: Any, counts: dict[str, float], title: str, colour: str = "#5bc0de") -> None:
    ax.bar(range(len(counts)), list(counts.values()), color=colour)
    ax.set_xticks(range(len(counts)), list(counts), rotation=45, ha="right", fontsize=7)
    ax.set_title(title, fontsize=9)


def chart(report: dict, path: Path) -> None:
    """Draw each set's representation (tones, identity groups, terms, gendered words, rhythms,
    modes) into a PNG; a set that is not built leaves its panels saying so."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    panels = [
        ("emoji", ("tones",), "emoji images per skin tone"),
        ("emoji", ("identity", "groups"), "emoji captions naming each identity group"),
        ("fortunes", ("identity", "per_1000"), "fortunes: quotes per 1,000 naming each group"),
        ("fortunes", ("identity", "terms"), "fortunes: the most named identity terms (quotes)"),
        ("folk", ("rhythms",), "folk: training tunes per rhythm"),
        ("folk", ("modes",), "folk: training tunes per mode"),
    ]
    for ax, (name, keys, title) in zip(axes.flat, panels, strict=True):
        if "missing" in report[name]:
            ax.text(0.5, 0.5, f"{name}: not built", ha="center", va="center")
            ax.axis("off")
            continue
        counts = report[name]
        for key in keys:
            counts = counts[key]
        _bars(ax, dict(list(counts.items())[:20]), title)
    fig.suptitle("Training data representation (word counts, not senses: an upper bound)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def table(report: dict) -> Iterator[str]:
    """Yield the report as plain-text tables."""
    for name, block in report.items():
        if "missing" in block:
            yield f"{name}: {block['missing']}"
            continue
        yield f"== {name}"
        for key, value in block.items():
            if isinstance(value, dict) and "groups" in value:
                yield f"  {key}: {value['texts']} texts; per identity group: {value['groups']}"
                top = list(value["terms"].items())[:10]
                yield f"  {key}: most named terms: {', '.join(f'{t} {n}' for t, n in top)}"
            elif isinstance(value, dict):
                yield f"  {key}: {', '.join(f'{k} {v:g}' for k, v in value.items())}"
            else:
                yield f"  {key}: {value}"


def run_audit(home: Path, out: Path) -> Iterator[str]:
    """Audit every training set under `home`; write the report, chart and summary to `out`;
    yield the tables."""
    report = audit(home)
    paths = bias_report.save(out, NAME, report, "Training data representation", headline(report))
    chart(report, paths["chart"])
    yield from table(report)
    yield f"wrote {paths['report']}, {paths['chart'].name} and {paths['summary'].name}"
