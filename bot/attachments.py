"""Reading an uploaded image safely: only from the interaction's resolved attachments, with a
size cap checked before download, content sniffing (never the filename), and Pillow's
decompression-bomb guard and a pixel cap (in `moderation.uploads.open_image`)."""

from __future__ import annotations

from typing import Any

from moderation.uploads import MAX_BYTES, UploadError, open_image

MAGIC = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
}


def sniff(data: bytes) -> str | None:
    """Return the image format the bytes start with, or None when they are not an image."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((kind for magic, kind in MAGIC.items() if data.startswith(magic)), None)


def check_image(data: bytes, max_bytes: int = MAX_BYTES) -> bytes:
    """Return the bytes when they are a usable image; raise UploadError saying why not."""
    if len(data) > max_bytes:
        raise UploadError(
            f"the file is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB"
        )
    if sniff(data) is None:
        raise UploadError("that file is not a PNG, JPEG, GIF, WebP or BMP image")
    open_image(data, max_bytes=max_bytes)
    return data


async def read_image(attachment: Any, max_bytes: int = MAX_BYTES) -> bytes:
    """Return a checked image from a discord.Attachment, refusing oversized ones unread."""
    if attachment.size > max_bytes:
        raise UploadError(
            f"{attachment.filename!r} is {attachment.size / 2**20:.1f} MB; the "
            f"limit is {max_bytes / 2**20:.0f} MB"
        )
    return check_image(await attachment.read(), max_bytes)
