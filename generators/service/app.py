"""The generation service's HTTP API (aiohttp), built by `create_app`. Handlers are thin:
parse, call, serialise. See `GET /openapi.json` for the fields."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from generators.schema import (
    ImageRequest,
    MusicRequest,
    RequestError,
    TextRequest,
    VariationRequest,
    integer,
)
from generators.service.batcher import Batcher, DeadlineExceeded, QueueFull
from generators.service.engine import Engine, Job
from generators.service.metrics import Metrics
from generators.service.openapi import OPENAPI
from moderation.policy import policy_from_json
from moderation.uploads import UploadError

log = logging.getLogger(__name__)
ENGINE = web.AppKey("engine", Engine)
BATCHERS = web.AppKey("batchers", dict)
METRICS = web.AppKey("metrics", Metrics)
READY = web.AppKey("ready", asyncio.Event)
TOKEN = web.AppKey("token", str)
MODERATION_CALL = web.AppKey("moderation_call", object)
MAX_BODY = web.AppKey("max_body", int)
MAX_TEXTS = 256
DEFAULT_TIMEOUT_S = 60


def error(status: int, reason: str, field: str | None = None, **headers: str) -> web.Response:
    """Return a JSON error reply."""
    body = {"error": {"status": status, "reason": reason, **({"field": field} if field else {})}}
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def errors_and_auth(request: web.Request, handler) -> web.StreamResponse:
    """Turn bad input into 4xx JSON (never a 500) and check the bearer token on /v1."""
    token = request.app[TOKEN]
    if token and request.path.startswith("/v1/"):
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return error(401, "missing or wrong bearer token")
    try:
        return await handler(request)
    except RequestError as exc:
        return error(400, exc.reason, exc.field)
    except UploadError as exc:
        return error(400, str(exc), "images")
    except web.HTTPRequestEntityTooLarge:
        return error(413, f"body over the limit of {request.app[MAX_BODY]} bytes")
    except web.HTTPException as exc:
        return error(exc.status, exc.reason)


async def _json(request: web.Request) -> dict:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestError("body", "is not valid JSON") from None
    if not isinstance(body, dict):
        raise RequestError("body", "must be a JSON object")
    return body


def _tenant(body: dict, request: web.Request) -> tuple[str, str]:
    tenant = body.get("tenant") or {}
    if not isinstance(tenant, dict):
        raise RequestError("tenant", "must be an object with guild and user")
    return str(tenant.get("guild", "-")), str(tenant.get("user", request.remote or "-"))


def _policy(body: dict):
    try:
        return policy_from_json(body.get("policy"))
    except ValueError as exc:
        raise RequestError("policy", str(exc)) from None


def _guild(body: dict) -> tuple[tuple, tuple[str, ...]]:
    """Return the guild's own rules and image denylist from a request body (checked)."""
    from moderation.labels import LABELS
    from moderation.scorers.rules import Rule, RuleError, check_guild_rule

    rules, raw_rules = [], body.get("rules", [])
    if not isinstance(raw_rules, list) or len(raw_rules) > 500:
        raise RequestError("rules", "must be a list of at most 500 rules")
    for raw in raw_rules:
        if not isinstance(raw, dict) or not isinstance(raw.get("pattern"), str):
            raise RequestError("rules", "each rule needs a pattern string")
        label, kind = raw.get("label", "spam"), raw.get("kind", "keyword")
        score = raw.get("score", 1.0)
        if (kind != "allow" and label not in LABELS) or not isinstance(score, int | float):
            raise RequestError("rules", f"bad label or score in {raw!r}")
        rule = Rule(str(label), raw["pattern"], str(kind), float(score))
        try:
            check_guild_rule(rule)
        except RuleError as exc:
            raise RequestError("rules", f"{raw['pattern']!r}: {exc}") from None
        rules.append(rule)
    denylist = body.get("denylist", [])
    if not isinstance(denylist, list) or not all(
        isinstance(h, str) and len(h) == 16 and all(c in "0123456789abcdef" for c in h)
        for h in denylist
    ):
        raise RequestError("denylist", "must be a list of 16-hex-digit perceptual hashes")
    return tuple(rules), tuple(denylist)


