"""A tiny synthetic image dataset in code: coloured shapes on white, with captions.

For tests and `--dry-run`s: no files, no downloads, deterministic for a seed."""

from __future__ import annotations

import hashlib
import io

import numpy as np

COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (240, 200, 30),
    "purple": (140, 60, 180),
    "black": (20, 20, 20),
}
SHAPES = ("circle", "square", "triangle")


def _mask(shape: str, size: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    cx, cy = rng.uniform(0.35, 0.65, 2)
    r = rng.uniform(0.2, 0.3)
    if shape == "circle":
        return (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
    if shape == "square":
        return (abs(xx - cx) < r) & (abs(yy - cy) < r)
    return (yy > cy - r) & (yy < cy + r) & (abs(xx - cx) < (yy - (cy - r)) / 2)


def shapes(n: int, size: int = 16, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Return n images (n, size, size, 3) uint8 and their captions ("red circle" …)."""
    rng = np.random.default_rng(seed)
    images = np.full((n, size, size, 3), 255, dtype=np.uint8)
    captions = []
    names = list(COLOURS)
    for k in range(n):
        colour, shape = names[k % len(names)], SHAPES[(k // len(names)) % len(SHAPES)]
        images[k][_mask(shape, size, rng)] = COLOURS[colour]
        captions.append(f"{colour} {shape}")
    return images, captions


def tunes(n: int = 16, seed: int = 0) -> list:
    """Return n short synthetic tunes (scales and arpeggios) as folk.Tune records."""
    from data.folk import Tune

    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        notes = "".join(rng.choice(list("CDEFGABcdefgab"), 16))
        body = " | ".join(notes[i : i + 4] for i in range(0, 16, 4)) + " |]"
        rhythm, meter = (("reel", "4/4"), ("jig", "6/8"))[k % 2]
        out.append(
            Tune(
                f"s{k}",
                "synthetic",
                f"tune {k}",
                rhythm,
                meter,
                "D",
                "1/8",
                body,
                "valid" if k % 4 == 3 else "train",
            )
        )
    return out


SUBJECTS = ("The lighthouse", "A small fox", "Our garden", "The old train", "A paper boat")
ENDINGS = ("hums at dawn.", "waits for the tide.", "remembers every friend.", "glows in the rain.")


def community_items(family: str, n: int = 40, seed: int = 0) -> list:
    """Return n made-up approved community items of `family` (32-pixel shapes for gan and vae,
    short sayings after a prompt for text), every seventh rated down, for tests and dry runs."""
    from PIL import Image

    from data.community import CommunityItem

    images, captions = shapes(n, size=32, seed=seed) if family in ("gan", "vae") else (None, None)
    items = []
    for k in range(n):
        key = hashlib.sha256(f"{family}-{seed}-{k}".encode()).hexdigest()[:16]
        fields = {"id": key, "family": family, "approved_at": "2026-01-01", "guild": "synthetic"}
        up, down = (0, 2) if k % 7 == 6 else (1 + k % 3, 0)
        if images is not None:
            buffer = io.BytesIO()
            Image.fromarray(images[k]).save(buffer, format="PNG")
            fields.update(prompt=captions[k], image_png=buffer.getvalue())
        else:
            subject = SUBJECTS[k % len(SUBJECTS)]
            ending = ENDINGS[(k // len(SUBJECTS)) % len(ENDINGS)]
            fields.update(prompt=f"Tell me about {subject.lower()}.", text=f"{subject} {ending}")
        items.append(CommunityItem(**fields, up=up, down=down))
    return items
