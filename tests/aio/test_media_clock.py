"""MediaClock: drift-free ticks on the loop clock, with a catch-up policy.

Proves (real asyncio loop, small periods; assertions are on the scheduled
deadlines the callback receives, never on wall-clock jitter):
- tick n is handed exactly ``start + n * period`` (float-equal, no accumulation),
  and is never delivered before that time on the loop clock;
- a stall shorter than ``max_late`` periods is caught up tick by tick (no skip);
- a longer stall skips the missed ticks, counts them, and resumes on the grid;
- stop() from inside the callback ends the ticks; a raising callback is counted
  and the clock keeps going; starting twice and bad periods are errors.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from voipkit.aio.media_clock import MediaClock


def test_ticks_are_exactly_on_the_grid() -> None:
    async def main() -> tuple[float, list[float], list[float]]:
        loop = asyncio.get_running_loop()
        seen: list[float] = []
        woke: list[float] = []
        done = asyncio.Event()

        def tick(deadline: float) -> None:
            seen.append(deadline)
            woke.append(loop.time())
            if len(seen) == 40:
                clock.stop()
                done.set()

        clock = MediaClock(loop, 0.005, tick)
        start = clock.start(at=loop.time() + 0.01)
        await asyncio.wait_for(done.wait(), 5)
        return start, seen, woke

    start, seen, woke = asyncio.run(main())
    assert seen == [start + n * 0.005 for n in range(40)]
    resolution = time.get_clock_info("monotonic").resolution
    assert all(w >= d - resolution - 1e-9 for w, d in zip(woke, seen, strict=True))


def test_short_stall_is_caught_up_without_skipping() -> None:
    async def main() -> tuple[MediaClock, list[float]]:
        loop = asyncio.get_running_loop()
        seen: list[float] = []
        done = asyncio.Event()

        def tick(deadline: float) -> None:
            seen.append(deadline)
            if len(seen) == 3:
                time.sleep(0.025)  # block the loop ~2.5 periods of 10 ms
            if len(seen) == 12:
                clock.stop()
                done.set()

        clock = MediaClock(loop, 0.01, tick, max_late=5)
        clock.start()
        await asyncio.wait_for(done.wait(), 5)
        return clock, seen

    clock, seen = asyncio.run(main())
    assert clock.skipped == 0 and clock.ticks == 12
    assert seen == [clock.deadline(n) for n in range(12)]


def test_long_stall_skips_and_counts() -> None:
    async def main() -> tuple[MediaClock, list[float]]:
        loop = asyncio.get_running_loop()
        seen: list[float] = []
        done = asyncio.Event()

        def tick(deadline: float) -> None:
            seen.append(deadline)
            if len(seen) == 2:
                time.sleep(0.1)  # 10 periods of 10 ms, max_late is 3
            if len(seen) == 8:
                clock.stop()
                done.set()

        clock = MediaClock(loop, 0.01, tick, max_late=3)
        clock.start()
        await asyncio.wait_for(done.wait(), 5)
        return clock, seen

    clock, seen = asyncio.run(main())
    assert clock.skipped >= 6
    assert clock.ticks == 8
    indexes = [round((d - clock.deadline(0)) / 0.01) for d in seen]
    assert seen == [clock.deadline(n) for n in indexes]  # still on the grid
    assert indexes[:2] == [0, 1] and indexes[2] >= 8
    assert indexes == sorted(set(indexes))


def test_callback_errors_are_counted_and_clock_continues() -> None:
    async def main() -> MediaClock:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        count = 0

        def tick(deadline: float) -> None:
            nonlocal count
            count += 1
            if count == 5:
                clock.stop()
                done.set()
            if count % 2:
                raise RuntimeError("boom")

        clock = MediaClock(loop, 0.002, tick)
        clock.start()
        with pytest.raises(RuntimeError, match="already running"):
            clock.start()
        await asyncio.wait_for(done.wait(), 5)
        await asyncio.sleep(0.02)
        return clock

    clock = asyncio.run(main())
    assert (clock.ticks, clock.errors, clock.running) == (5, 3, False)


def test_invalid_period() -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ValueError):
            MediaClock(loop, 0.0, lambda _: None)
        with pytest.raises(RuntimeError):
            MediaClock(loop, 0.02, lambda _: None).deadline(1)
    finally:
        loop.close()
