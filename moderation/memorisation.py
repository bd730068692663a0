"""The memorisation guard: does an output repeat the private data a model was fine-tuned on?

Community items (`data.community`: consented, approved results) are private: a model fine-tuned
on them must not hand one back to anyone who asks. `write_private_index(items, folder)` writes,
beside the fine-tuned model, what the guard needs and nothing it could leak:

- `private-index.npz`: keyed 64-bit hashes of every 50-character window of the items' texts
  (prompts, generated text, tune bodies), and the items' 16x16 image thumbnails encrypted with
  a keystream;
- `private-index.json`: window, image threshold, counts, families, and a check of the key.

The key comes from this install's secret (`data.install_secret`), so the index means nothing on
another install; loading it there fails loudly instead of letting copies through.
`load_private_index(folder, secret)` returns a `PrivateIndex` whose `check_text` and
`check_image` return a `Hit` (or None); the service turns a hit into a `memorised` reason,
which every policy holds for a moderator's review.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from moderation import image_index
from moderation.ngram_index import WINDOW, NgramIndex
from moderation.policy import Evidence

if TYPE_CHECKING:
    from data.community import CommunityItem

INDEX_FILE, META_FILE = "private-index.npz", "private-index.json"
FORMAT_VERSION = 1
LABEL, SOURCE = "memorised", "memorisation"
_ABC_FIELD = re.compile(r"^[A-Za-z]:.*$", flags=re.M)


class PrivateIndexError(RuntimeError):
    """A private index cannot be used; the message says why and how to rebuild it."""


@dataclass(frozen=True)
class Hit:
    """An output that repeats private training data: which kind, how closely, and where."""

    kind: str  # "text" or "image"
    measure: float  # text: characters repeated; image: distance to the nearest private image
    limit: float  # text: the window; image: the threshold
    span: tuple[int, int] | None = None

    def evidence(self) -> Evidence:
        """Return the hit as policy evidence: label `memorised`, score 1."""
        return Evidence(LABEL, 1.0, SOURCE, self.span)


def derive_key(secret: bytes) -> bytes:
    """Return the index key derived from an install secret (32 bytes)."""
    return hmac.new(secret, b"genbot memorisation index v1", hashlib.sha256).digest()


def _key_check(key: bytes) -> str:
    return hmac.new(key, b"key check", hashlib.sha256).hexdigest()[:16]


def _keystream(key: bytes, nonce: bytes, size: int) -> np.ndarray:
    stream = hashlib.shake_256(key + b"thumbnails" + nonce).digest(size)
    return np.frombuffer(stream, dtype=np.uint8)


def abc_body(text: str) -> tuple[int, str]:
    """Return where the notes of an ABC tune start (after its `K:` line) and the text from
    there, field lines blanked so that offsets still match; text that is not ABC comes back
    whole, from 0."""
    match = re.search(r"^K:.*$\n?", text, flags=re.M)
    if match is None:
        return 0, text
    body = _ABC_FIELD.sub(lambda m: " " * len(m.group()), text[match.end() :])
    return match.end(), body


class PrivateIndex:
    """The loaded guard of one model folder: its text windows and its image thumbnails."""

    def __init__(
        self,
        texts: NgramIndex,
        thumbnails: np.ndarray,
        threshold: float,
        families: Sequence[str] = (),
    ) -> None:
        self.texts, self.thumbnails = texts, np.asarray(thumbnails, dtype=np.float32)
        self.threshold, self.families = threshold, tuple(families)

    def check_text(self, text: str) -> Hit | None:
        """Return a hit when `text` (for a music model, the notes of a tune) repeats at least
        the window's characters of a private item, case and spacing aside."""
        offset, query = abc_body(text) if "music" in self.families else (0, text)
        overlap = self.texts.longest_overlap(query)
        if overlap is None:
            return None
        span = (overlap.span[0] + offset, overlap.span[1] + offset)
        return Hit("text", float(overlap.length), float(self.texts.n), span)

    def check_image(self, image: Any) -> Hit | None:
        """Return a hit when `image` (PNG bytes, PIL image or array) is closer than the
        threshold to a private image."""
        if not len(self.thumbnails):
            return None
        query = image_index.thumbnail(image)[None]
        distance = float(image_index.nearest(query, self.thumbnails)[0][0])
        return Hit("image", distance, self.threshold) if distance < self.threshold else None

    def text_evidence(self, text: str) -> list[Evidence]:
        """Return the `memorised` evidence for one output text (empty when it passes)."""
        hit = self.check_text(text)
        return [hit.evidence()] if hit else []

    def image_evidence(self, image: Any) -> list[Evidence]:
        """Return the `memorised` evidence for one output image (empty when it passes)."""
        hit = self.check_image(image)
        return [hit.evidence()] if hit else []


