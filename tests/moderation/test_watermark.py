"""The image watermark: round trip, JPEG q80 and 10% resizes, and no false finds; grids read
cell by cell, and one image cropped out of a grid.

The images are what the service marks: 64-px emoji-like shapes on white (data.synthetic), enlarged
4 times to 256 px, and 2×2 grids laid out of them as `pack` does. `bench/watermark.py` measures
the same on hundreds of images.
"""

import io

import numpy as np
import pytest
from PIL import Image

from data import synthetic
from generators.images import arrange
from moderation import watermark
from moderation.provenance import Marker

SECRET, OTHER = b"this-install", b"another-install"
MARKS = ["0badc0de", "12345678", "fedcba98"]


def tiles(n: int, seed: int = 0) -> list[np.ndarray]:
    images, _ = synthetic.shapes(n, 64, seed=seed)
    factor = watermark.enlargement(64)
    return [image.repeat(factor, 0).repeat(factor, 1) for image in images]


@pytest.fixture(scope="module")
def marked() -> list[tuple[np.ndarray, str]]:
    return [(watermark.embed(t, SECRET, m), m) for t, m in zip(tiles(3), MARKS, strict=True)]


def grid_of(images: list[np.ndarray]) -> np.ndarray:
    """Return 256-px images laid out 2×2 as `pack` lays out four 64-px model images."""
    return arrange(np.stack(images), 2, watermark.GRID_PAD * watermark.enlargement(64))


@pytest.fixture(scope="module")
def grid() -> tuple[np.ndarray, list[str]]:
    """Return a 2×2 grid of marked tiles (536 px) and the tiles' marks, row by row."""
    marks = ["0badc0de", "12345678", "fedcba98", "8badf00d"]
    cells = [watermark.embed(t, SECRET, m) for t, m in zip(tiles(4, seed=2), marks, strict=True)]
    return grid_of(cells), marks


def jpeg(rgb: np.ndarray, quality: int = 80) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def resized(rgb: np.ndarray, factor: float) -> np.ndarray:
    image = Image.fromarray(rgb)
    size = (round(image.width * factor), round(image.height * factor))
    return np.asarray(image.resize(size, Image.Resampling.BICUBIC))


def test_the_payload_is_the_install_tag_then_the_mark():
    bits = watermark.payload(SECRET, "80000001")
    assert len(bits) == watermark.PAYLOAD_BITS and watermark.PAYLOAD_BITS % 2 == 1
    assert bits[: watermark.TAG_BITS] == watermark.tag_bits(SECRET) != watermark.tag_bits(OTHER)
    assert bits[watermark.TAG_BITS :] == [1] + [0] * 30 + [1]


def test_round_trip_is_exact_and_invisible(marked):
    for (image, mark), original in zip(marked, tiles(3), strict=True):
        reading = watermark.read(image, SECRET)
        assert reading.from_install and reading.mark == mark
        assert reading.tag_matches == watermark.TAG_BITS and reading.size == (256, 256)
        # At most a few levels from the original (slightly darkened to leave room below white).
        change = np.abs(image - original * ((255 - watermark.HEADROOM) / 255))
        assert change.max() <= 8 and change.mean() < 2.5


@pytest.mark.parametrize(
    ("attack", "read_at"),
    [
        (jpeg, (256, 256)),
        (lambda x: resized(x, 0.9), (256, 256)),  # read at the genbot size it came from
        (lambda x: resized(x, 1.1), (256, 256)),
        (lambda x: resized(jpeg(x), 0.9), (256, 256)),
    ],
    ids=["jpeg-q80", "10%-smaller", "10%-larger", "jpeg-then-smaller"],
)
def test_the_mark_survives_jpeg_and_resizing(marked, attack, read_at):
    for image, mark in marked:
        reading = watermark.read(attack(image), SECRET)
        assert reading.from_install and reading.size == read_at
        assert reading.mark == mark


def test_a_grid_is_read_cell_by_cell(grid):
    image, marks = grid
    reading = watermark.read(image, SECRET)
    assert reading.from_install and reading.tag_matches == watermark.TAG_BITS
    assert (reading.layout.columns, reading.layout.rows) == (2, 2) and reading.size == (536, 536)
    assert reading.mark == marks[reading.tile] == marks[0]  # the first image that verifies


@pytest.mark.parametrize(
    "attack",
    [jpeg, lambda x: resized(x, 0.9), lambda x: resized(x, 1.1), lambda x: resized(jpeg(x), 0.9)],
    ids=["jpeg-q80", "10%-smaller", "10%-larger", "jpeg-then-smaller"],
)
def test_a_grid_survives_jpeg_and_resizing(grid, attack):
    image, marks = grid
    reading = watermark.read(attack(image), SECRET)
    # Read at the grid's own size: the neighbouring genbot sizes (518 and 524 px) read most tag
    # bits too, out of step with the blocks, with wrong mark bits; the blocks' agreement wins.
    assert reading.from_install and reading.size == (536, 536)
    assert reading.mark == marks[reading.tile]


