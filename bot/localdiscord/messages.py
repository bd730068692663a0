"""Creating and editing messages from send/edit payloads, with Discord's limits enforced."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import time
from typing import Any

from .bodies import Upload
from .models import iso_now, new_snowflake
from .records import EPHEMERAL, LOADING, MessageRecord, StoredFile, walk_components
from .state import ApiError, World

CONTENT_LIMIT = 2000
EMBED_LIMITS = {"title": 256, "description": 4096}
EMBED_TOTAL = 6000
MAX_EMBEDS = 10
MAX_FILES = 10
MAX_FIELDS = 25
# Flags a sender may set; the others belong to Discord.
SETTABLE_FLAGS = (1 << 2) | (1 << 6) | (1 << 12) | (1 << 15)


def form_error(field: str, code: str, message: str) -> ApiError:
    """Return Discord's 50035 Invalid Form Body error for one field."""
    errors = {field: {"_errors": [{"code": code, "message": message}]}}
    return ApiError(400, 50035, "Invalid Form Body", errors)


def check_limits(payload: dict, uploads: list[Upload], size_limit: int) -> None:
    """Raise the error Discord gives for content, embed, file-count or file-size limits."""
    content = payload.get("content") or ""
    if len(content) > CONTENT_LIMIT:
        raise form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    embeds = payload.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        raise form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for embed in embeds:
        for key, limit in EMBED_LIMITS.items():
            if len(embed.get(key) or "") > limit:
                raise form_error(f"embeds.{key}", "BASE_TYPE_MAX_LENGTH", f"Max {limit}.")
        fields = embed.get("fields") or []
        if len(fields) > MAX_FIELDS:
            raise form_error("embeds.fields", "BASE_TYPE_MAX_LENGTH", "Max 25 fields.")
        total += sum(len(embed.get(k) or "") for k in EMBED_LIMITS)
        total += sum(len(f.get("name", "")) + len(f.get("value", "")) for f in fields)
    if total > EMBED_TOTAL:
        raise form_error("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds 6000.")
    if len(uploads) > MAX_FILES:
        raise form_error("files", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    if any(len(u.data) > size_limit for u in uploads):
        raise ApiError(413, 40005, "Request entity too large")


def _is_empty(msg: MessageRecord) -> bool:
    """Return whether a message has nothing to show (Discord refuses those)."""
    return not (msg.content.strip() or msg.embeds or msg.attachments or msg.components)


def _store_upload(world: World, upload: Upload, msg: MessageRecord, entry: dict) -> StoredFile:
    """Store one uploaded file as an attachment of `msg`."""
    return world.store_file(
        entry.get("filename") or upload.filename,
        upload.data,
        None if upload.content_type == "application/octet-stream" else upload.content_type,
        channel_id=msg.channel_id,
        description=entry.get("description"),
        ephemeral=msg.ephemeral,
    )


def _attachments(world: World, msg: MessageRecord, payload: dict, uploads: list[Upload]) -> None:
    """Set the message's attachments: kept ones by id, new ones by `files[n]` index."""
    entries = payload.get("attachments")
    by_index = {u.index: u for u in uploads}
    if entries is None:
        msg.attachments = msg.attachments + [_store_upload(world, u, msg, {}) for u in uploads]
        return
    existing = {a.id: a for a in msg.attachments}
    kept: list[StoredFile] = []
    used: set[int] = set()
    for entry in entries:
        ref = int(entry["id"])
        if ref in existing:
            kept.append(existing[ref])
        elif ref in by_index and ref not in used:
            kept.append(_store_upload(world, by_index[ref], msg, entry))
            used.add(ref)
    kept += [_store_upload(world, u, msg, {}) for i, u in by_index.items() if i not in used]
    msg.attachments = kept


def _number_components(components: list[dict]) -> list[dict]:
    """Return a copy of `components` with the numeric `id`s Discord assigns where missing."""
    components = copy.deepcopy(components)
    all_parts = walk_components(components)
    taken = {c["id"] for c in all_parts if isinstance(c.get("id"), int)}
    fresh = (n for n in itertools.count(1) if n not in taken)
    for comp in all_parts:
        if "id" not in comp:
            comp["id"] = next(fresh)
    return components


def _apply(world: World, msg: MessageRecord, payload: dict, uploads: list[Upload]) -> None:
    """Copy the fields present in a send/edit payload onto the message."""
    if "content" in payload:
        msg.content = payload["content"] or ""
    if "embeds" in payload:
        msg.embeds = payload["embeds"] or []
    if "components" in payload:
        msg.components = _number_components(payload["components"] or [])
    if "allowed_mentions" in payload:
        msg.allowed_mentions = payload["allowed_mentions"]
    if payload.get("flags") is not None:
        # Whether a message is ephemeral is fixed when it is created.
        wanted = int(payload["flags"]) & SETTABLE_FLAGS & ~EPHEMERAL
        msg.flags = (msg.flags & ~SETTABLE_FLAGS) | wanted | (msg.flags & EPHEMERAL)
    _attachments(world, msg, payload, uploads)


def new_message(
    world: World,
    channel_id: int,
    payload: dict,
    uploads: list[Upload],
    **fields: Any,
) -> MessageRecord:
    """Validate a send payload and return the new (not yet stored) message by the bot."""
    guild, _ = world.channel(channel_id)
    check_limits(payload, uploads, world.filesize_limit(channel_id))
    flags = int(payload.get("flags") or 0) & SETTABLE_FLAGS
    msg = MessageRecord(
        id=new_snowflake(),
        channel_id=channel_id,
        guild_id=guild.id if guild else None,
        author=fields.pop("author", world.bot.payload()),
        timestamp=iso_now(),
        flags=flags | fields.pop("extra_flags", 0),
        tts=bool(payload.get("tts")),
        nonce=payload.get("nonce"),
        **fields,
    )
    _apply(world, msg, payload, uploads)
    if _is_empty(msg) and not msg.loading:
        raise ApiError(400, 50006, "Cannot send an empty message")
    return msg


def edit_message(world: World, msg: MessageRecord, payload: dict, uploads: list[Upload]) -> None:
    """Validate and apply an edit, keeping the previous state in `msg.versions`."""
    check_limits(payload, uploads, world.filesize_limit(msg.channel_id))
    trial = dataclasses.replace(msg, flags=msg.flags & ~LOADING)
    _apply(world, trial, payload, uploads)
    if _is_empty(trial):
        raise ApiError(400, 50006, "Cannot send an empty message")
    msg.versions.append(msg.payload())
    for name in ("content", "embeds", "components", "attachments", "flags", "allowed_mentions"):
        setattr(msg, name, getattr(trial, name))
    msg.edit_times.append(time.monotonic())
    msg.edited_timestamp = iso_now()
    world.touch()


async def announce(world: World, event: str, msg: MessageRecord) -> None:
    """Tell the bot's gateway about a created, edited or deleted channel message."""
    if msg.ephemeral:
        return
    if event == "MESSAGE_DELETE":
        data = {"id": str(msg.id), "channel_id": str(msg.channel_id), "guild_id": str(msg.guild_id)}
    else:
        data = msg.payload()
    await world.publish(msg.guild_id, event, data)
