"""The batcher with a fake model we own: batching, fairness, bounds, deadlines, failures."""

import asyncio

import pytest

from generators.service.batcher import Batcher, DeadlineExceeded, FairQueue, Item, QueueFull


class FakeModel:
    """Doubles numbers in batches, after `delay` seconds; records each batch it ran."""

    def __init__(self, delay=0.0, fail_on=None):
        self.delay, self.fail_on, self.batches = delay, fail_on, []

    async def __call__(self, payloads):
        self.batches.append(list(payloads))
        await asyncio.sleep(self.delay)
        if self.fail_on is not None and self.fail_on in payloads:
            raise ValueError(f"cannot process {self.fail_on}")
        return [p * 2 for p in payloads]


async def started(model, **kwargs):
    batcher = Batcher("test", model, **kwargs)
    batcher.start()
    return batcher


async def test_concurrent_items_share_batches_and_get_their_own_results():
    model = FakeModel(delay=0.01)
    batcher = await started(model, max_batch_size=8, max_wait_ms=20)
    results = await asyncio.gather(*(batcher.submit(k, ("g", k)) for k in range(20)))
    assert results == [2 * k for k in range(20)]
    assert max(len(b) for b in model.batches) == 8 and len(model.batches) <= 4
    await batcher.stop()


async def test_a_partial_batch_closes_after_max_wait():
    model = FakeModel()
    batcher = await started(model, max_batch_size=64, max_wait_ms=5)
    assert await asyncio.wait_for(batcher.submit(1, ("g", "u")), 1.0) == 2
    assert model.batches == [[1]]
    await batcher.stop()


async def test_a_burst_from_one_user_does_not_starve_another():
    model = FakeModel(delay=0.005)
    batcher = Batcher("test", model, max_batch_size=4, max_wait_ms=1, max_queue=100)
    burst = [asyncio.create_task(batcher.submit(100 + k, ("guild-a", "alice"))) for k in range(50)]
    await asyncio.sleep(0)
    single = asyncio.create_task(batcher.submit(7, ("guild-b", "bob")))
    await asyncio.sleep(0)
    batcher.start()
    assert await single == 14
    first_with_bob = next(i for i, b in enumerate(model.batches) if 7 in b)
    assert first_with_bob == 0  # bob's one item rides in the very first batch
    await asyncio.gather(*burst)
    await batcher.stop()


def test_fair_queue_round_robins_guilds_then_users():
    queue = FairQueue()
    loop = asyncio.new_event_loop()
    for guild, user, n in (("g1", "a", 3), ("g1", "b", 1), ("g2", "c", 2)):
        for k in range(n):
            queue.push(Item(f"{user}{k}", (guild, user), 1e18, loop.create_future()))
    order = [queue.pop().payload for _ in range(len(queue))]
    loop.close()
    assert order == ["a0", "c0", "b0", "c1", "a1", "a2"]


async def test_full_queue_refuses_at_once_with_a_retry_hint():
    batcher = Batcher("test", FakeModel(), max_queue=3)  # not started: nothing drains
    waiting = [asyncio.create_task(batcher.submit(k, ("g", "u"))) for k in range(3)]
    await asyncio.sleep(0)
    with pytest.raises(QueueFull) as info:
        await batcher.submit(99, ("g", "v"))
    assert info.value.retry_after > 0 and batcher.stats.rejected == 1
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    assert batcher.depth == 0 and batcher.stats.cancelled == 3


async def test_expired_items_are_dropped_before_compute():
    model = FakeModel()
    batcher = Batcher("test", model, max_wait_ms=1)
    late = asyncio.create_task(batcher.submit(1, ("g", "u"), timeout=0.01))
    await asyncio.sleep(0.05)
    batcher.start()
    with pytest.raises(DeadlineExceeded):
        await late
    assert model.batches == [] and batcher.stats.expired + batcher.stats.items <= 1
    await batcher.stop()


async def test_a_cancelled_client_leaves_the_queue():
    model = FakeModel()
    batcher = Batcher("test", model, max_wait_ms=1)
    gone = asyncio.create_task(batcher.submit(1, ("g", "u")))
    stays = asyncio.create_task(batcher.submit(2, ("g", "v")))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    batcher.start()
    assert await stays == 4
    assert model.batches == [[2]]
    await batcher.stop()


async def test_a_failing_batch_fails_its_items_and_the_worker_lives_on():
    model = FakeModel(fail_on=3)
    batcher = await started(model, max_batch_size=4, max_wait_ms=20)
    outcomes = await asyncio.gather(
        *(batcher.submit(k, ("g", k)) for k in range(4)), return_exceptions=True
    )
    assert all(isinstance(o, ValueError) for o in outcomes)
    assert await batcher.submit(10, ("g", "later")) == 20
    assert batcher.stats.failed_batches == 1
    await batcher.stop()


