"""Turn a job row into the service call that makes its result. Jobs that build on an earlier
result (upscale, variations of a tile) regenerate that result from its stored seed first, so
nothing but parameters is ever stored."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from bot.guilds import GuildConfig

FAMILY = {
    "imagine": "gan",
    "reroll": "gan",
    "upscale": "gan",
    "variation": "vae",
    "vary": "vae",
    "blend": "vae",
    "write": "text",
    "compose": "music",
}
UPSCALE_TO = 256  # pixels on the long side of an enlarged tile


def uploads_dir(home: Path) -> Path:
    """Return the folder where a job's uploaded images wait until the job ends."""
    return home / "uploads"


def _tenant(job: dict) -> dict[str, str]:
    return {"guild": str(job["guild"] or "dm"), "user": str(job["user"])}


def body_for(job: dict, config: GuildConfig) -> tuple[str, dict[str, Any]]:
    """Return the family and request body of a job that needs one service call."""
    p, command = job["params"], job["command"]
    body: dict[str, Any] = {
        "seed": job["seed"],
        "tenant": _tenant(job),
        "policy": config.policy(bool(p.get("age_restricted"))),
        "rules": list(config.rules),
        "denylist": list(config.denylist),
    }
    if command in ("imagine", "reroll", "upscale"):
        body.update(prompt=p["prompt"], num_samples=4)
    elif command == "write":
        body.update(prompt=p["prompt"], max_new_tokens=p["max_tokens"])
        body.update(temperature=p["temperature"])
    elif command == "compose":
        body.update(prompt=p["prompt"], **{k: p[k] for k in ("key", "meter", "rhythm") if p.get(k)})
    elif command in ("vary", "blend"):
        images = [base64.b64encode(Path(f).read_bytes()).decode() for f in p["files"]]
        body.update(images=images, strength=p.get("strength", 0.5))
    return FAMILY[command], body


async def service_call(service: Any, job: dict, config: GuildConfig) -> dict:
    """Return the service's reply for the job (two calls for variations of a tile)."""
    if job["command"] == "variation":
        source = {**job, "command": "imagine", "seed": job["params"]["source_seed"]}
        family, body = body_for(source, config)
        grid = await service.generate(family, body)
        tile = _tile(grid, job["params"]["tile"])
        if tile is None:
            return grid  # the tile was withheld: the reply carries the verdict that says why
        _, body = body_for({**job, "command": "vary", "params": {"files": []}}, config)
        body.update(images=[tile["data"]], strength=job["params"].get("strength", 0.6))
        return await service.generate("vae", body)
    family, body = body_for(job, config)
    reply = await service.generate(family, body)
    if job["command"] == "upscale":
        return _enlarged(reply, job["params"]["tile"])
    return reply


def _tile(reply: dict, index: int) -> dict | None:
    for output in reply.get("outputs", []):
        if output.get("role") == "tile" and output.get("index") == index:
            return output
    return None


def _enlarged(reply: dict, index: int) -> dict:
    """Return the reply with only tile `index`, enlarged (Lanczos, a whole factor up to
    UPSCALE_TO pixels) with its provenance text chunks kept."""
    from PIL import Image, PngImagePlugin

    tile = _tile(reply, index)
    if tile is None:
        return {**reply, "outputs": []}
    image = Image.open(io.BytesIO(base64.b64decode(tile["data"])))
    info = PngImagePlugin.PngInfo()
    for key, value in (image.text or {}).items():
        info.add_text(key, value)
    factor = max(1, UPSCALE_TO // max(image.size))
    big = image.convert("RGB").resize(
        (image.width * factor, image.height * factor), Image.Resampling.LANCZOS
    )
    out = io.BytesIO()
    big.save(out, format="PNG", pnginfo=info)
    data = base64.b64encode(out.getvalue()).decode()
    return {**reply, "outputs": [{**tile, "role": "upscale", "data": data}]}