def _images(body: dict, count: tuple[int, int]) -> list[bytes]:
    images = body.get("images")
    if not isinstance(images, list) or not count[0] <= len(images) <= count[1]:
        raise RequestError("images", f"must be a list of {count[0]} to {count[1]} base64 images")
    try:
        return [base64.b64decode(i, validate=True) for i in images]
    except (binascii.Error, TypeError, ValueError):
        raise RequestError("images", "must be base64-encoded") from None


async def healthz(request: web.Request) -> web.Response:
    """Alive."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready once models are loaded and warmed up."""
    if not request.app[READY].is_set():
        return error(503, "models are still loading")
    return web.json_response({"ready": True, "families": sorted(request.app[BATCHERS])})


async def models(request: web.Request) -> web.Response:
    """The loaded families, where they came from, and their queues."""
    engine, batchers = request.app[ENGINE], request.app[BATCHERS]
    return web.json_response(
        {
            "device": engine.device,
            "models": {
                name: {
                    "source": m.source,
                    "step": m.step,
                    "load_seconds": round(m.load_seconds, 2),
                    "queue_depth": batchers[name].depth if name in batchers else 0,
                }
                for name, m in engine.models.items()
            },
            "moderation": engine.screener.model_versions,
        }
    )


async def moderate(request: web.Request) -> web.Response:
    """Screen texts (and base64 images) and return one verdict per input, in order."""
    body = await _json(request)
    texts, direction = body.get("texts", []), body.get("direction", "prompt")
    if (
        not isinstance(texts, list)
        or len(texts) > MAX_TEXTS
        or not all(isinstance(t, str) for t in texts)
    ):
        raise RequestError("texts", f"must be a list of at most {MAX_TEXTS} strings")
    if direction not in ("prompt", "output"):
        raise RequestError("direction", "must be prompt or output")
    policy, engine = _policy(body), request.app[ENGINE]
    rules, denylist = _guild(body)
    images = _images(body, (0, 16)) if body.get("images") else []
    verdicts = await request.app[MODERATION_CALL](
        engine.screener.screen, texts, direction, policy, rules
    )
    image_verdicts = []
    if images:
        from generators.service.replies import decoded

        pictures = decoded(images)
        image_verdicts = await request.app[MODERATION_CALL](
            engine.screener.screen_images, pictures, direction, policy, denylist
        )
    return web.json_response(
        {
            "verdicts": [v.to_json() for v in verdicts],
            "image_verdicts": [v.to_json() for v in image_verdicts],
        }
    )


def _parse_job(family: str, body: dict) -> Job:
    policy, (rules, denylist) = _policy(body), _guild(body)
    if family == "gan":
        return Job(ImageRequest.parse(body), policy, rules=rules, denylist=denylist)
    if family == "text":
        return Job(TextRequest.parse(body), policy, rules=rules, denylist=denylist)
    if family == "music":
        return Job(MusicRequest.parse(body), policy, rules=rules, denylist=denylist)
    if family == "vae":
        images = _images(body, (1, 2))
        from moderation.uploads import open_image

        for data in images:
            open_image(data)  # refuse a bad upload here, with its reason, before it queues
        return Job(VariationRequest.parse(body), policy, images, rules, denylist)
    raise web.HTTPNotFound(reason=f"unknown family {family!r}")


def _busy(batcher: Batcher, metrics: Metrics, family: str) -> web.Response:
    metrics.requests.labels(family, "429").inc()
    hint = batcher.retry_after()
    message = f"{family} queue is full; retry in {hint:.1f} s"
    return error(429, message, **{"Retry-After": str(max(1, round(hint)))})


