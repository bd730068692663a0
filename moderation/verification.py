"""Did this install make a file? What `genbot verify` finds in an image, WAV, MIDI or ABC file.

Images: the watermark in the pixels (survives re-encoding and resizing) and the signed PNG text
chunks (exact, but lost on re-encoding). Audio and music: the signed stamp in their metadata.
A signature or watermark tag that is not this install's cannot say whose it is: another
install's marks and edited metadata look the same from here, so the words say only what is known.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moderation import media_tags
from moderation.provenance import AI_GENERATED, Marker, Stamp, parse_stamp, png_stamp

Lookup = Callable[[str, int], "dict | None"]  # (mark, max bit errors) -> job row or None
MAX_FILE_BYTES = 64 * 2**20
# A mark read from pixels may have a flipped bit or two; metadata marks are exact.
WATERMARK_MARK_ERRORS = 2
_ABC = re.compile(r"^[XK]:", re.M)


class VerifyError(ValueError):
    """The file cannot be checked; the message says why."""


@dataclass(frozen=True)
class Finding:
    """What one file says about where it came from."""

    kind: str
    from_install: bool
    evidence: tuple[str, ...]
    mark: str | None = None
    job: dict | None = None
    tag_bits: tuple[int, int] | None = None  # watermark tag bits matching, of how many
    mark_from: str = ""  # "metadata" (exact) or "watermark" (a bit may be off)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the job as its id, command and state)."""
        job = {k: self.job[k] for k in ("id", "command", "state")} if self.job else None
        return {
            "kind": self.kind,
            "from_install": self.from_install,
            "mark": self.mark,
            "job": job,
            "watermark_tag_bits": list(self.tag_bits) if self.tag_bits else None,
            "evidence": list(self.evidence),
        }

    def summary(self, store: str | None) -> str:
        """Return one line: from this install or not, and the evidence that says so (`store`
        names the database the job was looked up in, None when there is none)."""
        if not self.from_install:
            return "from this install: no (no genbot mark of this install found)"
        parts = []
        if self.tag_bits:
            parts.append(f"watermark {self.tag_bits[0]}/{self.tag_bits[1]} tag bits")
        if self.mark:
            parts.append(f"mark {self.mark}")
        if self.job:
            parts.append(f"job {self.job['id']} in {store}")
        elif self.mark and store:
            parts.append(f"no job with this mark in {store}")
        return f"from this install: yes ({', '.join(parts)})"


def check(data: bytes, marker: Marker | None, lookup: Lookup | None = None) -> Finding:
    """Return what a file's marks say; raise VerifyError for a file that cannot be checked.
    Without a marker (an install that has no secret yet) nothing is this install's."""
    if len(data) > MAX_FILE_BYTES:
        raise VerifyError(f"the file is over {MAX_FILE_BYTES // 2**20} MB")
    kind = sniff(data)
    if marker is None:
        return Finding(kind, False, ("this install has no secret yet: it has marked nothing",))
    finding = _image(data, marker) if kind == "image" else _tagged(kind, data, marker)
    if finding.mark and lookup is not None:
        errors = WATERMARK_MARK_ERRORS if finding.mark_from == "watermark" else 0
        finding = dataclasses.replace(finding, job=lookup(finding.mark, errors))
    return finding


def sniff(data: bytes) -> str:
    """Return the kind of file: image, Ogg/FLAC/WAV audio, MIDI or ABC; raise VerifyError
    otherwise."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "WAV audio"
    if data[:4] == b"OggS":
        return "Ogg audio"
    if data[:4] == b"fLaC":
        return "FLAC audio"
    if data[:4] == b"MThd":
        return "MIDI"
    if data[:8] == b"\x89PNG\r\n\x1a\n" or data[:3] == b"\xff\xd8\xff" or data[:4] == b"GIF8":
        return "image"
    if (data[:4] == b"RIFF" and data[8:12] == b"WEBP") or data[:2] == b"BM":
        return "image"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if _ABC.search(text):
        return "ABC"
    raise VerifyError("not an image, audio (Ogg, FLAC, WAV), MIDI or ABC file genbot can check")


def _image(data: bytes, marker: Marker) -> Finding:
    import numpy as np

    from moderation import watermark
    from moderation.uploads import UploadError, open_image

    try:
        image, _ = open_image(data, max_bytes=MAX_FILE_BYTES)
    except UploadError as exc:
        raise VerifyError(str(exc)) from None
    reading = watermark.read(np.asarray(image), marker.secret)
    stamp = png_stamp(_png_text(data))
    evidence = [_stamp_words(stamp, marker, "PNG text")] if stamp else []
    if reading is None:
        width, height = image.size
        large = width * height > watermark.MAX_PIXELS
        why = "too large to be a genbot image" if large else "too small to carry one"
        evidence.append(f"watermark: none read ({width}×{height} is {why})")
    elif reading.from_install:
        evidence.append(
            f"watermark: this install's ({reading.tag_matches}/{watermark.TAG_BITS} tag bits"
            f"{_where(reading, image.size)})"
        )
    else:
        evidence.append(
            f"watermark: none of this install's (at best {reading.tag_matches}/"
            f"{watermark.TAG_BITS} tag bits, about {watermark.TAG_BITS // 2} is chance)"
        )
    signed = stamp is not None and marker.signed(stamp)
    marked = reading is not None and reading.from_install
    mark = stamp.mark if signed else (reading.mark if marked else None)
    tag_bits = (reading.tag_matches, watermark.TAG_BITS) if marked else None
    source = "metadata" if signed else "watermark"
    return Finding("image", signed or marked, tuple(evidence), mark, None, tag_bits, source)


def _where(reading: Any, size: tuple[int, int]) -> str:
    """Return where the watermark was read: the grid's cell, and the size when it was resized."""
    width, height = reading.size
    resized = "" if reading.size == size else f", read at {width}×{height}"
    if reading.layout is None:
        return resized
    grid = f"{reading.layout.columns}×{reading.layout.rows} grid"
    return f", image {reading.tile + 1} of a {grid}{resized}"


def _png_text(data: bytes) -> dict[str, str]:
    from PIL import Image

    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return {}
    with Image.open(io.BytesIO(data)) as image:  # open_image has already checked its size
        return dict(getattr(image, "text", {}) or {})


def _tagged(kind: str, data: bytes, marker: Marker) -> Finding:
    try:
        if kind == "WAV audio":
            texts = list(media_tags.wav_tags(data).values())
        elif kind in ("Ogg audio", "FLAC audio"):
            texts = list(media_tags.sound_tags(data).values())
        elif kind == "MIDI":
            texts = media_tags.midi_texts(data)
        else:
            texts = media_tags.abc_comments(data.decode("utf-8"))
    except (media_tags.TagError, UnicodeDecodeError) as exc:
        raise VerifyError(f"a damaged {kind} file ({exc})") from None
    stamp = next((s for s in map(parse_stamp, texts) if s), None)
    if stamp is None:
        said = any(AI_GENERATED in t for t in texts)
        line = "says it is AI-generated by genbot, without a mark" if said else "no genbot mark"
        return Finding(kind, False, (f"metadata: {line}",))
    signed = marker.signed(stamp)
    mark = stamp.mark if signed else None
    return Finding(kind, signed, (_stamp_words(stamp, marker, kind),), mark, mark_from="metadata")


def _stamp_words(stamp: Stamp, marker: Marker, where: str) -> str:
    if marker.signed(stamp):
        return f"metadata: signed by this install ({where}, mark {stamp.mark})"
    return (
        f"metadata: a genbot mark this install did not sign ({where}: another install's, or edited)"
    )
