"""ABC text → the files a person gets: MIDI, an audio file and a piano-roll PNG.

music21 reads the ABC; a tune it cannot read gives a `Rendering` whose notes say why (the caller
then shows the ABC text alone), never an exception. Repeats are played out and the tune is cut
at `MAX_SECONDS`; what then sounds becomes MIDI (music21), audio (a small additive synth in numpy:
FLAC through soundfile when it is installed, else 16-bit WAV through the stdlib) and a piano roll,
all three from the same notes. The PNG carries provenance text chunks like the images do.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import re
import wave
from dataclasses import dataclass
from typing import Any

import numpy as np

from generators.images import png_bytes

log = logging.getLogger(__name__)
MAX_SECONDS = 60.0
RATE = 22_050
ATTACK_S, RELEASE_S = 0.005, 0.06
HARMONICS = ((1, 1.0), (2, 0.45), (3, 0.2), (4, 0.1))  # (multiple, amplitude): a soft pluck
DECAY_PER_S = 2.5
# music21 re-bars a bar that overflows its meter in time that grows steeply with the bar's length
# (minutes for a bar of 160 beats); the folk tunes' longest bars last under 12.
MAX_BAR_QUARTERS = 16.0
# ABC fields that hold words (title, composer, notes, lyrics, …), not music.
_TEXT_FIELD = re.compile(r"^[ABCDFGHNOSTWwZ]:(.*)$", re.M)
_QUOTED = re.compile(r'"[\^_<>@]?([^"]*)"')  # an annotation's placement mark is not a word


class UnreadableTune(ValueError):
    """music21 read the ABC but found nothing to play."""


@dataclass(frozen=True)
class Sound:
    """One sounding pitch: start and length in seconds, MIDI note number."""

    start: float
    length: float
    pitch: int


@dataclass(frozen=True)
class Rendering:
    """The files of one tune; all None when the tune could not be read (`notes` says why)."""

    midi: bytes | None = None
    audio: bytes | None = None
    audio_mime: str = ""
    piano_roll: bytes | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = ()


def words(abc: str) -> str:
    """Return the words of an ABC tune (title, lyrics, other text fields, quoted annotations)."""
    return "\n".join(
        [m.strip() for m in _TEXT_FIELD.findall(abc)] + [q.strip() for q in _QUOTED.findall(abc)]
    ).strip()


def render(
    abc: str, model: str = "music", seed: int = 0, max_seconds: float = MAX_SECONDS
) -> Rendering:
    """Return the `Rendering` of an ABC tune: MIDI, audio and piano roll, or only notes saying
    why music21 could not read it."""
    try:
        sounding, sounds, cut = read(abc, max_seconds)
        midi = midi_bytes(sounding)
    except Exception as exc:  # music21 raises many kinds on bad ABC: a bad tune is data, not a bug
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        log.debug("unreadable tune: %r", exc)
        why = f"{type(exc).__name__}: {reason}" if not isinstance(exc, UnreadableTune) else reason
        return Rendering(notes=(f"music21 could not read the tune ({why}); here is its ABC",))
    audio, mime = encode_audio(synthesize(sounds))
    text = {"ai_generated": "true", "generator": "genbot", "model": model, "seed": str(seed)}
    roll = piano_roll(sounds, {**text, "kind": "piano-roll"})
    seconds = max(s.start + s.length for s in sounds)
    notes = (f"the tune was cut at {max_seconds:g} s",) if cut else ()
    return Rendering(midi, audio, mime, roll, seconds, notes)


def read(abc: str, max_seconds: float = MAX_SECONDS) -> tuple[Any, list[Sound], bool]:
    """Return a flat music21 stream of what sounds (repeats played out, cut at `max_seconds`),
    its sounds, and whether it was cut; raise when music21 cannot read the tune."""
    from music21 import chord, converter, key, meter, note, stream, tempo

    check_bars(abc)
    score = converter.parseData(abc, format="abc")
    with contextlib.suppress(Exception):  # unbalanced repeat signs: play the tune as written
        score = score.expandRepeats()
    flat, out = score.flatten(), stream.Stream()
    markers = (meter.TimeSignature, key.KeySignature, tempo.MetronomeMark)
    sounds, cut = [], False
    for entry in flat.secondsMap:
        element, start = entry["element"], entry["offsetSeconds"]
        length = entry["durationSeconds"] or 0.0
        playable = isinstance(element, note.Note | chord.Chord) and length > 0
        if not (playable or isinstance(element, markers)):
            continue
        if start >= max_seconds or (
            playable and not all(0 <= p.ps <= 127 for p in element.pitches)
        ):
            cut = cut or start >= max_seconds
            continue
        # A copy: music21 may share one marker between measures, which its MIDI writer refuses.
        element, offset = copy.deepcopy(element), element.getOffsetBySite(flat)
        if playable and start + length > max_seconds:
            element.quarterLength *= (max_seconds - start) / length
            length, cut = max_seconds - start, True
        out.insert(offset, element)
        if playable:
            sounds += [Sound(start, length, round(p.ps)) for p in element.pitches]
    if not sounds:
        raise UnreadableTune("it has no notes to play")
    return out, sounds, cut


def check_bars(abc: str) -> None:
    """Raise UnreadableTune when a bar of the tune lasts over MAX_BAR_QUARTERS quarter notes."""
    from music21 import abcFormat

    handler = abcFormat.ABCHandler()
    handler.process(abc)
    length = 0.0
    for token in handler.tokens:
        if isinstance(token, abcFormat.ABCBar):
            length = 0.0
        elif isinstance(token, abcFormat.ABCNote):  # chords and rests included
            length += float(token.quarterLength)
            if length > MAX_BAR_QUARTERS:
                raise UnreadableTune(f"a bar lasts over {MAX_BAR_QUARTERS:g} beats")


def bar_lengths(abc: str) -> list[tuple[float, str]]:
    """Return each bar of the tune as written: its length in quarter notes (tuplets applied, grace
    notes left out) and the bar line that closes it ("" for the last, open one); bars without
    notes (between two adjacent bar lines) are left out."""
    from music21 import abcFormat

    handler = abcFormat.ABCHandler()
    handler.process(abc)
    bars, length = [], 0.0
    for token in handler.tokens:
        if isinstance(token, abcFormat.ABCBar):
            bars.append((length, token.src.strip()))
            length = 0.0
        elif isinstance(token, abcFormat.ABCNote) and not token.inGrace:
            # The handler leaves a tuplet's ratio to the score; a bar's length needs it here.
            ratio = token.activeTuplet.tupletMultiplier() if token.activeTuplet else 1
            length += float(token.quarterLength * ratio)
    bars.append((length, ""))
    return [bar for bar in bars if bar[0] > 0]


def midi_bytes(sounding: Any) -> bytes:
    """Return a standard MIDI file of a music21 stream."""
    from music21 import midi

    return midi.translate.streamToMidiFile(sounding).writestr()


def synthesize(sounds: list[Sound], rate: int = RATE) -> np.ndarray:
    """Return mono float32 samples in [-1, 1]: each pitch a few decaying harmonics, faded in over
    ATTACK_S and out over RELEASE_S after its end, so that no note starts or stops with a click."""
    end = max(s.start + s.length for s in sounds) + RELEASE_S
    out = np.zeros(int(np.ceil(end * rate)) + 1, np.float32)
    for s in sounds:
        t = np.arange(int((s.length + RELEASE_S) * rate)) / rate
        freq = 440.0 * 2.0 ** ((s.pitch - 69) / 12)
        tone = sum(
            a * np.sin(2 * np.pi * k * freq * t) for k, a in HARMONICS if k * freq < rate / 2
        )
        envelope = np.exp(-DECAY_PER_S * t) * np.minimum(1.0, t / ATTACK_S)
        envelope *= np.clip((s.length + RELEASE_S - t) / RELEASE_S, 0.0, 1.0)
        first = round(s.start * rate)
        piece = (tone * envelope)[: len(out) - first]
        out[first : first + len(piece)] += piece
    peak = float(np.abs(out).max())
    return out * (0.8 / peak) if peak > 0 else out


def encode_audio(samples: np.ndarray, rate: int = RATE) -> tuple[bytes, str]:
    """Return 16-bit mono audio file bytes and their MIME type (FLAC with soundfile, else WAV)."""
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    try:
        import soundfile
    except ImportError:  # not a dependency: WAV is bigger but needs nothing
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(pcm.tobytes())
        return buffer.getvalue(), "audio/wav"
    soundfile.write(buffer, pcm, rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue(), "audio/flac"


def piano_roll(sounds: list[Sound], text: dict[str, str], row: int = 8, margin: int = 8) -> bytes:
    """Return a PNG piano roll of the sounds (time across, pitch up; a line at every C)."""
    low, high = min(s.pitch for s in sounds) - 2, max(s.pitch for s in sounds) + 2
    end = max(s.start + s.length for s in sounds)
    scale = float(np.clip(800 / max(end, 1e-3), 10, 80))  # pixels per second: 240-1600 px wide
    width, height = int(end * scale) + 2 * margin + 1, (high - low + 1) * row + 2 * margin
    image = np.full((height, width, 3), 255, np.uint8)
    for pitch in range(low, high + 1):
        y = margin + (high - pitch) * row
        if pitch % 12 in (1, 3, 6, 8, 10):  # black keys: a faint band
            image[y : y + row, margin:-margin] = 244
        if pitch % 12 == 0:
            image[y + row - 1, margin:-margin] = 200
    for second in range(int(end) + 1):
        image[margin:-margin, margin + int(second * scale)] = 225
    for s in sounds:
        y, x0 = margin + (high - s.pitch) * row, margin + int(s.start * scale)
        x1 = max(x0 + 1, margin + int((s.start + s.length) * scale) - 1)
        image[y + 1 : y + row - 1, x0:x1] = (40, 90, 200)
    return png_bytes(image, text)
