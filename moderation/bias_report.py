"""The files of the bias audits under GENBOT_HOME/reports, and the short text the bot shows.

Each audit writes `<name>.json` (the whole report), `<name>.png` (its chart) and
`<name>.summary.json`: a title, when it ran, and a few headline lines. `/mod stats bias` reads
only the summaries (torch-free, small), the most recent first, in as many messages as Discord's
2,000 characters need.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
SUFFIX = ".summary.json"
MESSAGE_LIMIT = 2000  # characters in one Discord message


def save(out: Path, name: str, report: dict, title: str, lines: Sequence[str]) -> dict[str, Path]:
    """Write `<name>.json` and `<name>.summary.json` into `out`; return their paths (the
    caller draws `<name>.png`, listed too)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "report": out / f"{name}.json",
        "chart": out / f"{name}.png",
        "summary": out / f"{name}{SUFFIX}",
    }
    paths["report"].write_text(json.dumps(report, indent=2), encoding="utf-8")
    summary = {
        "name": name,
        "title": title,
        "created_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "lines": list(lines),
        "report": paths["report"].name,
        "chart": paths["chart"].name,
    }
    paths["summary"].write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return paths


def read_summaries(reports: Path) -> list[dict]:
    """Return the summaries in `reports`, the most recently written first; unreadable ones
    are skipped (and logged), so one broken file never hides the others."""
    found = []
    for path in reports.glob(f"*{SUFFIX}") if reports.is_dir() else ():
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
            found.append((path.stat().st_mtime, summary["title"], summary))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("skipping bias summary %s: %s", path, exc)
    return [s for _, _, s in sorted(found, key=lambda item: (-item[0], item[1]))]


def summaries_text(summaries: Sequence[dict], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Return the summaries as Discord messages of at most `limit` characters: per audit a
    bold title and date, then its lines; audits are not split unless one alone is too long."""
    if not summaries:
        return [
            "No bias audits yet. Run `genbot audit moderation`, `genbot audit generation "
            "--family gan|text|music` or `genbot audit data` on the bot's machine."
        ]
    messages: list[str] = []
    for s in summaries:
        block = "\n".join(
            [f"**{s['title']}** ({s.get('created_at', '?')})"]
            + [f"- {line}" for line in s.get("lines", [])]
        )
        if len(block) > limit:
            block = block[: limit - 2].rsplit("\n", 1)[0] + "\n…"
        if messages and len(messages[-1]) + 2 + len(block) <= limit:
            messages[-1] += "\n\n" + block
        else:
            messages.append(block)
    note = "\nFull reports: JSON and PNG in GENBOT_HOME/reports/."
    if len(messages[-1]) + len(note) <= limit:
        messages[-1] += note
    return messages


def summary_messages(reports: Path) -> list[str]:
    """Return what `/mod stats bias` shows: the summaries in `reports`, as messages."""
    return summaries_text(read_summaries(reports))


def draw_rates(ax: Any, rows: Sequence[dict], title: str, baseline: float | None = None) -> None:
    """Draw groups' rates as bars with their bootstrap intervals on a matplotlib axis."""
    names = [r["group"] for r in rows]
    rates = [r["rate"] for r in rows]
    errors = [[r["rate"] - r["low"] for r in rows], [r["high"] - r["rate"] for r in rows]]
    ax.bar(range(len(rows)), rates, yerr=errors, capsize=3, color="#5bc0de", ecolor="#333")
    if baseline is not None:
        ax.axhline(baseline, color="grey", ls="--", lw=1, label="random baseline")
        ax.legend(loc="upper right", fontsize=7)
    ax.set_xticks(range(len(rows)), names, rotation=45, ha="right", fontsize=7)
    ax.set_title(title, fontsize=9)


def rate_line(label: str, rows: Sequence[dict], spread: dict, kind: str = "share") -> str:
    """Return one headline line: the highest and the lowest group with their intervals, then
    the disparity. `kind`: "share" (a rate, shown in %) or "score" (in [0, 1]) get the max/min
    ratio; "signed" (sentiment, in [-1, 1], where a ratio means nothing) gets the gap."""
    formats = {"share": "{:.1%}", "score": "{:.3f}", "signed": "{:+.3f}"}
    fmt = formats[kind].format

    def cell(row: dict) -> str:
        return f"{row['group']} {fmt(row['rate'])} [{fmt(row['low'])}, {fmt(row['high'])}]"

    if not rows:
        return f"{label}: no groups"
    by_group = {r["group"]: r for r in rows}
    high, low = by_group[spread["highest"]], by_group[spread["lowest"]]
    if kind == "signed":
        tail = f"gap {spread['gap']:.3f}"
    elif spread["max_min_ratio"] is None:
        tail = "max/min undefined (lowest is 0)"
    else:
        tail = f"max/min {spread['max_min_ratio']:.2f}"
    return f"{label}: highest {cell(high)}, lowest {cell(low)}; {tail}"
