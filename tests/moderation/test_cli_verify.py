"""`genbot verify FILE`: the real CLI, this install's secret, and its real SQLite store."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from data import install_secret, synthetic
from data.store import Store
from generators.images import png_bytes
from moderation import watermark
from moderation.provenance import Marker
from tests.moderation.test_images import bomb_png


@pytest.fixture
def install(home):
    """Return (home, a marked 256-px PNG, its mark, the id of the job that made it)."""
    marker = Marker(install_secret.load(home))
    tile = synthetic.shapes(1, 64, seed=3)[0][0].repeat(4, 0).repeat(4, 1)
    pixels, mark = marker.watermarked(tile, "tile")
    data = png_bytes(pixels, {"ai_generated": "true", **marker.png_text(mark)})
    store = Store(home / "genbot.db")
    store.create_job(guild=1, channel=2, user=3, command="imagine", params={"prompt": "a"})
    job = store.create_job(guild=1, channel=2, user=3, command="imagine", params={"prompt": "b"})
    store.set_result(job["id"], {"outputs": [{"mime": "image/png", "role": "tile", "mark": mark}]})
    store.close()
    return home, data, mark, job["id"]


def jpeg_copy(data: bytes, factor: float) -> bytes:
    image = Image.open(io.BytesIO(data))
    size = (round(image.width * factor), round(image.height * factor))
    out = io.BytesIO()
    image.convert("RGB").resize(size, Image.Resampling.BICUBIC).save(out, "JPEG", quality=80)
    return out.getvalue()


def test_a_marked_image_and_its_jpeg_copy_name_their_job(genbot, install, tmp_path):
    home, data, mark, job = install
    (tmp_path / "tile.png").write_bytes(data)
    result = genbot("verify", "tile.png", env={"GENBOT_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("from this install: yes (watermark 31/31 tag bits")
    assert f"mark {mark}, job {job} in {home / 'genbot.db'}" in first
    assert "signed by this install" in result.stdout
    (tmp_path / "copy.jpg").write_bytes(jpeg_copy(data, 0.9))  # metadata gone, pixels changed
    result = genbot("verify", "--json", "copy.jpg", env={"GENBOT_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["from_install"] and found["mark"] == mark and found["job"]["id"] == job
    assert "read at 256×256" in " ".join(found["evidence"])


def test_a_grid_its_jpeg_copy_and_one_image_cut_out_of_it_name_their_job(genbot, home, tmp_path):
    import torch

    from generators.image_api import pack

    marker = Marker(install_secret.load(home))
    images = synthetic.shapes(4, 64, seed=7)[0].transpose(0, 3, 1, 2) / 255
    result = pack(torch.from_numpy(images), 2, "gan:test", 7, "imagine", marker=marker)
    store = Store(home / "genbot.db")
    job = store.create_job(guild=1, channel=2, user=3, command="imagine", params={"prompt": "c"})
    outputs = [{"mime": "image/png", "role": "grid", "mark": result.grid_mark}]
    outputs += [{"mime": "image/png", "role": "tile", "mark": m} for m in result.tile_marks]
    store.set_result(job["id"], {"outputs": outputs})
    store.close()
    grid = Image.open(io.BytesIO(result.grid)).convert("RGB")
    (layout,) = watermark.grid_layouts(grid.size)
    (tmp_path / "grid.png").write_bytes(result.grid)
    (tmp_path / "copy.jpg").write_bytes(jpeg_copy(result.grid, 0.9))
    (tmp_path / "cut.png").write_bytes(png_bytes(np.asarray(grid.crop(layout.boxes()[3]))))
    env = {"GENBOT_HOME": str(home)}
    first = genbot("verify", "grid.png", env=env).stdout.splitlines()[0]
    assert "(watermark 31/31 tag bits" in first and f"job {job['id']} in" in first
    assert f"mark {result.tile_marks[0]}" in first  # the grid's text chunks name tile 0's mark
    for name, mark, where in [
        ("copy.jpg", result.tile_marks[0], "image 1 of a 2×2 grid, read at 536×536"),
        ("cut.png", result.tile_marks[3], "31/31 tag bits)"),  # read as an image of its own
    ]:
        found = json.loads(genbot("verify", "--json", name, env=env).stdout)
        assert found["from_install"] and found["mark"] == mark and found["job"]["id"] == job["id"]
        assert where in " ".join(found["evidence"])


def test_other_images_are_not_from_this_install(genbot, install, tmp_path):
    home = install[0]
    tile = synthetic.shapes(1, 64, seed=3)[0][0].repeat(4, 0).repeat(4, 1)
    other, _ = Marker(b"another-install").watermarked(tile, "tile")
    (tmp_path / "plain.png").write_bytes(png_bytes(tile))
    (tmp_path / "other.png").write_bytes(png_bytes(other))
    for name in ("plain.png", "other.png"):
        result = genbot("verify", name, env={"GENBOT_HOME": str(home)})
        assert result.returncode == 1, result.stderr
        assert result.stdout.startswith("from this install: no")
        assert "none of this install's" in result.stdout
    assert watermark.read(np.asarray(other), b"another-install").from_install


def test_unreadable_files_exit_2_with_one_line(genbot, install, tmp_path):
    home = install[0]
    (tmp_path / "bomb.png").write_bytes(bomb_png())
    (tmp_path / "notes.txt").write_text("nothing to see")
    for name, words in [
        ("missing.png", "No such file"),
        ("bomb.png", "decompression bomb"),
        ("notes.txt", "not an image, audio (Ogg, FLAC, WAV), MIDI or ABC"),
    ]:
        result = genbot("verify", name, env={"GENBOT_HOME": str(home)})
        assert result.returncode == 2 and result.stdout == ""
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"genbot: error: {name}: ") and words in line


def test_an_install_without_a_secret_has_marked_nothing_and_keeps_none(genbot, install, tmp_path):
    _, data, _, _ = install
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (tmp_path / "tile.png").write_bytes(data)
    result = genbot("verify", "tile.png", env={"GENBOT_HOME": str(fresh)})
    assert result.returncode == 1 and "has marked nothing" in result.stdout
    assert list(fresh.iterdir()) == []


def test_the_store_finds_a_mark_read_with_a_flipped_bit(install):
    home, _, mark, job = install
    store = Store(home / "genbot.db")
    flipped = f"{int(mark, 16) ^ 0b100:08x}"
    assert store.job_for_mark(mark)["id"] == job
    assert store.job_for_mark(flipped) is None
    assert store.job_for_mark(flipped, max_bit_errors=2)["id"] == job
    assert store.job_for_mark(f"{int(mark, 16) ^ 0b111:08x}", max_bit_errors=2) is None
    store.close()
