"""The durable job ledger: every job is a row written before anything happens to it, and this
module moves it through `received → screening → queued → generating → posted | held | refused |
failed`. A restarted bot calls `resume()` and unfinished jobs run again with their stored seed,
so they produce the same output, and `Delivery.post` is idempotent, so each is posted once."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bot import render
from bot.fairqueue import FairQueue, eta_seconds
from bot.guilds import GuildConfig
from bot.requests import service_call
from bot.service_client import (
    BadRequest,
    DeadlineExceeded,
    ServiceBusy,
    ServiceClient,
    ServiceError,
    Unauthorized,
)
from moderation.scorers.pii import redact
from moderation.verdict import Verdict

log = logging.getLogger(__name__)
UNFINISHED = ("received", "screening", "queued", "generating")


class Delivery(Protocol):
    """What the ledger needs from the Discord side (a fake in unit tests, Discord in the bot)."""

    async def progress(self, job: dict, text: str) -> None: ...
    async def post(self, job: dict, reply: dict) -> tuple[int, int]: ...
    async def refuse(self, job: dict, verdict: Verdict, what: str) -> None: ...
    async def hold(self, job: dict, reply: dict, review_id: int) -> None: ...
    async def fail(self, job: dict, reason: str) -> None: ...


class Ledger:
    """Runs jobs from the store through moderation, the service and delivery."""

    def __init__(
        self,
        store: Any,
        service: ServiceClient,
        delivery: Delivery,
        guild_config: Callable[[int | None], Awaitable[GuildConfig]],
        *,
        workers: int = 4,
        retry_base_s: float = 2.0,
        retry_cap_s: float = 30.0,
        give_up_after_s: float = 1800.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.service, self.delivery = store, service, delivery
        self.guild_config = guild_config
        self.workers, self.clock = workers, clock
        self.retry_base_s, self.retry_cap_s = retry_base_s, retry_cap_s
        self.give_up_after_s = give_up_after_s
        self.queue = FairQueue()
        self._wakeup = asyncio.Condition()
        self._tasks: list[asyncio.Task] = []
        self._running: dict[int, asyncio.Task] = {}
        self.per_job_s = 2.0  # running mean of a job's service time, for ETAs

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> int:
        """Start the workers and resume every unfinished job; return how many were resumed."""
        self._tasks = [asyncio.create_task(self._worker(k)) for k in range(self.workers)]
        self._tasks.append(asyncio.create_task(self._tell_positions()))
        unfinished = await self.store.jobs_in_states(UNFINISHED)
        for job in unfinished:
            await self.submit(job)
        if unfinished:
            log.info("resumed %d unfinished jobs", len(unfinished))
        return len(unfinished)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop taking jobs, give running ones `grace_s` to finish; the rest resume next start."""
        for task in self._tasks:
            task.cancel()
        running = list(self._running.values())
        if running:
            await asyncio.wait(running, timeout=grace_s)
        for task in [*self._tasks, *self._running.values()]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._running.values(), return_exceptions=True)

    # --- the queue ----------------------------------------------------------------------------

    async def submit(self, job: dict) -> None:
        """Queue a job (already written to the store) for a worker."""
        async with self._wakeup:
            self.queue.push(job["id"], job["user"])
            self._wakeup.notify()

    def position(self, job_id: int) -> tuple[int, float] | None:
        """Return a queued job's place and expected wait in seconds, or None."""
        place = self.queue.position(job_id)
        if place is None:
            return None
        return place, eta_seconds(place, self.per_job_s, self.workers)

    async def _tell_positions(self, every_s: float = 2.0) -> None:
        """Keep waiting users told of their place and ETA (delivery throttles the edits)."""
        while True:
            await asyncio.sleep(every_s)
            for place, job_id in enumerate(self.queue.order()[:50], start=1):
                job = await self.store.get_job(job_id)
                if job is not None:
                    eta = eta_seconds(place, self.per_job_s, self.workers)
                    await self.delivery.progress(job, render.queued(place, eta))

    async def _worker(self, number: int) -> None:
        while True:
            async with self._wakeup:
                await self._wakeup.wait_for(lambda: len(self.queue) > 0)
                job_id = self.queue.pop()
            if job_id is None:
                continue
            task = asyncio.create_task(self._run(job_id))
            self._running[job_id] = task
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job %s crashed; it is marked failed", job_id)
                await self._end(job_id, "failed", "internal error")
            finally:
                self._running.pop(job_id, None)

    # --- one job ------------------------------------------------------------------------------

    async def _run(self, job_id: int) -> None:
        job = await self.store.get_job(job_id)
        if job is None or job["state"] not in UNFINISHED:
            return
        config = await self.guild_config(job["guild"])
        if job["state"] in ("received", "screening"):
            verdict = await self._screen_prompt(job, config)
            if verdict is None:
                return
            job = await self.store.get_job(job_id)
        await self.store.set_job_state(job_id, "generating")
        await self.delivery.progress(job, render.queued(None, None))
        reply = await self._generate(job, config)
        if reply is not None:
            await self._deliver(await self.store.get_job(job_id), reply, config)

    async def _screen_prompt(self, job: dict, config: GuildConfig) -> Verdict | None:
        """Screen the job's prompt; return its verdict, or None when the job ended here."""
        await self.store.set_job_state(job["id"], "screening")
        prompt = job["params"].get("prompt")
        if prompt is None or job["params"].get("approved"):
            await self.store.set_job_state(job["id"], "queued")
            return Verdict("allow")
        data = await self._with_retries(
            job,
            lambda: self.service.moderate(
                [prompt], "prompt", config.policy(_age_restricted(job)), config.rules
            ),
        )
        if data is None:
            return None
        verdict = Verdict.from_json(data[0])
        await self._record(job, "prompt", verdict)
        if verdict.action == "block":
            await self.store.add_strike(
                guild=job["guild"] or 0, user=job["user"], label=verdict.top.label, job_id=job["id"]
            )
            await self._end(job["id"], "refused", verdict.top.label)
            await self.delivery.refuse(job, verdict, "prompt")
            return None
        await self.store.set_job_state(job["id"], "queued")
        return verdict

    async def _generate(self, job: dict, config: GuildConfig) -> dict | None:
        started = time.monotonic()
        reply = await self._with_retries(job, lambda: service_call(self.service, job, config))
        if reply is not None:
            self.per_job_s = 0.8 * self.per_job_s + 0.2 * (time.monotonic() - started)
        return reply

    async def _with_retries(self, job: dict, call: Callable[[], Awaitable[Any]]) -> Any:
        """Return `call()`'s result, retrying while the service is down; None if the job ended."""
        deadline_hits, told = 0, False
        for attempt in range(10_000):
            try:
                return await call()
            except (BadRequest, Unauthorized) as exc:
                log.warning("job %s refused by the service: %s", job["id"], exc)
                reason = exc.friendly if isinstance(exc, BadRequest) else "service misconfigured"
                await self._end(job["id"], "failed", str(exc))
                await self.delivery.fail(job, reason)
                return None
            except DeadlineExceeded as exc:
                deadline_hits += 1
                if deadline_hits >= 2:
                    await self._end(job["id"], "failed", str(exc))
                    await self.delivery.fail(job, exc.friendly)
                    return None
            except ServiceError as exc:
                log.warning("job %s: service trouble (%s); retrying", job["id"], exc)
                if self.clock() - job["created_at"] > self.give_up_after_s:
                    await self._end(job["id"], "failed", str(exc))
                    await self.delivery.fail(job, "The generator was unavailable for too long.")
                    return None
                if not told:
                    told = True
                    await self.delivery.progress(job, exc.friendly)
                wait = getattr(exc, "retry_after", None) if isinstance(exc, ServiceBusy) else None
                await asyncio.sleep(self._backoff(attempt, wait))
            await self.store.add_attempt(job["id"])
        return None

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        base = retry_after or self.retry_base_s * 2 ** min(attempt, 10)
        return min(self.retry_cap_s, base) * random.uniform(0.8, 1.2)

    async def _deliver(self, job: dict, reply: dict, config: GuildConfig) -> None:
        verdict = Verdict.from_json(reply["verdict"])
        await self._record(job, "output", verdict)
        await self.store.set_result(job["id"], _summary(reply))
        if not reply.get("outputs") and not reply.get("refused") and verdict.action == "allow":
            # Nothing was refused, the model just made nothing usable (a tune no retry could
            # play): a failure to explain, not a refusal to appeal.
            reason = next(iter(reply.get("notes") or []), "the model made nothing usable")
            await self._end(job["id"], "failed", reason[:200])
            await self.delivery.fail(job, f"No result: {reason[:300]}. Please try again")
            return
        if reply.get("refused") or not reply.get("outputs") or verdict.action == "block":
            what = reply.get("refused", "output")
            await self._end(job["id"], "refused", verdict.top.label if verdict.top else what)
            await self.delivery.refuse(job, verdict, what)
            return
        if verdict.action == "flag":
            label = verdict.top.label if verdict.top else "flagged"
            review = await self.store.add_review(
                job_id=job["id"], guild=job["guild"], kind="held", note=label
            )
            await self._end(job["id"], "held", label)
            await self.delivery.hold(job, reply, review)
            return
        message_id, channel_id = await self.delivery.post(job, reply)
        await self.store.set_posted(job["id"], message_id, channel_id)

    async def _record(self, job: dict, direction: str, verdict: Verdict) -> None:
        data = verdict.to_json()
        await self.store.add_verdict(
            job["id"],
            direction=direction,
            action=verdict.action,
            reasons=data["reasons"],
            scores=data["scores"],
            model_versions={**data["model_versions"], "shadow_action": verdict.shadow_action or ""},
        )

    async def _end(self, job_id: int, state: str, error: str | None = None) -> None:
        await self.store.end_job(job_id, state, error)


def _age_restricted(job: dict) -> bool:
    return bool(job["params"].get("age_restricted"))


def _summary(reply: dict) -> dict:
    """Return what the store keeps of a reply: everything but the output bytes, with personal
    information redacted from generated text."""
    outputs = [
        {k: redact(v) if k == "text" else v for k, v in o.items() if k != "data"}
        for o in reply.get("outputs", [])
    ]
    return {**{k: v for k, v in reply.items() if k != "outputs"}, "outputs": outputs}
