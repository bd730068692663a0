"""Reading discord.py's request bodies (JSON or multipart) and writing Discord-shaped replies."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from .state import ApiError


@dataclass
class Upload:
    """A file part of a multipart request; `index` is n in `files[n]`."""

    index: int
    filename: str
    data: bytes
    content_type: str | None


BODY = web.RequestKey("body", tuple)


def json_response(data: Any, status: int = 200) -> web.Response:
    """Return a reply whose Content-Type is exactly `application/json`, as discord.py checks."""
    body = json.dumps(data).encode()
    return web.Response(status=status, body=body, headers={"Content-Type": "application/json"})


def no_content() -> web.Response:
    """Return an empty 204 reply."""
    return web.Response(status=204)


def error_response(error: ApiError) -> web.Response:
    """Return the JSON reply for a Discord error."""
    return json_response(error.body(), error.status)


async def read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    """Return the request's JSON payload and uploaded files, and keep them for the recorder."""
    if BODY in request:
        return request[BODY]
    if request.content_type.startswith("multipart/"):
        parsed = await _read_multipart(request)
    elif request.can_read_body:
        raw = await request.read()
        parsed = (json.loads(raw) if raw else None, [])
    else:
        parsed = (None, [])
    request[BODY] = parsed
    return parsed


async def _read_multipart(request: web.Request) -> tuple[Any, list[Upload]]:
    """Return `payload_json` and the `files[n]` parts of a multipart body."""
    payload: Any = None
    uploads: list[Upload] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "payload_json":
            payload = json.loads(await part.text())
        elif part.filename is not None:
            data = bytes(await part.read(decode=False))
            match = re.fullmatch(r"files\[(\d+)\]", part.name or "")
            index = int(match.group(1)) if match else len(uploads)
            content_type = part.headers.get("Content-Type")
            uploads.append(Upload(index, part.filename, data, content_type))
    return payload, uploads


def snowflake_arg(request: web.Request, name: str, error: ApiError) -> int:
    """Return a snowflake path parameter, raising `error` when it is not a number."""
    try:
        return int(request.match_info[name])
    except ValueError:
        raise error from None


def query_flag(request: web.Request, name: str) -> bool:
    """Return whether a boolean query parameter (`1`/`true`) is set."""
    return request.query.get(name, "").lower() in ("1", "true")
