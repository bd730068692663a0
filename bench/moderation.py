"""Moderation benchmark: one run, side by side, printed as tables.

    .venv/bin/python bench/moderation.py [--texts 64] [--skip-detoxify]

1. normalisation: µs per short message (target < 50 µs);
2. screen: p50/p95 ms for one prompt at a time with the offline stack (lexical + rules + PII);
3. Detoxify at real size (a roberta-base config with random weights, built here and loaded
   through Detoxify's own code): texts one at a time vs batches of 32 (target >= 5x throughput),
   in fp32 and, where this CPU computes it natively, bf16 (GENBOT_DETOXIFY_PRECISION=auto's pick);
4. quality of the offline stack on the test corpus: evasion recall per transform against clean
   recall, benign block rate, long texts with a toxic ending.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.normalize import views
from moderation.policy import policy_for
from moderation.scorers.lexical import LexicalScorer
from moderation.screen import Screener
from tests.moderation.corpus import (
    BENIGN,
    TOXIC_ENDINGS,
    TOXIC_SEEDS,
    TRANSFORMS,
    long_text,
)


def bench_normalise(messages: list[str], rounds: int = 20) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for message in messages:
            views(message)
    return (time.perf_counter() - start) / (rounds * len(messages)) * 1e6


def bench_screen(screener: Screener, prompts: list[str]) -> tuple[float, float]:
    policy, times = policy_for(), []
    for prompt in prompts:
        start = time.perf_counter()
        screener.screen([prompt], "prompt", policy)
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def linear_flops_per_token(model) -> int:
    """Return the multiply-adds x 2 of one token through the model's Linear layers (nearly all
    of a short text's compute)."""
    import torch

    return 2 * sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def bench_detoxify(
    text_sets: dict[str, list[str]], device: str = "cpu"
) -> list[tuple[str, str, float, float, float, int]]:
    """Return (precision, name, mean tokens, texts/s one at a time, texts/s in batches of 32,
    FLOPs per token) per precision (fp32, and bf16 where this machine computes it natively:
    what the default `auto` picks) and set."""
    from moderation.scorers.local_checkpoint import build
    from moderation.scorers.toxicity import DetoxifyScorer, native_bf16

    precisions = ["fp32", "bf16"] if native_bf16(device) else ["fp32"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        checkpoint, config = build(Path(folder), arch="roberta", size="base")
        scorers = {
            p: DetoxifyScorer(
                checkpoint=str(checkpoint),
                config_path=str(config),
                batch_size=32,
                precision=p,
                device=device,
            )
            for p in precisions
        }
        for scorer in scorers.values():
            scorer.load()
    for precision, scorer in scorers.items():
        scorer.score(["warm up", "the model"])
        for name, texts in text_sets.items():
            tokens = statistics.mean(len(ids) for ids in scorer._window_batches(texts)[0])
            start = time.perf_counter()
            for text in texts:
                scorer.score([text])
            single = len(texts) / (time.perf_counter() - start)
            start = time.perf_counter()
            scorer.score(texts)
            batched = len(texts) / (time.perf_counter() - start)
            flops = linear_flops_per_token(scorer._detoxify.model)
            rows.append((precision, name, tokens, single, batched, flops))
    return rows


def quality(screener: Screener) -> list[tuple[str, float]]:
    policy = policy_for()

    def caught(texts: list[str]) -> float:
        return sum(v.action != "allow" for v in screener.screen(texts, "prompt", policy)) / len(
            texts
        )

    rows = [("clean toxic seeds", caught(TOXIC_SEEDS))]
    rows += [
        (f"evasion: {name}", caught([f(t) for t in TOXIC_SEEDS])) for name, f in TRANSFORMS.items()
    ]
    benign = screener.screen(BENIGN, "prompt", policy)
    rows.append(("benign blocked", sum(v.action == "block" for v in benign) / len(BENIGN)))
    rows.append(("benign held for review", sum(v.action == "flag" for v in benign) / len(BENIGN)))
    endings = [long_text(s) + " " + TOXIC_ENDINGS[s % len(TOXIC_ENDINGS)] for s in range(50)]
    rows.append(("600-token text + toxic ending caught", caught(endings)))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--texts", type=int, default=64, help="texts for the Detoxify batching run")
    parser.add_argument("--skip-detoxify", action="store_true", help="skip the real-size model run")
    parser.add_argument("--device", default="cpu", help="where Detoxify runs: cpu, cuda, cuda:N")
    args = parser.parse_args(argv)

    messages = BENIGN + TOXIC_SEEDS + [f(t) for f in TRANSFORMS.values() for t in TOXIC_SEEDS[:5]]
    per_message = bench_normalise(messages)
    print(
        f"normalisation: {per_message:.1f} µs per message, {len(messages)} messages (target < 50)"
    )

    screener = Screener([LexicalScorer()])
    screener.load()
    p50, p95 = bench_screen(screener, (BENIGN + TOXIC_SEEDS) * 2)
    print(f"screen, one prompt, lexical + rules + PII: p50 {p50:.2f} ms, p95 {p95:.2f} ms")

    if not args.skip_detoxify:
        prompts = (TOXIC_SEEDS + BENIGN)[: args.texts]
        longer = [f"{b}, and then {t}" for b, t in zip(BENIGN, TOXIC_SEEDS * 4, strict=False)]
        sets = {"one-line prompts": prompts, "two-clause messages": longer[: args.texts]}
        print(
            f"\nDetoxify at roberta-base size (random weights) on {args.device}, "
            f"{args.texts} texts per set:"
        )
        print(
            f"{'precision':<10}{'texts':<22}{'tokens':>8}{'one at a time':>16}"
            f"{'batches of 32':>16}{'ratio':>8}{'GFLOP/s one | batch':>22}"
        )
        for precision, name, tokens, single, batched, flops in bench_detoxify(sets, args.device):
            ratio = batched / single
            # The matrix units' rate tells why batching gains less on longer texts: one text
            # alone already keeps them busier.
            rate = tokens * flops / 1e9
            print(
                f"{precision:<10}{name:<22}{tokens:>8.1f}{single:>14.1f}/s{batched:>14.1f}/s"
                f"{ratio:>7.1f}x{single * rate:>12.0f} | {batched * rate:.0f}"
            )
        print("target: batched >= 5x the throughput of one at a time")

    print("\nquality of the offline stack (caught = held or refused; pg13 prompts):")
    for name, value in quality(screener):
        print(f"  {name:<40}{value:>8.1%}")


if __name__ == "__main__":
    main()
