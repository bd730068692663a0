"""Dynamic batching with fair, bounded, deadline-aware queues. Knows nothing about models.

`Batcher.submit(payload, tenant)` enqueues one item and awaits its own result. A worker takes
up to `max_batch_size` items — priority lane first, then round-robin across guilds and, within a
guild, across users — waiting at most `max_wait_ms` after the first for the batch to fill, drops
items whose deadline passed, runs the batch, and resolves each item's future. A failing batch
fails each of its items with the error; the worker lives on. A full queue refuses at once
(`QueueFull`, with a retry-after hint); a cancelled submit leaves the queue.

With `run_step` instead, the worker batches by iteration (text decoding): items join the
running batch between steps and leave it as each finishes (`_work_continuous`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Tenant = tuple[Any, Any]  # (guild, user)


class QueueFull(Exception):
    """The queue is at capacity; retry after `retry_after` seconds."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"{name} queue is full; retry in {retry_after:.1f} s")
        self.retry_after = retry_after


class DeadlineExceeded(Exception):
    """The item's deadline passed before it could be computed."""


@dataclass(eq=False)
class Item:
    """One queued request."""

    payload: Any
    tenant: Tenant
    deadline: float
    future: asyncio.Future
    priority: bool = False
    enqueued: float = field(default_factory=time.monotonic)


class FairQueue:
    """Items by guild, then user; `pop` serves guilds in turn and, within one, users in turn."""

    def __init__(self) -> None:
        self._guilds: OrderedDict[Any, OrderedDict[Any, deque[Item]]] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, item: Item) -> None:
        """Add an item at the back of its user's line."""
        guild, user = item.tenant
        users = self._guilds.setdefault(guild, OrderedDict())
        users.setdefault(user, deque()).append(item)
        self._size += 1

    def pop(self) -> Item:
        """Remove and return the next item in fair order (the served guild and user go last)."""
        guild, users = next(iter(self._guilds.items()))
        user, line = next(iter(users.items()))
        item = line.popleft()
        self._size -= 1
        users.move_to_end(user)
        if not line:
            del users[user]
        self._guilds.move_to_end(guild)
        if not users:
            del self._guilds[guild]
        return item

    def remove(self, item: Item) -> bool:
        """Take a specific item out (its client went away); return whether it was queued."""
        guild, user = item.tenant
        line = self._guilds.get(guild, {}).get(user)
        if line is None or item not in line:
            return False
        line.remove(item)
        self._size -= 1
        if not line:
            del self._guilds[guild][user]
            if not self._guilds[guild]:
                del self._guilds[guild]
        return True

    def depth_of(self, tenant: Tenant) -> int:
        """Return how many items this tenant has queued."""
        guild, user = tenant
        return len(self._guilds.get(guild, {}).get(user, ()))


@dataclass
class BatchStats:
    """Counters a metrics exporter reads."""

    batches: int = 0
    items: int = 0
    expired: int = 0
    failed_batches: int = 0
    rejected: int = 0
    cancelled: int = 0
    batch_sizes: list[int] = field(default_factory=list)


