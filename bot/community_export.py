"""`genbot data export-community`: the community dataset as JSONL with its datasheet.

Only approved items whose author consents *now* leave the store (`Store.community_items`
joins consent at export time, so a withdrawn consent takes an item out of every later export);
ids become salted hashes; prompts and texts are redacted again and any item in which the PII
detector still finds something is left out and counted.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data import install_secret
from data.community import DATASHEET_FILE, EXPORT_FILE, CommunityItem, write_items
from moderation.scorers.pii import PiiDetector, redact


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote and what it left out."""

    items: int
    dropped_pii: int
    below_rating: int
    folder: Path
    datasheet: dict[str, Any]


def _day(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def to_item(row: dict[str, Any], secret: bytes) -> CommunityItem:
    """Return the dataset record of a community_items row: pseudonymous, redacted."""
    return CommunityItem(
        id=install_secret.pseudonym(secret, "item", row["id"]),
        family=row["family"],
        prompt=redact(row["prompt"]),
        up=row["up"],
        down=row["down"],
        approved_at=_day(row["approved_at"]),
        guild=install_secret.pseudonym(secret, "guild", row["guild"] or 0),
        text=redact(row["text"]) if row["text"] is not None else None,
        image_png=row["image_png"],
    )


def export(
    store: Any,
    folder: Path,
    secret: bytes,
    *,
    guild: int | None = None,
    min_rating: int | None = None,
) -> ExportSummary:
    """Write `folder/community.jsonl` and its datasheet (Markdown and JSON); return a summary."""
    detector = PiiDetector()
    items, dropped, below = [], 0, 0
    for row in store.community_items(guild=guild):
        item = to_item(row, secret)
        if min_rating is not None and item.rating < min_rating:
            below += 1
        elif detector.find(item.prompt) or (item.text and detector.find(item.text)):
            dropped += 1
        else:
            items.append(item)
    folder.mkdir(parents=True, exist_ok=True)
    write_items(items, folder / EXPORT_FILE)
    sheet = datasheet(items, dropped_pii=dropped, below_rating=below, min_rating=min_rating)
    (folder / "datasheet.json").write_text(json.dumps(sheet, indent=2, sort_keys=True) + "\n")
    (folder / DATASHEET_FILE).write_text(datasheet_markdown(sheet), encoding="utf-8")
    return ExportSummary(len(items), dropped, below, folder, sheet)


def datasheet(
    items: list[CommunityItem], *, dropped_pii: int, below_rating: int, min_rating: int | None
) -> dict[str, Any]:
    """Return the datasheet's figures: counts, date range, rating and label distributions."""
    days = sorted(i.approved_at for i in items)
    labels = Counter(
        "liked" if i.rating > 0 else "disliked" if i.rating < 0 else "unrated" for i in items
    )
    return {
        "items": len(items),
        "by_family": dict(sorted(Counter(i.family for i in items).items())),
        "guilds": len({i.guild for i in items}),
        "date_range": [days[0], days[-1]] if days else None,
        "ratings": dict(sorted(Counter(i.rating for i in items).items())),
        "labels": dict(sorted(labels.items())),
        "left_out": {"pii_found": dropped_pii, "below_min_rating": below_rating},
        "min_rating": min_rating,
        "made_at": _day(time.time()),
    }


def datasheet_markdown(sheet: dict[str, Any]) -> str:
    """Return the datasheet as Markdown, after the questions of Gebru et al.'s Datasheets."""
    families = ", ".join(f"{k} {v}" for k, v in sheet["by_family"].items()) or "none"
    span = " to ".join(sheet["date_range"]) if sheet["date_range"] else "no items"
    ratings = ", ".join(f"{k:+d}: {v}" for k, v in sheet["ratings"].items()) or "none"
    labels = ", ".join(f"{k} {v}" for k, v in sheet["labels"].items()) or "none"
    left = sheet["left_out"]
    return f"""# Datasheet: genbot community dataset

Made {sheet["made_at"]} by `genbot data export-community`.

## Motivation
Results a community made with genbot, which its moderators approved into the gallery, for
fine-tuning genbot's models on what the community likes (`genbot train <family> --finetune-from
CKPT --data <this folder>`).

## Composition
- {sheet["items"]} items from {sheet["guilds"]} server(s): {families}.
- Approved between {span}.
- Ratings (👍 minus 👎): {ratings}. Labels: {labels}.
- Each item: the prompt, one output (an image tile as PNG, a text, or a tune in ABC), its
  ratings and approval day. No Discord ids: item and server ids are salted hashes.

## Collection process
Only results whose author had turned `/privacy consent on` in that server, and that a moderator
promoted with `/mod gallery promote`. Consent is checked again at every export: a member who
withdraws it, or runs `/privacy forget`, is in no later export.

## Preprocessing
Personal information (emails, phone numbers, IP addresses, payment cards, Discord tokens and
invites) is redacted when a prompt is stored and again here; items in which the detector still
finds any were left out ({left["pii_found"]}). Items under the minimum rating
({sheet["min_rating"]}) were left out ({left["below_min_rating"]}).

## Uses
Fine-tuning and evaluating genbot's generators in the same community. Private data: models
fine-tuned on it carry a memorisation guard (outputs that reproduce an item are held).

## Distribution and maintenance
Not for publication outside the community. Re-export to honour withdrawals; delete old exports.
"""