@pytest.mark.parametrize(
    ("crop", "read_as"),
    [
        (lambda x, box: x[box[1] : box[3], box[0] : box[2]], "image"),
        (lambda x, box: jpeg(x[box[1] : box[3], box[0] : box[2]]), "image"),
        (lambda x, box: resized(x[box[1] : box[3], box[0] : box[2]], 0.9), "image"),
        (lambda x, box: x[box[1] - 2 : box[3], box[0] : box[2] + 1], "image"),  # a little white
        # Cut roughly, some white on every side: read without the white around it.
        (lambda x, box: x[box[1] - 5 : box[3] + 3, box[0] - 1 : box[2] + 6], "image"),
        (lambda x, box: jpeg(x[box[1] - 5 : box[3], box[0] - 3 : box[2]]), "image"),
        (lambda x, box: x[box[1] - 8 : box[3] + 8, box[0] - 8 : box[2] + 8], "grid"),  # all of it
    ],
    ids=["exact", "jpeg-q80", "10%-smaller", "2px-of-white", "rough", "rough-jpeg", "its-white"],
)
def test_one_image_cropped_out_of_a_grid_is_read(grid, crop, read_as):
    image, marks = grid
    layout = watermark.grid_layouts((536, 536))[0]
    for k in (1, 3):
        reading = watermark.read(crop(image, layout.boxes()[k]), SECRET)
        assert reading.from_install and reading.mark == marks[k]
        # With all its white around it, a 64-px image's cell is a grid of one (272 px).
        assert (reading.layout is None) == (read_as == "image")


def test_unmarked_and_other_installs_images_are_not_this_installs():
    rng = np.random.default_rng(1)
    others = [watermark.embed(t, OTHER, "0badc0de") for t in tiles(3, seed=5)]
    unmarked = [
        *tiles(3, seed=9),
        grid_of(tiles(4, seed=11)),
        grid_of(others + tiles(1, seed=13)),
        rng.integers(0, 256, (256, 256, 3), dtype=np.uint8),
        np.full((256, 256, 3), 255, np.uint8),
        np.full((240, 320, 3), (30, 120, 200), np.uint8),
    ]
    for image in others + unmarked:
        reading = watermark.read(image, SECRET)
        assert not reading.from_install
        assert watermark.TAG_BITS - reading.tag_matches > 2 * watermark.MAX_TAG_ERRORS
    for image in [*others, grid_of(others + tiles(1, seed=13))]:  # its own install finds it
        assert watermark.read(image, OTHER).from_install


def test_small_images_are_refused_and_small_or_huge_ones_are_not_read():
    with pytest.raises(ValueError, match="too small"):
        watermark.embed(np.zeros((64, 64, 3), np.uint8), SECRET, "0badc0de")
    assert watermark.read(np.zeros((64, 64, 3), np.uint8), SECRET) is None
    # Larger than any genbot image (reading it would take seconds): not read at all.
    assert watermark.read(np.zeros((3000, 3000, 3), np.uint8), SECRET) is None


def test_candidate_sizes_find_the_genbot_size_a_copy_came_from():
    assert watermark.candidate_sizes(256, 256)[0] == (256, 256)
    assert (256, 256) in watermark.candidate_sizes(230, 230)
    grid = ((2 * (64 + 2) + 2) * 4,) * 2  # a 2×2 grid of 64-px tiles
    assert grid in watermark.canonical_sizes() and grid in watermark.candidate_sizes(482, 482)
    assert len(watermark.candidate_sizes(1000, 37)) == 1  # no genbot image has that shape


def test_grid_layouts_are_the_grids_pack_lays_out():
    for side in watermark.MODEL_SIDES:
        factor = watermark.enlargement(side)
        cells = np.zeros((5, side * factor, side * factor, 3), np.uint8)
        sheet = arrange(cells, 3, watermark.GRID_PAD * factor)
        (layout,) = watermark.grid_layouts((sheet.shape[1], sheet.shape[0]))
        assert (layout.columns, layout.rows, layout.tile) == (3, 2, side * factor)
        for left, top, right, bottom in layout.boxes()[:5]:
            assert (sheet[top:bottom, left:right] == 0).all()
        assert (sheet == 0).sum() == 5 * cells[0].size  # and nothing else is a cell
    assert watermark.grid_layouts((256, 256)) == ()


def test_marker_marks_derive_from_the_pixels():
    marker, image = Marker(SECRET), tiles(1)[0]
    first, mark = marker.watermarked(image, "tile")
    again, same = marker.watermarked(image.copy(), "tile")
    assert mark == same and np.array_equal(first, again)
    assert marker.watermarked(image, "grid")[1] != mark
    assert Marker(OTHER).watermarked(image, "tile")[1] != mark