class Batcher:
    """One queue and one worker for one model family."""

    def __init__(
        self,
        name: str,
        run_batch: Callable[[list[Any]], Awaitable[list[Any]]],
        max_batch_size: int = 8,
        max_wait_ms: float = 10.0,
        max_queue: int = 64,
        on_batch: Callable[[str, int, float], None] | None = None,
        run_step: Callable[[list[tuple[int, Any]], set[int]], Awaitable[list[tuple[int, Any]]]]
        | None = None,
    ) -> None:
        self.name = name
        self.run_batch = run_batch
        self.run_step = run_step
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.queue = FairQueue()
        self.priority: deque[Item] = deque()
        self.stats = BatchStats()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self._mean_batch_seconds = 0.5

    @property
    def depth(self) -> int:
        """Return how many items wait."""
        return len(self.queue) + len(self.priority)

    @property
    def full(self) -> bool:
        """Return True when a new item would be refused."""
        return self.depth >= self.max_queue

    def start(self) -> None:
        """Start the worker task (idempotent)."""
        if self._worker is None or self._worker.done():
            work = self._work_continuous() if self.run_step is not None else self._work()
            self._worker = asyncio.get_running_loop().create_task(work, name=f"batcher-{self.name}")

    async def stop(self) -> None:
        """Stop the worker; fail what still waits."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        while self.depth:
            item = self.priority.popleft() if self.priority else self.queue.pop()
            if not item.future.done():
                item.future.set_exception(asyncio.CancelledError())

    def retry_after(self) -> float:
        """Return a hint of when a place should free up, in seconds."""
        batches_ahead = self.depth / max(1, self.max_batch_size)
        return round(max(0.5, batches_ahead * self._mean_batch_seconds), 1)

    async def submit(
        self, payload: Any, tenant: Tenant, timeout: float = 60.0, priority: bool = False
    ) -> Any:
        """Queue one item and return its result; raise QueueFull, DeadlineExceeded or the
        batch's error. Cancelling the caller removes the item from the queue."""
        if self.full:
            self.stats.rejected += 1
            raise QueueFull(self.name, self.retry_after())
        future = asyncio.get_running_loop().create_future()
        # An item whose caller left mid-batch still gets a result: mark its error as seen.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        item = Item(payload, tenant, time.monotonic() + timeout, future, priority)
        (self.priority.append if priority else self.queue.push)(item)
        self._wake.set()
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout + self.max_wait + 1.0)
        except (asyncio.CancelledError, TimeoutError) as exc:
            removed = self._remove(item)
            item.future.cancel()  # a running row (continuous batching) sees it and leaves
            if isinstance(exc, TimeoutError):
                raise DeadlineExceeded(f"{self.name}: deadline passed while queued") from None
            if removed:
                self.stats.cancelled += 1
            raise

    def _remove(self, item: Item) -> bool:
        if item in self.priority:
            self.priority.remove(item)
            return True
        return self.queue.remove(item)

    def _take(self, limit: int) -> list[Item]:
        batch: list[Item] = []
        now = time.monotonic()
        while len(batch) < limit and self.depth:
            item = self.priority.popleft() if self.priority else self.queue.pop()
            if item.future.done():
                continue
            if item.deadline <= now:
                self.stats.expired += 1
                item.future.set_exception(DeadlineExceeded(f"{self.name}: deadline passed"))
                continue
            batch.append(item)
        return batch

    async def _collect(self) -> list[Item]:
        while not self.depth:
            self._wake.clear()
            await self._wake.wait()
        closes = time.monotonic() + self.max_wait
        while self.depth < self.max_batch_size and (left := closes - time.monotonic()) > 0:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except TimeoutError:
                break
        return self._take(self.max_batch_size)

    async def _work(self) -> None:
        while True:
            batch = await self._collect()
            if not batch:
                continue
            started = time.monotonic()
            try:
                results = await self.run_batch([item.payload for item in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"batch of {len(batch)} gave {len(results)} results")
            except Exception as exc:
                self.stats.failed_batches += 1
                log.exception("%s batch of %d failed", self.name, len(batch))
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
            else:
                for item, result in zip(batch, results, strict=True):
                    if not item.future.done():
                        item.future.set_result(result)
            elapsed = time.monotonic() - started
            self._mean_batch_seconds = 0.8 * self._mean_batch_seconds + 0.2 * elapsed
            self.stats.batches += 1
            self.stats.items += len(batch)
            self.stats.batch_sizes.append(len(batch))
            del self.stats.batch_sizes[:-1000]
            if self.on_batch is not None:
                self.on_batch(self.name, len(batch), elapsed)

    async def _work_continuous(self) -> None:
        """Iteration-level batching: between steps, queued items join the running ones (up to
        max_batch_size) at once, with no wait for a batch to fill; each item resolves as soon
        as its own result comes back. `run_step(joining, leaving)` takes (key, payload) pairs
        that join and the keys of items whose callers left, runs one step, and returns the
        (key, result) pairs that finished; a result that is an exception fails its item."""
        assert self.run_step is not None
        running: dict[int, tuple[Item, float]] = {}
        while True:
            if running:
                joining = self._take(self.max_batch_size - len(running))
            else:
                joining = await self._collect()
                if not joining:
                    continue
            now = time.monotonic()
            running.update((id(item), (item, now)) for item in joining)
            leaving = {key for key, (item, _) in running.items() if item.future.done()}
            for key in leaving:
                del running[key]
            started = time.monotonic()
            try:
                finished = await self.run_step(
                    [(id(item), item.payload) for item in joining], leaving
                )
            except Exception as exc:
                self.stats.failed_batches += 1
                log.exception("%s step of %d failed", self.name, len(running))
                for item, _ in running.values():
                    if not item.future.done():
                        item.future.set_exception(exc)
                running.clear()
                continue
            size = len(running)
            for key, result in finished:
                if key not in running:  # not ours (a stepper's mistake): the worker lives on
                    log.error("%s step returned unknown key %r", self.name, key)
                    continue
                item, joined = running.pop(key)
                if not item.future.done():
                    failed = isinstance(result, Exception)
                    (item.future.set_exception if failed else item.future.set_result)(result)
                # retry_after's time per batch: here, how long an item stays in the batch.
                seconds = time.monotonic() - joined
                self._mean_batch_seconds = 0.8 * self._mean_batch_seconds + 0.2 * seconds
            self.stats.items += len(joining)
            self.stats.batches += 1
            self.stats.batch_sizes.append(size)
            del self.stats.batch_sizes[:-1000]
            if self.on_batch is not None:
                self.on_batch(self.name, size, time.monotonic() - started)
