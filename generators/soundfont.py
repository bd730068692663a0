"""MIDI → audio through FluidSynth and a General MIDI soundfont, when this machine has both
(Debian: `fluidsynth` and `timgm6mb-soundfont`, which install.sh adds where it may use apt).
Real instruments instead of the built-in additive synth; without them, callers fall back.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
# Debian's soundfont packages put their files here (default-GM.sf2 links to the installed one).
SOUNDFONTS = (
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)
TIMEOUT_S = 30.0


def find(fonts: tuple[str, ...] = SOUNDFONTS) -> tuple[str, str] | None:
    """Return (fluidsynth binary, soundfont path) when both exist here, else None."""
    binary = shutil.which("fluidsynth")
    font = next((f for f in fonts if Path(f).is_file()), None)
    return (binary, font) if binary and font else None


def render(midi: bytes, rate: int, tools: tuple[str, str] | None = None) -> np.ndarray | None:
    """Return mono float samples in [-1, 1] of the MIDI played with the soundfont, or None when
    FluidSynth is absent or fails (the caller then uses its own synth)."""
    tools = tools or find()
    if tools is None:
        return None
    binary, font = tools
    with tempfile.TemporaryDirectory(prefix="genbot-fluidsynth-") as folder:
        source, target = Path(folder) / "tune.mid", Path(folder) / "tune.wav"
        source.write_bytes(midi)
        command = [binary, "-ni", "-q", "-g", "0.6", "-r", str(rate), "-T", "wav", "-O", "s16"]
        command += ["-F", str(target)]
        try:
            subprocess.run(
                [*command, font, str(source)],
                capture_output=True,
                timeout=TIMEOUT_S,
                check=True,
            )
            return _samples(target)
        except (OSError, subprocess.SubprocessError, wave.Error, ValueError) as exc:
            log.warning("fluidsynth failed (%s); using the built-in synth", exc)
            return None


def _samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as reader:
        width, channels = reader.getsampwidth(), reader.getnchannels()
        frames = reader.readframes(reader.getnframes())
    if width != 2:
        raise ValueError(f"unexpected {8 * width}-bit output")
    pcm = np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0
    mono = pcm.reshape(-1, channels).mean(axis=1)
    # FluidSynth renders a tail of silence after the last note: trim it. Its level depends on
    # the soundfont: bring the peak to the built-in synth's 0.8.
    loud = np.flatnonzero(np.abs(mono) > 1e-4)
    mono = mono[: loud[-1] + 1] if loud.size else mono
    peak = float(np.abs(mono).max()) if mono.size else 0.0
    return mono * (0.8 / peak) if peak > 0 else mono