async def generate(request: web.Request) -> web.Response:
    """Queue one generation request; reply with screened outputs and timings."""
    family = request.match_info["family"]
    batchers, metrics = request.app[BATCHERS], request.app[METRICS]
    if family not in batchers:
        return error(404, f"family {family!r} is not served here; see /v1/models")
    if not request.app[READY].is_set():
        return error(503, "models are still loading", **{"Retry-After": "5"})
    if batchers[family].full:
        # Refused before the body is read or parsed: under a burst, every excess request costs
        # as little event-loop time as possible, so the 429s come back fast.
        batchers[family].stats.rejected += 1
        return _busy(batchers[family], metrics, family)
    body = await _json(request)
    job = _parse_job(family, body)
    timeout = integer(body.get("timeout_s", DEFAULT_TIMEOUT_S), "timeout_s", 1, 600)
    started = time.monotonic()
    try:
        reply = await batchers[family].submit(job, _tenant(body, request), timeout=timeout)
    except QueueFull:
        return _busy(batchers[family], metrics, family)
    except DeadlineExceeded as exc:
        metrics.requests.labels(family, "504").inc()
        return error(504, str(exc))
    total_ms = (time.monotonic() - started) * 1000
    compute_ms = reply.pop("compute_ms", 0.0)
    reply["timings"] = {
        "queue_ms": round(max(0.0, total_ms - compute_ms), 1),
        "compute_ms": round(compute_ms, 1),
    }
    metrics.observe(family, "200", total_ms - compute_ms, compute_ms)
    tenant_hash = hashlib.sha256(repr(_tenant(body, request)).encode()).hexdigest()[:10]
    log.info(
        "request family=%s tenant=%s queue_ms=%.1f compute_ms=%.1f action=%s outputs=%d",
        family,
        tenant_hash,
        total_ms - compute_ms,
        compute_ms,
        reply["verdict"]["action"],
        len(reply["outputs"]),
    )
    return web.json_response(reply)


async def metrics_route(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    request.app[METRICS].queue_depth_snapshot(request.app[BATCHERS])
    body, content_type = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": content_type})


async def openapi(request: web.Request) -> web.Response:
    """The API description."""
    return web.json_response(OPENAPI)


def create_app(
    engine: Engine,
    families: dict[str, dict[str, Any]],
    token: str | None = None,
    max_body_bytes: int = 10 * 2**20,
) -> web.Application:
    """Return the service app. `families` maps a loaded family to its batcher settings
    (max_batch_size, max_wait_ms, max_queue). Models are warmed up in a startup context."""
    app = web.Application(client_max_size=max_body_bytes, middlewares=[errors_and_auth])
    app[ENGINE], app[TOKEN], app[MAX_BODY] = engine, token or "", max_body_bytes
    app[READY], app[METRICS] = asyncio.Event(), Metrics()
    runners = {
        "gan": engine.gan_batch,
        "vae": engine.vae_batch,
        "music": engine.music_batch,
    }

    def batcher(name: str, options: dict) -> Batcher:
        async def run(jobs):
            return await engine.call(runners[name], jobs)

        async def step(joining, leaving):
            return await engine.call(engine.text_step, joining, leaving)

        # Text decodes token by token: requests join and leave the running batch between
        # steps (continuous batching) instead of waiting for the whole batch to finish.
        continuous = step if name == "text" else None
        return Batcher(
            name, run, on_batch=app[METRICS].observe_batch, run_step=continuous, **options
        )

    app[BATCHERS] = {name: batcher(name, opts) for name, opts in families.items()}
    moderation_pool = ThreadPoolExecutor(1, "genbot-moderation")

    async def moderation_call(fn, *args):
        # Moderation has its own thread: it never waits behind a generation batch.
        return await asyncio.get_running_loop().run_in_executor(moderation_pool, fn, *args)

    app[MODERATION_CALL] = moderation_call

    async def lifecycle(app: web.Application):
        for b in app[BATCHERS].values():
            b.start()
        await engine.call(engine.warm_up)
        app[READY].set()
        yield
        for b in app[BATCHERS].values():
            await b.stop()
        moderation_pool.shutdown(wait=False)

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_route)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/moderate", moderate)
    app.router.add_post("/v1/generate/{family}", generate)
    return app
