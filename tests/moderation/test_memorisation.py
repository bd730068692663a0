"""The memorisation guard: hashed 50-character windows of private text, encrypted thumbnails of
private images, written beside a model and loaded only with this install's secret."""

import io

import numpy as np
import pytest
from PIL import Image

from data.community import CommunityItem
from data.synthetic import shapes
from moderation import image_index
from moderation.memorisation import (
    INDEX_FILE,
    PrivateIndexError,
    abc_body,
    load_private_index,
    write_private_index,
)
from moderation.ngram_index import WINDOW, NgramIndex, normalise
from moderation.policy import PRESETS, Evidence, decide, policy_for

SECRET = b"test install secret"
PRIVATE = (
    "My grandmother kept bees behind the old mill on Harrow Lane, and every August she "
    "sold the honey to the baker."
)
TUNE = (
    "X:1\nT:Private reel\nM:4/4\nL:1/8\nK:D\n"
    "|:DFAd fdAF|GBdg bgdB|AFDF AFDF|E2FE D2D2:|\nP:B\n"
    "|:fgaf gfed|cdec dcBA|BcdB AFDF|E2FE D2D2:|\n"
)


def _item(k: int, text: str | None = None, png: bytes | None = None, family: str = "text"):
    return CommunityItem(f"c{k}", family, "a prompt", 1, 0, "2026-12-01", "g1", text, png)


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def pictures() -> np.ndarray:
    return shapes(18, size=64, seed=3)[0]


@pytest.fixture
def folder(tmp_path, pictures):
    items = [_item(0, PRIVATE), _item(1, TUNE, family="music")]
    items += [_item(10 + k, png=_png(p), family="gan") for k, p in enumerate(pictures[:6])]
    write_private_index(items, tmp_path, SECRET)
    return tmp_path


def _slice(length: int) -> str:
    """Return a stretch of PRIVATE with `length` normalised characters and no space at either
    end (so that the characters around it in an output cannot extend it)."""
    start = PRIVATE.index("kept")
    while not (PRIVATE[start + length - 1].strip() and PRIVATE[start + length].strip()):
        start += 1  # both the 49- and the 50-character stretch end on a letter
    piece = PRIVATE[start : start + length]
    assert len(normalise(piece)[0]) == length and piece.strip() == piece
    return piece


def test_a_50_character_overlap_is_found_inside_a_longer_output_whatever_its_case_and_spacing(
    folder,
):
    index = load_private_index(folder, SECRET)
    copied = _slice(WINDOW).upper().replace(" ", " \n\t ")
    output = f"Once upon a time.#{copied}#and then the story went on somewhere else."
    hit = index.check_text(output)
    assert hit is not None and hit.kind == "text" and hit.measure == WINDOW
    start, end = hit.span
    assert normalise(output[start:end])[0] == normalise(_slice(WINDOW))[0]


def test_a_49_character_overlap_passes(folder):
    index = load_private_index(folder, SECRET)
    assert index.check_text(f"#{_slice(WINDOW - 1)}#") is None
    assert index.check_text(f"#{_slice(WINDOW)}#") is not None


def test_longest_overlap_measures_the_whole_copied_stretch():
    index = NgramIndex.build([PRIVATE], b"k")
    overlap = index.longest_overlap("Well: " + PRIVATE.lower() + " The end.")
    assert overlap.length == len(normalise(PRIVATE)[0])


def test_the_index_round_trips_and_keeps_no_private_text_or_pixels(folder, pictures):
    stored = b"".join(p.read_bytes() for p in folder.iterdir())
    for form in (PRIVATE, normalise(PRIVATE)[0], _slice(WINDOW), "Harrow Lane"):
        assert form.encode() not in stored and form.encode("utf-16-le") not in stored
    plain = np.round(image_index.thumbnail(pictures[0]) * 255).astype(np.uint8).tobytes()
    assert plain[:96] not in stored and plain[-96:] not in stored
    index = load_private_index(folder, SECRET)
    assert len(index.thumbnails) == 6 and index.check_text(PRIVATE) is not None


def test_another_install_secret_cannot_use_the_index(folder):
    with pytest.raises(PrivateIndexError, match="another install"):
        load_private_index(folder, b"some other install")


def test_a_folder_without_an_index_has_no_guard(tmp_path):
    assert load_private_index(tmp_path, SECRET) is None


def test_a_damaged_index_is_refused(folder):
    (folder / INDEX_FILE).write_bytes(b"not an npz")
    with pytest.raises(PrivateIndexError, match="unreadable"):
        load_private_index(folder, SECRET)


def test_a_re_encoded_or_enlarged_copy_of_a_private_image_is_held(folder, pictures):
    index = load_private_index(folder, SECRET)
    original = Image.fromarray(pictures[2])
    jpeg = io.BytesIO()
    original.save(jpeg, "JPEG", quality=75)
    enlarged = original.resize((256, 256), Image.Resampling.NEAREST)
    for copy in (
        jpeg.getvalue(),
        enlarged,
        np.asarray(enlarged),
        *image_index.reencodings(pictures[2]),
    ):
        hit = index.check_image(copy)
        assert hit is not None and hit.measure < hit.limit


def test_distinct_images_pass(folder, pictures):
    index = load_private_index(folder, SECRET)
    distinct = pictures[6:]  # other shapes (squares, triangles) than the private circles
    assert all(index.check_image(p) is None for p in distinct)


def test_music_is_compared_by_its_notes_not_its_header(folder):
    index = load_private_index(folder, SECRET)
    offset, body = abc_body(TUNE)
    assert TUNE[offset:].startswith("|:DFAd")
    other_header = "X:7\nT:Another title\nM:4/4\nL:1/8\nK:D\n"
    hit = index.check_text(other_header + body)
    assert hit is not None and (other_header + body)[hit.span[0] :].startswith("|:DFAd")
    assert index.check_text(TUNE.split("K:D\n")[0] + "K:D\n|:ABcd efga|\n") is None


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_memorised_output_is_held_in_every_preset_whatever_the_overrides_or_shadow(preset):
    found = [Evidence("memorised", 1.0, "memorisation", (0, 50))]
    for policy in (
        policy_for(preset, age_restricted=True),
        policy_for(preset, {"memorised": [1.01, 1.01]}, age_restricted=True),
        policy_for(preset, shadow=True, age_restricted=True),
    ):
        verdict = decide(found, policy, "output")
        assert verdict.action == "flag" and verdict.top.label == "memorised"
        assert "private" in verdict.explain()


def test_calibration_separates_copies_from_distinct_images():
    images, groups = shapes(24, size=64, seed=0)
    result = image_index.calibrate(images, groups)
    assert result.copy_quantiles["p50"] < result.threshold < result.distinct_quantiles["p50"]
    assert result.copies == 24 * len(image_index.reencodings(images[0]))
    assert 0 <= result.false_pass <= 0.05 and 0 <= result.false_hold <= 0.05
