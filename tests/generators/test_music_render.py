"""ABC → MIDI, audio and piano roll: a real folk tune, the caps, and ABC that cannot be played."""

import io
import time
import wave

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from generators import music_render

# The Kesh (traditional jig): two repeated parts of eight bars, 48 notes each, two beats a bar.
KESH = """X:1
T:The Kesh
R:jig
M:6/8
L:1/8
Q:3/8=116
K:G
|:GAG GAB|ABA ABd|edd gdd|edB dBA|GAG GAB|ABA ABd|edd gdB|AGF G3:|
|:BAB dBd|ege dBA|BAB dBG|ABA AGA|BAB dBd|ege dBd|gfg aga|bgg g3:|
"""
KESH_SECONDS = 32 * 2 * 60 / 116  # 32 bars (repeats played out), a dotted quarter a beat
AUDIO_BUDGET = 8 * 2**20  # bytes per 60 s


def audio_of(rendering):
    """Return (samples per second, seconds) of the rendered audio file."""
    if rendering.audio_mime in ("audio/ogg", "audio/flac"):
        import soundfile

        info = soundfile.info(io.BytesIO(rendering.audio))
        return info.samplerate, info.duration
    with wave.open(io.BytesIO(rendering.audio)) as reader:
        assert reader.getnchannels() == 1 and reader.getsampwidth() == 2
        return reader.getframerate(), reader.getnframes() / reader.getframerate()


@pytest.fixture(scope="module")
def kesh():
    return music_render.render(KESH, "music:test", 42)


def test_a_folk_tune_becomes_midi_that_music21_reads_back(kesh):
    from music21 import converter

    assert kesh.midi[:4] == b"MThd" and kesh.notes == ()
    notes = converter.parseData(kesh.midi, format="midi").flatten().notes
    assert len(notes) == 184  # both parts twice: repeats are played out
    assert [n.pitch.name for n in notes[:6]] == ["G", "A", "G", "G", "A", "B"]
    assert kesh.seconds == pytest.approx(KESH_SECONDS, abs=0.05)


def test_the_audio_lasts_the_tune_and_fits_the_budget(kesh):
    rate, seconds = audio_of(kesh)
    assert rate == music_render.RATE and kesh.audio_mime == "audio/ogg"  # soundfile is installed
    assert KESH_SECONDS <= seconds <= KESH_SECONDS + music_render.RELEASE_S + 0.01
    assert len(kesh.audio) / seconds * 60 < AUDIO_BUDGET


def test_the_piano_roll_is_a_png_with_provenance(kesh):
    picture = Image.open(io.BytesIO(kesh.piano_roll))
    assert picture.format == "PNG" and 240 <= picture.width <= 1700 and picture.height > 40
    assert picture.text["ai_generated"] == "true" and picture.text["seed"] == "42"
    assert picture.text["model"] == "music:test"


def test_rendering_is_deterministic(kesh):
    again = music_render.render(KESH, "music:test", 42)
    assert (again.midi, again.audio, again.piano_roll) == (kesh.midi, kesh.audio, kesh.piano_roll)


def test_a_long_tune_is_cut_at_the_cap():
    rendering = music_render.render(KESH, max_seconds=20)
    _, seconds = audio_of(rendering)
    assert rendering.seconds == pytest.approx(20) and seconds < 20.1
    assert any("cut at 20 s" in n for n in rendering.notes)
    body = KESH.split("K:G\n")[1].replace(":|", "|").replace("|:", "|")
    longest = music_render.render(KESH + body * 2)  # 66 s, cut at MAX_SECONDS
    assert longest.seconds == pytest.approx(music_render.MAX_SECONDS)
    assert len(longest.audio) < AUDIO_BUDGET


def test_notes_start_and_stop_without_a_click():
    samples = music_render.synthesize([music_render.Sound(0.0, 0.5, 69)])
    assert len(samples) == pytest.approx((0.5 + music_render.RELEASE_S) * music_render.RATE, abs=2)
    assert abs(samples[0]) < 1e-3 and np.abs(samples[-20:]).max() < 1e-2
    assert 0.7 < np.abs(samples).max() <= 0.8 + 1e-6


@pytest.mark.parametrize(
    "abc",
    [
        "",
        "garbage, not a tune",
        "X:1\nM:banana\nK:H#\nabc",
        "X:1\nK:G\n(((((|||]]]",
        "X:1\nK:G\n^^^^=__/3(9[[[",
        "X:1\nL:1/8\nK:D\n|ab|A324 b|",  # once minutes inside music21: a bar of 160 beats
        "X:1\nL:1/8\nK:D\nz8|z8|",  # rests only
    ],
)
def test_abc_that_cannot_be_played_gives_a_note_not_an_exception(abc):
    started = time.monotonic()
    rendering = music_render.render(abc)
    assert rendering.midi is None and rendering.audio is None and rendering.piano_roll is None
    assert "music21 could not read the tune" in rendering.notes[0]
    assert time.monotonic() - started < 2


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(alphabet="ABCDEFGabcdefgz,'^_=/23468|:[]() \"<>K", max_size=80))
def test_random_bodies_never_raise(body):
    rendering = music_render.render(f"X:1\nM:4/4\nL:1/8\nQ:1/4=120\nK:D\n{body}\n")
    assert (rendering.midi is None) == bool(rendering.notes)


def test_words_are_what_a_person_reads():
    abc = 'X:1\nT:The Kesh\nC:trad.\nM:6/8\nK:G\n"^with feeling"GAG|\nw: la la la\n'
    assert music_render.words(abc).splitlines() == ["The Kesh", "trad.", "la la la", "with feeling"]


def test_fluidsynth_plays_the_tune_when_this_machine_has_it():
    from generators import soundfont

    if soundfont.find() is None:
        pytest.skip("no fluidsynth + soundfont here (install.sh adds them where it may use apt)")
    played = music_render.render(KESH, "music:test", 42)
    assert played.synth == "fluidsynth" and played.audio_mime == "audio/ogg"
    rate, seconds = audio_of(played)
    assert (
        rate == music_render.RATE
        and KESH_SECONDS - 0.5 <= seconds <= KESH_SECONDS + music_render.RELEASE_S + 0.01
    )
    # Without it the built-in synth plays the same notes.
    built_in = music_render.render(KESH, "music:test", 42, use_soundfont=False)
    assert built_in.synth == "built-in" and built_in.midi == played.midi
    assert built_in.audio != played.audio


def test_a_failing_fluidsynth_falls_back_to_the_built_in_synth(tmp_path):
    from generators import soundfont

    broken = tmp_path / "fluidsynth"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    midi = music_render.render(KESH, "music:test", 42).midi
    assert soundfont.render(midi, music_render.RATE, (str(broken), str(tmp_path / "x.sf2"))) is None
    assert soundfont.find((str(tmp_path / "missing.sf2"),)) is None
