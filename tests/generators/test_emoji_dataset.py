"""The emoji dataset builder on a small package folder laid out like the npm packages."""

import json

import numpy as np
import pytest
from PIL import Image

from data import emoji


def fake_packages(root, size=32):
    """Write emoji-datasource-google and emojibase-data files for three emoji (one with tones)."""
    google = root / "node_modules" / "emoji-datasource-google"
    base = root / "node_modules" / "emojibase-data"
    (google / "img" / "google" / "sheets-clean").mkdir(parents=True)
    (base / "en").mkdir(parents=True)
    for name, folder in (("emoji-datasource-google", google), ("emojibase-data", base)):
        (folder / "package.json").write_text(json.dumps({"version": emoji.PACKAGES[name]}))
    items = [
        {"unified": "2764-FE0F", "name": "HEAVY BLACK HEART", "short_name": "heart",
         "category": "Smileys & Emotion", "subcategory": "heart", "sheet_x": 0, "sheet_y": 0,
         "has_img_google": True},
        {"unified": "1F355", "name": "SLICE OF PIZZA", "short_name": "pizza",
         "category": "Food & Drink", "subcategory": "food-prepared", "sheet_x": 1, "sheet_y": 0,
         "has_img_google": True},
        {"unified": "1F44D", "name": "THUMBS UP SIGN", "short_name": "+1",
         "category": "People & Body", "subcategory": "hand-fingers-closed", "sheet_x": 0,
         "sheet_y": 1, "has_img_google": True,
         "skin_variations": {"1F3FF": {"unified": "1F44D-1F3FF", "sheet_x": 1, "sheet_y": 1,
                                       "has_img_google": True}}},
        {"unified": "1F3FB", "name": "TONE", "short_name": "tone", "category": "Component",
         "subcategory": "skin-tone", "sheet_x": 0, "sheet_y": 0, "has_img_google": True},
    ]  # fmt: skip
    (google / "emoji.json").write_text(json.dumps(items))
    records = [
        {"hexcode": "2764", "label": "red heart", "tags": ["love", "heart"]},
        {"hexcode": "1F355", "label": "pizza", "tags": ["cheese", "slice"]},
        {"hexcode": "1F44D", "label": "thumbs up", "tags": ["+1", "good"]},
    ]
    (base / "en" / "data.json").write_text(json.dumps(records))
    cell = size + 2
    sheet = np.zeros((2 * cell, 2 * cell, 4), dtype=np.uint8)  # transparent
    sheet[1 : 1 + size, 1 : 1 + size] = (255, 0, 0, 255)  # (0, 0): opaque red
    sheet[1 : 1 + size, cell + 1 : cell + 1 + size, 3] = 0  # (1, 0): transparent
    Image.fromarray(sheet).save(google / "img" / "google" / "sheets-clean" / f"{size}.png")
    return root / "node_modules"


def test_entries_join_labels_tags_and_tones(tmp_path):
    entries = emoji.read_entries(fake_packages(tmp_path))
    assert [(e.name, e.tone) for e in entries] == [
        ("red heart", None), ("pizza", None), ("thumbs up", None), ("thumbs up", "dark skin tone"),
    ]  # fmt: skip
    assert entries[0].caption == "red heart, love, smileys & emotion"
    assert entries[3].caption.startswith("thumbs up, dark skin tone, +1, good")


def test_build_cuts_composites_and_is_idempotent(tmp_path):
    fake_packages(tmp_path / "npm")
    files = emoji.build(tmp_path, sizes=(32,), progress=False)
    images, index = emoji.load(tmp_path, 32)
    assert images.shape == (4, 32, 32, 3) and len(index) == 4
    assert tuple(images[0, 5, 5]) == (255, 0, 0)  # the opaque red cell
    assert tuple(images[1, 5, 5]) == (255, 255, 255)  # transparency composited on white
    assert "Apache" in files["license"].read_text() and files["contact-32"].is_file()
    before = files["images-32"].stat().st_mtime_ns
    emoji.build(tmp_path, sizes=(32,), progress=False)
    assert files["images-32"].stat().st_mtime_ns == before


def test_missing_dataset_and_sources_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(emoji.DatasetError, match="genbot data build images"):
        emoji.load(tmp_path, 64)
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm on PATH
    with pytest.raises(emoji.DatasetError, match="npm is not installed"):
        emoji.install_sources(tmp_path)


@pytest.mark.slow
def test_real_build_from_npm(tmp_path):
    emoji.build(tmp_path, progress=False)
    images, index = emoji.load(tmp_path, 64)
    assert images.shape[0] == len(index) > 3000
    assert {"red heart", "pizza", "rocket", "snowman"} <= {e["name"] for e in index}
