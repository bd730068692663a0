"""What /compose does, from request to tune: prompt → header → sampled ABC (music family).

The service's engine calls these, then `music_render` turns the ABC into files. The request is
validated (`schema.MusicRequest`) before any model sees it; every tune reports its seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from generators import music_header
from generators.music_header import Header
from generators.schema import MusicRequest


@dataclass(frozen=True)
class Composition:
    """One tune: its header, its whole ABC text (header lines + body), seed and notes."""

    header: Header
    abc: str
    seed: int
    notes: tuple[str, ...] = ()


def header_for(request: MusicRequest) -> Header:
    """Return the header a request asks for: the prompt's, with the explicit options on top."""
    parsed = music_header.parse(request.prompt)
    return music_header.override(parsed, request.rhythm, request.meter, request.key)


def untrained_config(config: Any) -> Any:
    """Return `config` with the synthetic tunes' vocabulary (notes, bars, spaces; reels and jigs
    in D), so that an untrained model (--tiny, --random) still writes ABC music21 can read."""
    from data import synthetic
    from generators.models import music_lm

    return dataclasses.replace(config, vocab=music_lm.build_vocab(synthetic.tunes()))


def compose(model: Any, request: MusicRequest, constrain_meter: bool = True) -> Composition:
    """Return a tune for the request, sampled from a generator seeded with its seed only; with
    `constrain_meter`, every bar is kept full (music_lm.generate_batch)."""
    from generators.models import music_lm

    codec = music_lm.Codec(model.config.vocab)
    header = header_for(request)
    wanted = (header.rhythm, header.meter, header.key, header.unit)
    unknown = tuple(
        f"the model has not learnt {name} {value}: it was left out of the conditioning"
        for name, value, token in zip(
            ("rhythm", "meter", "key", "unit"), wanted, codec.header(*wanted)[1:], strict=True
        )
        if token == codec.unk
    )
    rng = torch.Generator().manual_seed(request.seed)
    # The cached path: each character costs one position, not the whole tune so far again.
    (body,) = music_lm.generate_batch(
        model,
        codec,
        [wanted],
        rng,
        request.max_new_tokens,
        request.temperature,
        request.top_k,
        constrain_meter,
    )
    notes = (*request.notes, *header.notes, *unknown)
    return Composition(header, f"{header.abc()}{body}\n", request.seed, notes)


def retry_seed(seed: int, attempt: int) -> int:
    """Return the seed of the `attempt`-th retry of a request with `seed` (0: the seed itself):
    retries are deterministic, so a request always gives the same tune."""
    return seed if attempt == 0 else (seed + attempt * 0x9E3779B1) % 2**31
