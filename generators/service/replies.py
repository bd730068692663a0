"""The service's replies as plain data: output dicts (base64 bytes, seed, provenance mark),
refusals, and the most severe of several verdicts. No torch."""

from __future__ import annotations

import base64
from typing import Any

from moderation.verdict import Verdict


def worst(verdicts: list[Verdict]) -> Verdict:
    """Return the most severe of the verdicts (allow when there are none)."""
    order = {"allow": 0, "flag": 1, "block": 2}
    return max(verdicts, key=lambda v: order[v.action]) if verdicts else Verdict("allow")


def b64(data: bytes) -> str:
    """Return bytes as base64 text."""
    return base64.b64encode(data).decode("ascii")


def tune_outputs(rendering: Any, seed: int) -> list[dict]:
    """Return a tune's outputs: its ABC, and MIDI, audio and piano roll when it was readable."""
    mark = rendering.mark
    outputs = [{"mime": "text/vnd.abc", "text": rendering.abc, "seed": seed, "mark": mark}]
    if rendering.midi is None:
        return outputs  # unreadable ABC: the text alone, and rendering.notes say why
    seconds = round(rendering.seconds, 2)
    return outputs + [
        {"mime": "audio/midi", "data": b64(rendering.midi), "seed": seed, "mark": mark},
        {
            "mime": rendering.audio_mime,
            "data": b64(rendering.audio),
            "seed": seed,
            "seconds": seconds,
            "synth": rendering.synth,
            "mark": mark,
        },
        {
            "mime": "image/png",
            "role": "piano_roll",
            "data": b64(rendering.piano_roll),
            "seed": seed,
            "mark": rendering.roll_mark,
        },
    ]


def decoded(images: list[bytes]) -> list:
    """Return the uploads as PIL images, decoded safely."""
    from moderation.uploads import open_image

    return [open_image(data)[0] for data in images]


def refused(verdict: Verdict, what: str = "prompt") -> dict:
    """Return the reply to a request whose prompt or upload was blocked."""
    return {"outputs": [], "verdict": verdict.to_json(), "refused": what, "why": verdict.explain()}


def image_outputs(packed: Any, kept: list[int], seed: int) -> list[dict]:
    """Return the grid and tile outputs of packed images (`kept`: the tiles' indices)."""
    grid = {"mime": "image/png", "role": "grid", "data": b64(packed.grid), "seed": seed}
    outputs = [{**grid, "mark": packed.grid_mark}]
    for k, tile, mark in zip(kept, packed.tiles, packed.tile_marks, strict=True):
        tile = {"mime": "image/png", "role": "tile", "index": k, "data": b64(tile), "seed": seed}
        outputs.append({**tile, "mark": mark})
    return outputs
