"""How often a model reproduces its training items: the memorisation figure of each family.

Each function samples a model the way the service does and counts the samples that repeat a
training item by the memorisation guard's own tests (`moderation.ngram_index`,
`moderation.image_index`): text and tunes, 50 or more characters in a row of one (case and
spacing aside); images, a training image nearer than the calibrated threshold. Next to each
figure stands the same test applied to held-out data against the training data: how much the
corpus repeats itself, the rate an honest model would show.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from generators.images import to_uint8
from moderation import image_index
from moderation.ngram_index import WINDOW, NgramIndex

# The training data is public: the index only has to be consistent within one run.
PUBLIC_KEY = b"genbot public training data"
TEXT_BATCH, MUSIC_BATCH, IMAGE_BATCH = 100, 200, 250
TEXT_NEW_TOKENS, MUSIC_NEW_TOKENS = 64, 400
OPENING_WORDS = 3
EXAMPLES = 5  # reproductions quoted in the report (public data: safe to show)


def _share(count: int, total: int) -> str:
    return f"{count:,} of {total:,} ({count / max(1, total):.1%})"


def _stretch(text: str, span: tuple[int, int]) -> str:
    return " ".join(text[span[0] : span[1]].split())


def _quotes(home: Path, data: str) -> tuple[list[str], list[str]]:
    if data == "synthetic":
        from generators.models.text_gpt import synthetic_texts

        rows = synthetic_texts()
    else:
        path = home / "datasets" / "fortunes.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `genbot data build text` first")
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    train = [r["text"] for r in rows if r["split"] == "train"]
    return train, [r["text"] for r in rows if r["split"] != "train"]


def _write(lm: Any, prompts: list[str], seed: int) -> list[str]:
    """Return one continuation per prompt, sampled as the service does (its default values)."""
    from generators.models import text_lm
    from generators.schema import TextRequest

    tokens = min(TEXT_NEW_TOKENS, lm.context // 2)
    texts = []
    for start in range(0, len(prompts), TEXT_BATCH):
        batch = prompts[start : start + TEXT_BATCH]
        requests = [
            TextRequest(p, max_new_tokens=tokens, seed=seed * 1_000_003 + start + k)
            for k, p in enumerate(batch)
        ]
        texts += [r.text for r in text_lm.generate(lm, requests)]
    return texts


def text_figures(folder: Path, home: Path, samples: int, seed: int, data: str) -> dict[str, Any]:
    """Return the text model's figures: samples prompted with the opening words of training
    quotes (an extraction attempt), and samples from the neutral preview prompts."""
    from generators.models import text_lm
    from generators.models.text_gpt import PREVIEW_PROMPTS

    lm = text_lm.load(str(folder), home)
    train, valid = _quotes(home, data)
    index = NgramIndex.build(train, PUBLIC_KEY)
    pick = random.Random(seed)
    openings = [" ".join(pick.choice(train).split()[:OPENING_WORDS]) for _ in range(samples)]
    neutral = [PREVIEW_PROMPTS[k % len(PREVIEW_PROMPTS)] for k in range(samples)]
    counts, longest, examples = {}, 0, []
    for name, prompts in (("openings", openings), ("neutral", neutral)):
        texts = _write(lm, prompts, seed)
        overlaps = [index.longest_overlap(t) for t in texts]
        counts[name] = sum(o is not None for o in overlaps)
        longest = max([longest, *(o.length for o in overlaps if o is not None)])
        examples += [_stretch(t, o.span) for t, o in zip(texts, overlaps, strict=True) if o]
    copied = sum(index.overlapping(valid))
    return {
        "family": "text",
        "samples": samples,
        "reproduced": counts["openings"],
        "reproduced_neutral": counts["neutral"],
        "longest_overlap_chars": longest,
        "examples": examples[:EXAMPLES],
        "reference_share": round(copied / max(1, len(valid)), 4),
        "train_items": len(train),
        "dataset_hash": hashlib.sha256("\n".join(train).encode()).hexdigest()[:16],
        "rows": [
            [
                f"prompted with the first {OPENING_WORDS} words of a training quote",
                _share(counts["openings"], samples),
            ],
            [
                "prompted with " + ", ".join(f'"{p}"' for p in PREVIEW_PROMPTS),
                _share(counts["neutral"], samples),
            ],
            [
                "held-out quotes that repeat a training quote (the corpus's own repeats)",
                _share(copied, len(valid)),
            ],
        ],
        "test": f"{WINDOW} or more characters in a row of a training quote, case and spacing aside",
        "sampling": f"service defaults (temperature 0.8, top-k 50, top-p 0.95), "
        f"up to {min(TEXT_NEW_TOKENS, lm.context // 2)} new tokens; the prompt is not counted",
    }


def music_figures(path: Path, home: Path, samples: int, seed: int, data: str) -> dict[str, Any]:
    """Return the music model's figures: tunes sampled (service defaults) with the headers of
    validation tunes, checked against the training tunes' bodies."""
    from data import checkpoints
    from generators.models import music_lm
    from generators.music_stats import MEMORY_CHARS, MEMORY_NOTES, memorised

    blob = checkpoints.load(path, family="music")
    config = checkpoints.config_from(blob, music_lm.Config)
    model, codec = music_lm.from_export(config, blob["state_dict"]), music_lm.Codec(config.vocab)
    course = music_lm.MusicCourse(data or blob.get("meta", {}).get("data", "folk"), config, home)
    valid = _validation_tunes(course.name, home)
    order = random.Random(seed).sample(range(len(valid)), len(valid))
    headers = [valid[order[k % len(order)]] for k in range(samples)]
    headers = [(t.rhythm, t.meter, t.key, t.unit) for t in headers]
    rng = torch.Generator().manual_seed(seed)
    bodies = [
        body
        for start in range(0, samples, MUSIC_BATCH)
        for body in music_lm.generate_batch(
            model, codec, headers[start : start + MUSIC_BATCH], rng, MUSIC_NEW_TOKENS
        )
    ]
    train = [t.body for t in course.tunes]
    index = NgramIndex.build(train, PUBLIC_KEY)
    overlaps = [index.longest_overlap(b) for b in bodies]
    reproduced = sum(o is not None for o in overlaps)
    examples = [_stretch(b, o.span) for b, o in zip(bodies, overlaps, strict=True) if o]
    notes = sum(memorised(bodies, train))
    copied = sum(index.overlapping([t.body for t in valid]))
    return {
        "family": "music",
        "samples": samples,
        "reproduced": reproduced,
        "reproduced_notes_or_chars": notes,
        "examples": examples[:EXAMPLES],
        "reference_share": round(copied / max(1, len(valid)), 4),
        "train_items": len(train),
        "dataset_hash": course.digest,
        "rows": [
            ["sampled tunes (headers of validation tunes)", _share(reproduced, samples)],
            [
                f"the same tunes by eval music's looser test ({MEMORY_NOTES} notes or "
                f"{MEMORY_CHARS} characters)",
                _share(notes, samples),
            ],
            [
                "validation tunes that repeat a training tune (the collections' own variants)",
                _share(copied, len(valid)),
            ],
        ],
        "test": f"{WINDOW} or more characters in a row of a training tune's ABC body (about "
        "two to four bars), case and spacing aside",
        "sampling": f"service defaults (temperature 1.0, no top-k, the meter constraint), up to "
        f"{MUSIC_NEW_TOKENS} "
        "characters, all tunes sampled together with cached keys and values",
    }


