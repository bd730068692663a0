"""Provenance text in audio and music files: written by the service, read by `genbot verify`.

Ogg Vorbis and FLAC: Vorbis comments (SOFTWARE, COMMENT), written and read through soundfile.
WAV: a RIFF LIST/INFO chunk after the samples (ISFT the software, ICMT the stamp line), which
every WAV reader skips. MIDI: a text meta event at the start of the first track. ABC: a `%`
comment line after the `X:` line, which ABC readers skip. Stdlib only (soundfile is imported
when an Ogg or FLAC file is read); a file that is not what it claims to be raises TagError.
"""

from __future__ import annotations

import struct

SOFTWARE = "genbot"


class TagError(ValueError):
    """The file is not a well-formed WAV or MIDI file."""


def sound_tags(data: bytes) -> dict[str, str]:
    """Return the software and comment Vorbis tags of Ogg or FLAC bytes (may be empty)."""
    import io

    import soundfile

    try:
        with soundfile.SoundFile(io.BytesIO(data)) as sound:
            tags = {"software": sound.software, "comment": sound.comment}
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise TagError(f"not a readable audio file ({exc})") from None
    return {k: v for k, v in tags.items() if v}


def tag_wav(data: bytes, stamp: str) -> bytes:
    """Return WAV bytes with an INFO chunk naming genbot and carrying `stamp`."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TagError("not a WAV file")
    body = data[12:] + (b"\0" if len(data) % 2 else b"")  # chunks start at even offsets
    info = b"INFO" + _info_entry(b"ISFT", SOFTWARE) + _info_entry(b"ICMT", stamp)
    body += b"LIST" + struct.pack("<I", len(info)) + info
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def wav_tags(data: bytes) -> dict[str, str]:
    """Return the INFO entries of a WAV file ({"ISFT": "genbot", "ICMT": "..."}; may be {})."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TagError("not a WAV file")
    tags, at = {}, 12
    while at + 8 <= len(data):
        kind, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        chunk = data[at + 8 : at + 8 + size]
        if kind == b"LIST" and chunk[:4] == b"INFO":
            tags.update(_info_entries(chunk[4:]))
        at += 8 + size + size % 2
    return tags


def _info_entry(key: bytes, text: str) -> bytes:
    value = text.encode("utf-8") + b"\0"
    return key + struct.pack("<I", len(value)) + value + (b"\0" if len(value) % 2 else b"")


def _info_entries(data: bytes) -> dict[str, str]:
    entries, at = {}, 0
    while at + 8 <= len(data):
        key, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        value = data[at + 8 : at + 8 + size].split(b"\0", 1)[0]
        entries[key.decode("latin-1")] = value.decode("utf-8", errors="replace")
        at += 8 + size + size % 2
    return entries


def tag_midi(data: bytes, text: str) -> bytes:
    """Return a standard MIDI file with a text meta event first in its first track."""
    if data[:4] != b"MThd":
        raise TagError("not a MIDI file")
    header_end = 8 + struct.unpack(">I", data[4:8])[0]
    if data[header_end : header_end + 4] != b"MTrk":
        raise TagError("a MIDI file without tracks")
    size = struct.unpack(">I", data[header_end + 4 : header_end + 8])[0]
    raw = text.encode("utf-8")
    event = b"\x00\xff\x01" + _varlen(len(raw)) + raw  # delta 0, meta, type 1: text
    track = data[header_end + 8 : header_end + 8 + size]
    rest = data[header_end + 8 + size :]
    return data[:header_end] + b"MTrk" + struct.pack(">I", size + len(event)) + event + track + rest


def midi_texts(data: bytes) -> list[str]:
    """Return the texts of a MIDI file's text meta events (any track)."""
    if data[:4] != b"MThd":
        raise TagError("not a MIDI file")
    texts, at = [], data.find(b"\xff\x01")
    while at != -1:
        length, start = _read_varlen(data, at + 2)
        if start + length <= len(data):
            texts.append(data[start : start + length].decode("utf-8", errors="replace"))
        at = data.find(b"\xff\x01", at + 2)
    return texts


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.insert(0, (value & 0x7F) | 0x80)
        value >>= 7
    return bytes(out)


def _read_varlen(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if at >= len(data):
            break
        byte = data[at]
        value, at = (value << 7) | (byte & 0x7F), at + 1
        if not byte & 0x80:
            break
    return value, at


def tag_abc(abc: str, text: str) -> str:
    """Return ABC text with `text` as a comment line after its `X:` line (first otherwise)."""
    first, newline, rest = abc.partition("\n")
    if first.startswith("X:"):
        return f"{first}{newline or chr(10)}% {text}\n{rest}"
    return f"% {text}\n{abc}"


def abc_comments(abc: str) -> list[str]:
    """Return the comment lines of ABC text, without their `%`."""
    return [line.lstrip("%").strip() for line in abc.splitlines() if line.startswith("%")]
