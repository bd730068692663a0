"""How results and refusals look in Discord, as plain data: message text, files, buttons.
`delivery.py` turns these into discord.py objects; tests read them directly."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from moderation.labels import describe
from moderation.verdict import Verdict

MESSAGE_LIMIT = 2000
EMBED_LIMIT = 4096
EMBEDS_TOTAL = 6000
AUDIO_MIMES = {"audio/ogg": "ogg", "audio/flac": "flac", "audio/wav": "wav", "audio/x-wav": "wav"}
# Discord plays an attached .ogg/.flac/.wav inline; the names keep those extensions.
EXTENSIONS = {"image/png": "png", "text/plain": "txt", "text/vnd.abc": "abc", "audio/midi": "mid"}


@dataclass(frozen=True)
class Button:
    """One button: its label and namespaced custom_id (`gen:<action>:<job>[:<arg>]`)."""

    label: str
    custom_id: str
    style: str = "secondary"
    row: int = 0


@dataclass(frozen=True)
class Rendered:
    """A message to post: text, text blocks for embeds, files (name, bytes) and buttons."""

    content: str
    blocks: tuple[str, ...] = ()
    files: tuple[tuple[str, bytes], ...] = ()
    buttons: tuple[Button, ...] = field(default=())


def marker(job_id: int) -> str:
    """Return the tag every result message carries, so a restarted bot can find it."""
    return f"job {job_id}"


def report_id(job_id: int) -> str:
    """Return the custom_id of a result's report button: only result messages carry it."""
    return f"gen:report:{job_id}"


def _quote(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def image_buttons(job_id: int) -> tuple[Button, ...]:
    """Return the buttons under a 2×2 grid: V1–V4, U1–U4, re-roll, 👍 👎, report, delete."""
    row0 = [Button(f"V{k + 1}", f"gen:var:{job_id}:{k}", row=0) for k in range(4)]
    row1 = [Button(f"U{k + 1}", f"gen:up:{job_id}:{k}", row=1) for k in range(4)]
    row2 = [Button("🔄", f"gen:reroll:{job_id}", "primary", 2), *simple_buttons(job_id, row=2)]
    return (*row0, *row1, *row2)


def simple_buttons(job_id: int, row: int = 0) -> tuple[Button, ...]:
    """Return 👍 👎 (the community's ratings, which fine-tuning reads), report and delete."""
    return (
        Button("👍", f"gen:like:{job_id}", row=row),
        Button("👎", f"gen:dislike:{job_id}", row=row),
        Button("🚩", report_id(job_id), row=row),
        Button("🗑", f"gen:del:{job_id}", "danger", row),
    )


def chunk(text: str, limit: int) -> list[str]:
    """Return `text` cut into pieces of at most `limit` characters, at line or word ends."""
    pieces, rest = [], text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [*pieces, rest] if rest else pieces


def result(job: dict, reply: dict) -> Rendered:
    """Return the message that shows a job's result."""
    command, params = job["command"], job["params"]
    head = f"**{_quote(params.get('prompt', command))}** · seed {job['seed']} · {marker(job['id'])}"
    head = f"<@{job['user']}> {head}"
    if params.get("redacted"):
        head += "\n-# 🔒 Personal information was removed from the prompt before it was kept."
    if reply.get("withheld"):
        head += f"\n-# {reply['withheld']['count']} output(s) withheld by moderation."
    outputs = reply["outputs"]
    if command == "write":
        text = outputs[0]["text"] if outputs else ""
        # A model may stop at once (an end token first): say so rather than post nothing.
        blocks = chunk(text, EMBED_LIMIT) if text.strip() else ["*(the model wrote nothing)*"]
        if sum(len(b) for b in blocks) <= EMBEDS_TOTAL:
            return Rendered(head, tuple(blocks), (), simple_buttons(job["id"]))
        data = (("result.txt", text.encode()),)
        return Rendered(head, (chunk(text, EMBED_LIMIT)[0],), data, simple_buttons(job["id"]))
    if command in ("imagine", "reroll"):
        grid = next((o for o in outputs if o.get("role") == "grid"), outputs[0])
        files = ((f"genbot-{job['id']}.png", base64.b64decode(grid["data"])),)
        return Rendered(head, (), files, image_buttons(job["id"]))
    files = tuple(
        (_name(job["id"], k, o["mime"]), base64.b64decode(o["data"]))
        for k, o in enumerate(outputs)
        if "data" in o and o.get("role") != "tile"
    )
    # A tune's ABC comes as text: attach it as a file next to its audio, MIDI and piano roll.
    texts = tuple(
        (f"genbot-{job['id']}.abc", o["text"].encode())
        for o in outputs
        if o.get("mime") == "text/vnd.abc" and "text" in o
    )
    notes = [n for n in reply.get("notes", []) if "could not read the tune" in n]
    head += "".join(f"\n-# {n}" for n in notes)
    return Rendered(head, (), texts + files, simple_buttons(job["id"]))


def _name(job_id: int, k: int, mime: str) -> str:
    ext = EXTENSIONS.get(mime) or AUDIO_MIMES.get(mime, "bin")
    return f"genbot-{job_id}-{k}.{ext}"


def refusal(verdict: Verdict, what: str, text: str | None = None) -> str:
    """Return the words a refused user reads: which check, in plain words, and what next."""
    subject = {"prompt": "Your prompt", "upload": "Your image", "output": "The result"}.get(
        what, "This"
    )
    if verdict.top is None:
        return f"{subject} could not be used."
    label = verdict.top.label
    line = f"{subject} was refused: it looks like {describe(label)}"
    if text and verdict.top.span:
        start, end = verdict.top.span
        if text[start:end].strip():
            line += f' ("{_quote(text[start:end], 60)}")'
    return (
        line + f". (check: `{label}`, {verdict.top.score:.0%} sure)\n"
        "If you think this is a mistake, press **Appeal** and a moderator will look."
    )


def held(job: dict) -> str:
    """Return what the requester sees while a result waits for a moderator."""
    return f"⏳ Your result ({marker(job['id'])}) is pending review by a moderator."


def queued(position: int | None, eta_s: float | None) -> str:
    """Return the progress line of a waiting job."""
    if position is None:
        return "⚙️ Generating…"
    eta = f", about {max(1, round(eta_s or 0))} s" if eta_s is not None else ""
    return f"⏳ Queued: position {position}{eta}."
