"""The text corpus for genbot's own small GPT: Debian's `fortunes` collections, safe files only.

`build(home)` downloads the Debian packages `fortunes-min` and `fortunes` with
`apt-get download` (no system install: they are unpacked under GENBOT_HOME/debian), keeps the
files in SAFE (offensive, ethnic, politics and gender-stereotype files are left out, and the
separate `fortunes-off` package is never fetched), splits them into quotes, screens each quote
with genbot's own rules, and writes GENBOT_HOME/datasets/fortunes.jsonl with a train/valid split
by quote hash, plus its licence notes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

PACKAGES = ("fortunes-min", "fortunes")
FOLDER = Path("usr/share/games/fortunes")
SAFE = (
    "art",
    "computers",
    "cookie",
    "debian",
    "definitions",
    "education",
    "food",
    "fortunes",
    "goedel",
    "humorists",
    "kids",
    "law",
    "linux",
    "linuxcookie",
    "literature",
    "love",
    "magic",
    "medicine",
    "miscellaneous",
    "news",
    "paradoxum",
    "people",
    "pets",
    "platitudes",
    "pratchett",
    "riddles",
    "science",
    "songs-poems",
    "sports",
    "startrek",
    "tao",
    "translate-me",
    "wisdom",
    "work",
    "zippy",
)
LEFT_OUT = (
    "ethnic",
    "politics",
    "men-women",
    "drugs",
    "perl",
    "ascii-art",
    "knghtbrd",
    "disclaimer",
    "off/*",
)
LICENCE = """Quotes from Debian's fortunes packages (fortune-mod 1.99.1): BSD-style licence of the
fortune-mod distribution; individual quotes are attributed in their text where known.
Files used: {files}. Left out: {left_out} and the separate fortunes-off package.
"""


class CorpusError(RuntimeError):
    """The corpus cannot be built; the message says what is missing."""


def download(home: Path) -> Path:
    """Fetch and unpack the packages under home/debian (once); return the fortunes folder."""
    root = home / "debian"
    target = root / FOLDER
    if (target / "fortunes").is_file():
        return target
    apt, dpkg = shutil.which("apt-get"), shutil.which("dpkg-deb")
    if apt is None or dpkg is None:
        raise CorpusError("apt-get and dpkg-deb are needed to fetch Debian's fortunes packages")
    downloads = root / "debs"
    downloads.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [apt, "download", *PACKAGES], cwd=downloads, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise CorpusError(
            f"apt-get download {' '.join(PACKAGES)} failed (run apt-get update?): "
            f"{result.stderr.strip().splitlines()[-1:]}"
        )
    for deb in downloads.glob("*.deb"):
        subprocess.run([dpkg, "-x", str(deb), str(root)], check=True, timeout=120)
    if not (target / "fortunes").is_file():
        raise CorpusError(f"{target} has no fortunes file after unpacking")
    return target


def quotes(path: Path) -> list[str]:
    """Return the quotes of one fortune file (separated by lines holding only %)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    parts = [p.strip("\n") for p in text.split("\n%\n")]
    return [p.strip() for p in parts if p.strip() and p.strip() != "%"]


def build(home: Path, folder: Path | None = None) -> dict[str, Path]:
    """Write GENBOT_HOME/datasets/fortunes.jsonl (+ stats and licence); return their paths."""
    from moderation.scorers.rules import default_rules

    folder = folder or download(home)
    rules = default_rules()
    rows, dropped = [], Counter()
    for name in SAFE:
        path = folder / name
        if not path.is_file():
            continue
        for quote in quotes(path):
            if len(quote) > 2000:
                dropped["too long"] += 1
            elif rules.score([quote])[0]:
                dropped["caught by genbot's rules"] += 1
            else:
                digest = hashlib.sha256(quote.encode("utf-8")).hexdigest()[:12]
                split = "valid" if int(digest, 16) % 20 == 0 else "train"
                rows.append({"id": digest, "file": name, "text": quote, "split": split})
    if not rows:
        raise CorpusError(f"no quotes found under {folder}")
    out = home / "datasets"
    out.mkdir(parents=True, exist_ok=True)
    data, stats, licence = (
        out / "fortunes.jsonl",
        out / "fortunes-stats.json",
        out / "fortunes-LICENSE.txt",
    )
    data.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    summary = {
        "quotes": len(rows),
        "by_split": Counter(r["split"] for r in rows),
        "by_file": Counter(r["file"] for r in rows).most_common(),
        "dropped": dropped,
        "characters": sum(len(r["text"]) for r in rows),
    }
    stats.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    files = sorted({r["file"] for r in rows})
    licence.write_text(
        LICENCE.format(files=", ".join(files), left_out=", ".join(LEFT_OUT)), encoding="utf-8"
    )
    return {"quotes": data, "stats": stats, "licence": licence}
