"""The community dataset: consented, moderator-approved results with their ratings, as JSONL.

`genbot data export-community` writes it from the store; fine-tuning (`genbot train <family>
--finetune-from CKPT --data FILE`) and the memorisation guard read it. One record per line:

    {"id": "c1f0…", "family": "gan", "prompt": "a red [email removed] balloon",
     "text": null, "image_png_base64": "iVBOR…", "up": 3, "down": 0,
     "approved_at": "2026-12-01", "guild": "9ab1…"}

`id` and `guild` are salted hashes (never Discord ids); `prompt` is already PII-redacted; exactly
one of `text` (generated text, or ABC for music) and `image_png_base64` (one RGB tile) is set.
Torch-free: the trainers turn records into tensors themselves.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

FAMILIES = ("gan", "vae", "text", "music")
EXPORT_FILE = "community.jsonl"
DATASHEET_FILE = "DATASHEET.md"


class CommunityDataError(ValueError):
    """A community export is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class CommunityItem:
    """One approved, consented result: what was asked, what was made, how it was rated."""

    id: str
    family: str
    prompt: str
    up: int
    down: int
    approved_at: str
    guild: str
    text: str | None = None
    image_png: bytes | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise CommunityDataError(f"family must be one of {FAMILIES}, not {self.family!r}")
        if (self.text is None) == (self.image_png is None):
            raise CommunityDataError(f"item {self.id}: exactly one of text and image is set")

    @property
    def rating(self) -> int:
        """Return up-votes minus down-votes."""
        return self.up - self.down

    def to_json(self) -> dict:
        """Return the record as one JSON object (the image as base64 PNG)."""
        row = asdict(self)
        png = row.pop("image_png")
        row["image_png_base64"] = base64.b64encode(png).decode() if png is not None else None
        return row

    @classmethod
    def from_json(cls, row: dict) -> CommunityItem:
        """Return the item a JSON object describes; raise CommunityDataError if it is invalid."""
        row = dict(row)
        encoded = row.pop("image_png_base64", None)
        try:
            png = base64.b64decode(encoded, validate=True) if encoded is not None else None
            return cls(**row, image_png=png)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, CommunityDataError):
                raise
            raise CommunityDataError(str(exc)) from exc


def write_items(items: Iterable[CommunityItem], path: Path) -> int:
    """Write `items` as JSONL to `path` (atomically); return how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as out:
        for item in items:
            out.write(json.dumps(item.to_json(), sort_keys=True) + "\n")
            count += 1
    tmp.replace(path)
    return count


def read_items(path: Path, family: str | None = None) -> list[CommunityItem]:
    """Return the items of an export (a JSONL file, or a folder holding community.jsonl),
    only those of `family` when given; raise CommunityDataError naming the bad line."""
    path = Path(path)
    if path.is_dir():
        path = path / EXPORT_FILE
    if not path.is_file():
        raise CommunityDataError(
            f"{path}: no community export here (make one with `genbot data export-community`)"
        )
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = CommunityItem.from_json(json.loads(line))
        except (json.JSONDecodeError, CommunityDataError) as exc:
            raise CommunityDataError(f"{path}:{number}: {exc}") from exc
        if family is None or item.family == family:
            items.append(item)
    return items
