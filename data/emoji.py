"""The emoji image dataset: Google's Noto emoji with names, categories and tags as captions.

`build(home)` installs two npm packages into GENBOT_HOME/npm (emoji-datasource-google 16.0.0:
images Apache-2.0, metadata MIT; emojibase-data 17.0.0: keyword tags, MIT), cuts the 32 px and
64 px "sheets-clean" sprite sheets (cell = size + 2 px, offset 1) into images composited on
white, and writes to GENBOT_HOME/datasets/:

- `emoji-<size>.npz`: `images` (N, size, size, 3) uint8 and `caption_index` (N,) int;
- `emoji-index.json`: per image its name, category, subcategory, tags, skin tone and caption;
- `emoji-LICENSE.txt` (attribution), `emoji-contact-<size>.png` (a sheet for a person to see).

Idempotent: a build whose outputs exist and match the sources' versions is skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

PACKAGES = {"emoji-datasource-google": "16.0.0", "emojibase-data": "17.0.0"}
SIZES = (32, 64)
TONES = {
    "1F3FB": "light skin tone",
    "1F3FC": "medium-light skin tone",
    "1F3FD": "medium skin tone",
    "1F3FE": "medium-dark skin tone",
    "1F3FF": "dark skin tone",
}
ATTRIBUTION = """Emoji images: Noto Emoji by Google, Apache License 2.0
(https://github.com/googlefonts/noto-emoji), as packaged in the npm package
emoji-datasource-google {google} (emoji-data by Cal Henderson and contributors, MIT licence).
Keyword tags: emojibase-data {emojibase} by Miles Johnson, MIT licence.
These files were cut from the packages' sprite sheets by `genbot data build images`.
"""


class DatasetError(RuntimeError):
    """The dataset cannot be built; the message says what is missing."""


@dataclass(frozen=True)
class Entry:
    """One image of the dataset and what it shows."""

    unified: str
    name: str
    category: str
    subcategory: str
    tags: tuple[str, ...]
    tone: str | None
    sheet_x: int
    sheet_y: int

    @property
    def caption(self) -> str:
        """Return the training caption: name, tone, tags and category in plain words."""
        parts = [self.name + (f", {self.tone}" if self.tone else "")]
        parts += [t for t in self.tags if t not in self.name][:6]
        parts.append(self.category.lower())
        return ", ".join(parts)


def install_sources(home: Path) -> Path:
    """Install the npm packages under home/npm (once); return its node_modules folder."""
    prefix = home / "npm"
    modules = prefix / "node_modules"
    if all(_installed_version(modules, n) == v for n, v in PACKAGES.items()):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise DatasetError("npm is not installed: install Node.js and npm, then run this again")
    prefix.mkdir(parents=True, exist_ok=True)
    specs = [f"{name}@{version}" for name, version in PACKAGES.items()]
    log.info("installing %s into %s", ", ".join(specs), prefix)
    result = subprocess.run(
        [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--ignore-scripts",
         *specs],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise DatasetError(f"npm install {' '.join(specs)} failed: {' / '.join(tail)}")
    return modules


def _installed_version(modules: Path, name: str) -> str | None:
    manifest = modules / name / "package.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text(encoding="utf-8")).get("version")


def read_entries(modules: Path) -> list[Entry]:
    """Return every emoji with a Google image, skin-tone variants included, in sheet order."""
    source = modules / "emoji-datasource-google" / "emoji.json"
    tags_file = modules / "emojibase-data" / "en" / "data.json"
    for path in (source, tags_file):
        if not path.is_file():
            raise DatasetError(f"{path} is missing: the npm package did not install completely")
    records = json.loads(tags_file.read_text(encoding="utf-8"))
    tags = _tags_by_hexcode(records)
    # CLDR short names ("red heart", "pizza") read better than Unicode names ("heavy black heart").
    labels = {_hexcode(r["hexcode"]): r["label"] for r in records}
    entries = []
    for item in json.loads(source.read_text(encoding="utf-8")):
        if not item.get("has_img_google") or item["category"] == "Component":
            continue
        base = Entry(
            unified=item["unified"],
            name=labels.get(_hexcode(item["unified"]))
            or (item.get("name") or item["short_name"]).lower(),
            category=item["category"],
            subcategory=item["subcategory"].replace("-", " "),
            tags=tuple(tags.get(_hexcode(item["unified"]), ())),
            tone=None,
            sheet_x=item["sheet_x"],
            sheet_y=item["sheet_y"],
        )
        entries.append(base)
        for tone_code, variant in sorted(item.get("skin_variations", {}).items()):
            if variant.get("has_img_google") and tone_code in TONES:
                entries.append(
                    Entry(variant["unified"], base.name, base.category, base.subcategory,
                          base.tags, TONES[tone_code], variant["sheet_x"], variant["sheet_y"])
                )  # fmt: skip
    return entries


def _hexcode(unified: str) -> str:
    # emojibase drops the FE0F variation selector that emoji-datasource keeps.
    return "-".join(p for p in unified.upper().split("-") if p != "FE0F")


def _tags_by_hexcode(records: Iterable[dict]) -> dict[str, list[str]]:
    return {_hexcode(r["hexcode"]): list(r.get("tags", [])) for r in records}


def cut_sheet(sheet: np.ndarray, entries: list[Entry], size: int) -> np.ndarray:
    """Return each entry's cell of an RGBA sprite sheet, composited on white, as (N, s, s, 3)."""
    cell = size + 2
    out = np.empty((len(entries), size, size, 3), dtype=np.uint8)
    for k, entry in enumerate(entries):
        y, x = entry.sheet_y * cell + 1, entry.sheet_x * cell + 1
        rgba = sheet[y : y + size, x : x + size].astype(np.float32) / 255.0
        alpha = rgba[..., 3:4]
        out[k] = np.round((rgba[..., :3] * alpha + (1.0 - alpha)) * 255.0).astype(np.uint8)
    return out


def contact_sheet(images: np.ndarray, columns: int = 48) -> np.ndarray:
    """Return the images tiled into one picture, `columns` per row."""
    n, size = len(images), images.shape[1]
    rows = -(-n // columns)
    canvas = np.full((rows * size, columns * size, 3), 255, dtype=np.uint8)
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        canvas[r * size : (r + 1) * size, c * size : (c + 1) * size] = image
    return canvas


def build(home: Path, sizes: Iterable[int] = SIZES, progress: bool = True) -> dict[str, Path]:
    """Build (or find up to date) the emoji dataset under home/datasets; return its files."""
    from PIL import Image
    from tqdm import tqdm

    modules = install_sources(home)
    out_dir = home / "datasets"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"index": out_dir / "emoji-index.json", "license": out_dir / "emoji-LICENSE.txt"}
    entries = read_entries(modules)
    stamp = {"packages": PACKAGES, "count": len(entries), "sizes": sorted(sizes)}
    for size in sizes:
        files[f"images-{size}"] = out_dir / f"emoji-{size}.npz"
        files[f"contact-{size}"] = out_dir / f"emoji-contact-{size}.png"
    if _up_to_date(files, stamp):
        log.info("emoji dataset is up to date in %s", out_dir)
        return files
    sheets = modules / "emoji-datasource-google" / "img" / "google" / "sheets-clean"
    for size in tqdm(list(sizes), desc="cutting sprite sheets", disable=not progress):
        sheet_path = sheets / f"{size}.png"
        if not sheet_path.is_file():
            raise DatasetError(f"{sheet_path} is missing from emoji-datasource-google")
        sheet = np.asarray(Image.open(sheet_path).convert("RGBA"))
        images = cut_sheet(sheet, entries, size)
        np.savez_compressed(files[f"images-{size}"], images=images)
        Image.fromarray(contact_sheet(images[:: max(1, len(images) // 960)])).save(
            files[f"contact-{size}"]
        )
    index = {**stamp, "entries": [{**asdict(e), "caption": e.caption} for e in entries]}
    files["license"].write_text(
        ATTRIBUTION.format(google=PACKAGES["emoji-datasource-google"],
                           emojibase=PACKAGES["emojibase-data"]), encoding="utf-8")  # fmt: skip
    files["index"].write_text(json.dumps(index, indent=1), encoding="utf-8")
    return files


def _up_to_date(files: dict[str, Path], stamp: dict) -> bool:
    if not all(p.is_file() for p in files.values()):
        return False
    index = json.loads(files["index"].read_text(encoding="utf-8"))
    return {k: index.get(k) for k in stamp} == stamp


def is_held_out(name: str, every: int = 20) -> bool:
    """Return True for the ~1/`every` of emoji names kept out of training, for evaluation.

    Decided by a hash of the name, so all skin tones of one emoji fall on the same side."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little") % every == 0


def load(home: Path, size: int) -> tuple[np.ndarray, list[dict]]:
    """Return (images, index entries) of a built dataset; raise DatasetError if not built."""
    path = home / "datasets" / f"emoji-{size}.npz"
    index_path = home / "datasets" / "emoji-index.json"
    if not path.is_file() or not index_path.is_file():
        raise DatasetError(f"{path} is missing: run `genbot data build images` first")
    images = np.load(path)["images"]
    return images, json.loads(index_path.read_text(encoding="utf-8"))["entries"]
