"""The worker's garbage collection (idle_collector.py), on this process's real collector."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import Iterator

import pytest

from idle_collector import IdleCollector

BUSY, IDLE = 0.5, 0.0  # shares of a core, as the worker measures them between checks


class Cycle:
    """Garbage only the cyclic collector can free, as an evicted case is."""

    def __init__(self) -> None:
        self.me = self


def garbage_in_a_cycle() -> weakref.ref:
    return weakref.ref(Cycle())


@pytest.fixture
def collector() -> Iterator[IdleCollector]:
    made = IdleCollector()
    made.start()
    yield made
    made.stop()
    gc.collect()


def test_garbage_newer_than_the_last_check_is_collected_without_a_full_collection(collector):
    young = garbage_in_a_cycle()
    assert young() is not None, "a cycle outlives its last reference until a collection"
    assert collector.check(BUSY) is None
    assert young() is None


def test_a_survivor_is_frozen_so_its_garbage_waits_for_the_full_collection(collector):
    survivor = Cycle()
    collector.check(BUSY)  # survives, and is frozen
    dead = weakref.ref(survivor)
    del survivor
    collector.check(BUSY)
    gc.collect()  # any collection Python runs on its own walks only the unfrozen objects
    assert dead() is not None, "frozen garbage is left for the full collection"
    full = collector.collect_fully(forced=False)
    assert dead() is None
    assert full.collected >= 1 and full.heap == collector.baseline and not full.forced


def test_an_idle_worker_collects_fully_once_the_heap_has_grown(collector):
    survivor = Cycle()
    collector.check(BUSY)
    dead = weakref.ref(survivor)
    del survivor
    collector.growth_when_idle = 10.0
    assert collector.check(IDLE) is None, "the heap has not grown enough to be worth a walk"
    collector.growth_when_idle = 1.0
    assert collector.check(BUSY) is None, "a busy worker waits until the heap has doubled"
    full = collector.check(IDLE)
    assert full is not None and not full.forced
    assert dead() is None


def test_a_busy_worker_is_collected_fully_when_the_heap_has_doubled(collector, caplog):
    survivor = Cycle()
    collector.check(BUSY)
    dead = weakref.ref(survivor)
    del survivor
    ballast = [[index] for index in range(collector.baseline)]  # at least as many blocks again as the heap held
    with caplog.at_level("INFO", logger="supportflow.worker.gc"):
        full = collector.check(BUSY)
    del ballast
    assert full is not None and full.forced
    assert dead() is None
    assert "forced: busy, but the heap had doubled" in caplog.text


async def test_the_running_collector_freezes_as_it_goes_and_unfreezes_everything_when_stopped():
    collector = IdleCollector(check_every=0.01)
    running = asyncio.create_task(collector.run())
    await asyncio.sleep(0.1)
    assert collector.last is not None, "it starts with a full collection"
    assert gc.get_freeze_count() > 0
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert gc.get_freeze_count() == 0


async def test_a_held_event_loop_is_logged_with_how_long(caplog):
    """A late deadline can then be matched to the moment the worker's Python was held."""
    collector = IdleCollector(check_every=0.01)
    with caplog.at_level("INFO", logger="supportflow.worker.gc"):
        running = asyncio.create_task(collector.run())
        await asyncio.sleep(0.05)
        time.sleep(0.4)  # holds the loop, as a long collection or a tight loop in workflow code would
        await asyncio.sleep(0.05)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    held_ms = [record.args[0] for record in caplog.records if "event loop ran" in record.msg]
    assert any(held >= 300 for held in held_ms), caplog.text