async def test_priority_lane_goes_first():
    model = FakeModel()
    batcher = Batcher("test", model, max_batch_size=2, max_wait_ms=1)
    normal = [asyncio.create_task(batcher.submit(k, ("g", "u"))) for k in range(4)]
    urgent = asyncio.create_task(batcher.submit(99, ("g", "mod"), priority=True))
    await asyncio.sleep(0)
    batcher.start()
    await asyncio.gather(urgent, *normal)
    assert 99 in model.batches[0]
    await batcher.stop()


class Countdown:
    """A stepwise model we own: an item (n) needs n steps; each step takes `delay` seconds and
    records the keys that stepped and those told to leave."""

    def __init__(self, delay=0.005, fail_at_step=None):
        self.left, self.delay, self.fail_at_step = {}, delay, fail_at_step
        self.steps, self.left_early = [], []

    async def __call__(self, joining, leaving):
        await asyncio.sleep(self.delay)
        self.left_early += list(leaving)
        for key in leaving:
            self.left.pop(key, None)
        self.left.update(joining)
        if self.fail_at_step is not None and len(self.steps) == self.fail_at_step:
            self.steps.append(None)
            raise RuntimeError("the step broke")
        self.steps.append(sorted(self.left))
        for key in self.left:
            self.left[key] -= 1
        done = [key for key, n in self.left.items() if n == 0]
        self.left = {key: n for key, n in self.left.items() if n > 0}
        failed = [key for key, n in joining if n < 0]  # a row whose own result is an error
        return [(k, f"done {k}") for k in done] + [(k, ValueError("bad row")) for k in failed]


async def continuous(model, **kwargs):
    batcher = Batcher("text", None, run_step=model, **kwargs)
    batcher.start()
    return batcher


async def test_continuous_a_late_short_item_finishes_before_the_long_running_one():
    model = Countdown()
    batcher = await continuous(model, max_batch_size=4, max_wait_ms=1)
    long = asyncio.ensure_future(batcher.submit(30, ("g", "a")))
    await asyncio.sleep(0.05)  # the long item is stepping
    assert await batcher.submit(2, ("g", "b")) is not None
    assert not long.done()  # it joined, finished and left while the long one ran on
    assert (await long) is not None
    shared = [s for s in model.steps if len(s) == 2]
    assert 1 <= len(shared) <= 3  # the short one stepped beside the long one, then left
    await batcher.stop()


async def test_continuous_rows_never_exceed_the_batch_size_and_each_gets_its_result():
    model = Countdown(delay=0.001)
    batcher = await continuous(model, max_batch_size=3, max_wait_ms=1)
    results = await asyncio.gather(*(batcher.submit(1 + k % 4, ("g", k)) for k in range(10)))
    assert len(results) == 10 and all(r.startswith("done") for r in results)
    assert max(len(s) for s in model.steps) == 3
    assert batcher.stats.batch_sizes and max(batcher.stats.batch_sizes) <= 3
    await batcher.stop()


async def test_continuous_a_caller_that_leaves_frees_its_row():
    model = Countdown()
    batcher = await continuous(model, max_batch_size=2, max_wait_ms=1)
    gone = asyncio.ensure_future(batcher.submit(1000, ("g", "a")))
    await asyncio.sleep(0.03)
    gone.cancel()
    assert (await batcher.submit(3, ("g", "b"))).startswith("done")
    assert len(model.left_early) == 1 and model.left == {}  # told to drop it, and it did
    await batcher.stop()


async def test_continuous_a_failing_step_fails_its_rows_and_the_worker_lives_on():
    model = Countdown(fail_at_step=1)
    batcher = await continuous(model, max_batch_size=4, max_wait_ms=1)
    with pytest.raises(RuntimeError, match="broke"):
        await batcher.submit(5, ("g", "a"))
    model.left.clear()
    assert (await batcher.submit(1, ("g", "b"))).startswith("done")
    assert batcher.stats.failed_batches == 1
    await batcher.stop()


async def test_continuous_a_row_whose_result_is_an_error_fails_alone():
    model = Countdown()
    batcher = await continuous(model, max_batch_size=4, max_wait_ms=5)
    bad, good = await asyncio.gather(
        batcher.submit(-1, ("g", "a")), batcher.submit(2, ("g", "b")), return_exceptions=True
    )
    assert isinstance(bad, ValueError) and good.startswith("done")
    await batcher.stop()