def _item_texts(item: CommunityItem) -> list[str]:
    texts = [item.prompt]
    if item.text is not None:
        texts.append(abc_body(item.text)[1] if item.family == "music" else item.text)
    return [t for t in texts if t]


def write_private_index(
    items: Sequence[CommunityItem],
    folder: Path,
    secret: bytes | None = None,
    n: int = WINDOW,
    threshold: float = image_index.THRESHOLD,
) -> Path:
    """Write the guard of the private `items` a model in `folder` was fine-tuned on; return the
    JSON file's path. Keeps keyed hashes and encrypted thumbnails only, never a private text or
    image. `secret`: this install's (`data.install_secret.load(home)`); None reads it from
    GENBOT_INSTALL_SECRET or GENBOT_HOME (default ./var)."""
    key, nonce = derive_key(secret or _install_secret()), secrets.token_bytes(16)
    texts = NgramIndex.build([t for item in items for t in _item_texts(item)], key, n)
    pictures = [image_index.thumbnail(i.image_png) for i in items if i.image_png is not None]
    quantised = np.round(np.stack(pictures) * 255).astype(np.uint8) if pictures else None
    sealed = np.empty((0, image_index.SIDE**2 * 3), dtype=np.uint8)
    if quantised is not None:
        sealed = quantised ^ _keystream(key, nonce, quantised.size).reshape(quantised.shape)
    meta = {
        "format_version": FORMAT_VERSION,
        "window": n,
        "image_threshold": threshold,
        "image_side": image_index.SIDE,
        "items": len(items),
        "text_windows": len(texts),
        "images": len(sealed),
        "families": sorted({item.family for item in items}),
        "key_check": _key_check(key),
    }
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # The JSON first: it marks the folder as guarded, so a write that fails half-way leaves a
    # model that refuses to load rather than one served without its guard.
    path = folder / META_FILE
    path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    with (folder / INDEX_FILE).open("wb") as out:
        np.savez(out, hashes=texts.hashes, thumbnails=sealed, nonce=np.frombuffer(nonce, "u1"))
    return path


def _install_secret() -> bytes:
    from data import install_secret

    return install_secret.load(Path(os.environ.get("GENBOT_HOME") or "var"))


def has_private_index(folder: Path) -> bool:
    """Return whether `folder` holds a private index."""
    return (Path(folder) / META_FILE).is_file()


def load_private_index(folder: Path, secret: bytes) -> PrivateIndex | None:
    """Return the guard written into `folder`, None when there is none; raise
    PrivateIndexError when it is damaged or keyed by another install's secret."""
    folder = Path(folder)
    if not has_private_index(folder):
        return None
    key = derive_key(secret)
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        with np.load(folder / INDEX_FILE, allow_pickle=False) as data:
            hashes, sealed, nonce = data["hashes"], data["thumbnails"], data["nonce"].tobytes()
    except (OSError, ValueError, KeyError) as exc:
        raise PrivateIndexError(f"{folder}: unreadable private index ({exc})") from exc
    if meta.get("format_version") != FORMAT_VERSION:
        raise PrivateIndexError(
            f"{folder / META_FILE}: format {meta.get('format_version')}, "
            f"this genbot reads {FORMAT_VERSION}; rebuild it"
        )
    if meta.get("key_check") != _key_check(key):
        raise PrivateIndexError(
            f"{folder / META_FILE}: written with another install's secret; rebuild it here "
            "from the community export, or set GENBOT_INSTALL_SECRET to that install's"
        )
    opened = sealed ^ _keystream(key, nonce, sealed.size).reshape(sealed.shape)
    return PrivateIndex(
        NgramIndex(hashes, key, int(meta["window"])),
        opened.astype(np.float32) / 255.0,
        float(meta["image_threshold"]),
        meta.get("families", ()),
    )
