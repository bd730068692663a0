"""The bot's client of the generation service: one session, timeouts, retries with backoff on
429/503 (honouring Retry-After), several replicas with health-checked selection, and typed
errors the bot turns into friendly messages."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A request could not be served; `friendly` is what a user may read."""

    friendly = "The generator is having trouble right now. Your request is kept and will retry."


class ServiceUnavailable(ServiceError):
    """No replica answered (down, or still loading)."""


class ServiceBusy(ServiceError):
    """Every try met a full queue."""

    friendly = "The generator is busy. Your request is queued and will run as soon as it can."

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BadRequest(ServiceError):
    """The service refused the request's content; `field` names what."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.field = field
        self.friendly = f"That request can't be made: {message}."


class Unauthorized(ServiceError):
    """The service token is missing or wrong (an operator's problem, not the user's)."""


class DeadlineExceeded(ServiceError):
    """The service gave up on the request's deadline."""

    friendly = "That took too long and was stopped. Please try again."


@dataclass
class Replica:
    """One service URL and what we know of its health."""

    url: str
    healthy: bool = True
    checked: float = 0.0


class ServiceClient:
    """Talks to one or more service replicas."""

    def __init__(
        self,
        urls: tuple[str, ...] | list[str],
        token: str | None = None,
        timeout: float = 120.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        recheck_after: float = 15.0,
        reprobe_down_after: float = 1.0,
    ) -> None:
        if not urls:
            raise ValueError("at least one service URL is needed")
        self.replicas = [Replica(u.rstrip("/")) for u in urls]
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=5)
        self.retries, self.backoff = retries, backoff
        self.max_retry_after, self.recheck_after = max_retry_after, recheck_after
        self.reprobe_down_after = reprobe_down_after
        self._session: aiohttp.ClientSession | None = None
        self._next = 0

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        """Return the one session (created on first use, inside the running loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout, headers=self.headers)
        return self._session

    async def close(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()

    async def _healthy(self, replica: Replica) -> bool:
        try:
            async with self.session.get(
                f"{replica.url}/readyz", timeout=aiohttp.ClientTimeout(total=3)
            ) as r:
                replica.healthy = r.status == 200
        except (aiohttp.ClientError, TimeoutError):
            replica.healthy = False
        replica.checked = time.monotonic()
        return replica.healthy

    async def pick(self) -> Replica:
        """Return a replica believed healthy (round-robin), re-probing stale ones."""
        now = time.monotonic()
        for _ in range(len(self.replicas)):
            replica = self.replicas[self._next % len(self.replicas)]
            self._next += 1
            # A healthy replica is re-probed now and then; a down one soon, to notice its return.
            wait = self.recheck_after if replica.healthy else self.reprobe_down_after
            stale = now - replica.checked > wait
            if replica.healthy and not stale:
                return replica
            if stale and await self._healthy(replica):
                return replica
        raise ServiceUnavailable("no generation service replica is ready")

    async def request(self, method: str, path: str, body: dict | None = None) -> dict:
        """Send one request with retries; return the JSON reply or raise a ServiceError."""
        last: ServiceError = ServiceUnavailable("no attempt made")
        for attempt in range(self.retries + 1):
            try:
                replica = await self.pick()
            except ServiceUnavailable as exc:
                last = exc
                await self._sleep(attempt, None)
                continue
            try:
                async with self.session.request(method, f"{replica.url}{path}", json=body) as reply:
                    data = await reply.json(content_type=None)
                    status = reply.status
                    retry_after = reply.headers.get("Retry-After")
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                replica.healthy, replica.checked = False, time.monotonic()
                last = ServiceUnavailable(f"{replica.url}: {exc.__class__.__name__}")
                log.warning("service replica %s failed: %s", replica.url, exc)
                continue
            if status == 200:
                return data
            error = (data or {}).get("error", {}) if isinstance(data, dict) else {}
            reason = error.get("reason", f"HTTP {status}")
            if status == 400 or status == 404 or status == 413:
                raise BadRequest(reason, error.get("field"))
            if status == 401:
                raise Unauthorized(reason)
            if status == 504:
                raise DeadlineExceeded(reason)
            wait = float(retry_after) if retry_after else None
            last = ServiceBusy(reason, wait or 1.0) if status == 429 else ServiceUnavailable(reason)
            if status == 503:
                replica.healthy, replica.checked = False, time.monotonic()
            await self._sleep(attempt, wait)
        raise last

    async def _sleep(self, attempt: int, retry_after: float | None) -> None:
        if attempt >= self.retries:
            return
        delay = retry_after if retry_after is not None else self.backoff * 2**attempt
        await asyncio.sleep(min(self.max_retry_after, delay) * random.uniform(1.0, 1.2))

    async def generate(self, family: str, body: dict) -> dict:
        """Return the service's screened reply for one generation request."""
        return await self.request("POST", f"/v1/generate/{family}", body)

    async def moderate(
        self,
        texts: list[str],
        direction: str,
        policy: Any = None,
        rules: list | tuple = (),
        images: list[str] | None = None,
        denylist: list | tuple = (),
    ) -> list[dict]:
        """Return one verdict dict per text, in order (then one per base64 image, if any)."""
        body = {"texts": texts, "direction": direction, "policy": policy, "rules": list(rules)}
        if images:
            body.update(images=images, denylist=list(denylist))
        reply = await self.request("POST", "/v1/moderate", body)
        return reply["verdicts"] + reply.get("image_verdicts", [])

    async def models(self) -> dict:
        """Return what the service has loaded."""
        return await self.request("GET", "/v1/models")