def _validation_tunes(name: str, home: Path) -> list:
    from data import folk, synthetic

    every = folk.load(home) if name == "folk" else synthetic.tunes()
    return [t for t in every if t.split == "valid"]


def gan_figures(path: Path, home: Path, samples: int, seed: int, data: str) -> dict[str, Any]:
    """Return the GAN's figures: one image per training caption drawn at random, checked for
    a training image nearer than the calibrated threshold."""
    from data import checkpoints
    from generators.models import gan
    from generators.train import load_all, subset

    blob = checkpoints.load(path, family="gan")
    config = checkpoints.config_from(blob, gan.Config)
    model = gan.from_export(config, blob["state_dict"])
    full, held = load_all(data, config.image_size, home)
    train = subset(full, ~held)
    rng = torch.Generator().manual_seed(seed)
    pick = torch.randint(len(train.captions), (samples,), generator=rng)
    with torch.inference_mode():
        made = torch.cat(
            [gan.generate(model, train.embeddings[c], 1, rng) for c in pick.split(IMAGE_BATCH)]
        )
    known = _thumbnails((train.images + 1) / 2)
    distance, nearest = image_index.nearest(_thumbnails(made), known)
    reproduced = int((distance < image_index.THRESHOLD).sum())
    own = int(((distance < image_index.THRESHOLD) & (nearest == pick.numpy())).sum())
    examples = [
        f"asked for {train.captions[p]!r}, made {train.captions[n]!r} ({d:.3f})"
        for p, n, d in zip(pick.tolist(), nearest.tolist(), distance.tolist(), strict=True)
        if d < image_index.THRESHOLD
    ]
    unseen, _ = image_index.nearest(_thumbnails((subset(full, held).images + 1) / 2), known)
    close = int((unseen < image_index.THRESHOLD).sum())
    return {
        "family": "gan",
        "samples": samples,
        "reproduced": reproduced,
        "reproduced_own_caption": own,
        "examples": examples[:EXAMPLES],
        "median_distance": round(float(np.median(distance)), 4),
        "reference_share": round(close / max(1, len(unseen)), 4),
        "train_items": len(train.captions),
        "dataset_hash": full.digest,
        "rows": [
            ["images for training captions drawn at random", _share(reproduced, samples)],
            ["... nearest to the very image of their caption", _share(own, samples)],
            [
                "held-out emoji that near-copy a training image (skin tones, man/woman variants)",
                _share(close, len(unseen)),
            ],
            [
                "median distance of a sample to its nearest training image",
                f"{float(np.median(distance)):.3f} (threshold {image_index.THRESHOLD})",
            ],
        ],
        "test": f"the nearest training image is closer than {image_index.THRESHOLD} (RMS "
        f"difference of {image_index.SIDE}x{image_index.SIDE} thumbnails; the calibrated "
        "threshold of the memorisation guard)",
        "sampling": f"{config.image_size} px, noise from seed {seed}, one image per caption",
    }


def _thumbnails(images: torch.Tensor) -> np.ndarray:
    return np.stack([image_index.thumbnail(a) for a in to_uint8(images)])
