"""Autoregressive generation on this machine, side by side in one run:

    .venv/bin/python bench/generation.py [--text smollm2-135m-instruct] [--tokens 64] [--tunes 5]

Text: tokens/s of the /write path (`text_lm.generate`: left padding, KV cache, a seeded sampler
per request) for a batch of 1 and a batch of 8, and their ratio: the tokens the requests
produced over the wall time (a row that ends early leaves its batch at once). Music:
seconds per /compose tune (the shipped model samples, music21 reads, MIDI, audio and piano roll
are made) and the size of the audio per minute. One torch thread: a small model gains nothing
from more on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPTS = [
    "Write a short poem about the sea.",
    "Describe a lighthouse at night.",
    "Tell me a fact about owls.",
    "Write one sentence about autumn.",
    "Give a tip for baking bread.",
    "Describe a busy market.",
    "Write a riddle about time.",
    "Say something kind to a friend.",
]


def text_rates(source: str, home: Path, tokens: int) -> dict[int, float]:
    """Return tokens per second for batches of 1 and 8 (best of 2 runs each)."""
    from generators.models import text_lm
    from generators.schema import TextRequest

    lm = text_lm.load(source, home)
    rates = {}
    for size in (1, 8):
        requests = [
            TextRequest.parse({"prompt": p, "max_new_tokens": tokens, "seed": k})
            for k, p in enumerate(PROMPTS[:size])
        ]
        best = 0.0
        for _ in range(2):
            started = time.perf_counter()
            results = text_lm.generate(lm, requests)
            elapsed = time.perf_counter() - started
            best = max(best, sum(r.tokens for r in results) / elapsed)
        rates[size] = best
    return rates


def tune_figures(tunes: int) -> tuple[list[float], list[float]]:
    """Return seconds per tune and audio KiB per minute of music for `tunes` /compose calls."""
    from data import checkpoints
    from generators import music_api, music_render
    from generators.models import music_lm
    from generators.schema import MusicRequest

    path = Path(__file__).resolve().parent.parent / "data" / "models" / "music-folk" / "model.pt"
    blob = checkpoints.load(path, family="music")
    model = music_lm.from_export(
        checkpoints.config_from(blob, music_lm.Config), blob["state_dict"]
    ).eval()
    seconds, sizes = [], []
    for k in range(tunes):
        request = MusicRequest.parse({"prompt": "a lively reel in D", "seed": k})
        started = time.perf_counter()
        tune = music_api.compose(model, request)
        rendering = music_render.render(tune.abc, "music:folk", tune.seed)
        seconds.append(time.perf_counter() - started)
        if rendering.audio is not None:
            sizes.append(len(rendering.audio) / 1024 / rendering.seconds * 60)
    return seconds, sizes


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", default="smollm2-135m-instruct", help="a text_lm source")
    parser.add_argument("--home", default="var", help="GENBOT_HOME (converted models)")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--tunes", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rates = text_rates(args.text, Path(args.home), args.tokens)
    print(f"text ({args.text}, {args.tokens} new tokens a request, 1 thread)")
    print("| batch | tokens/s |\n|---|---|")
    for size, rate in rates.items():
        print(f"| {size} | {rate:.1f} |")
    print(f"batch 8 / batch 1: {rates[8] / rates[1]:.2f}x")
    seconds, sizes = tune_figures(args.tunes)
    print(f"\nmusic (music-folk, {args.tunes} tunes)")
    print(f"seconds per tune: median {statistics.median(seconds):.2f}, max {max(seconds):.2f}")
    if sizes:
        print(f"audio per minute of music: median {statistics.median(sizes):.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
