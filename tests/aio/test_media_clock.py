"""MediaClock: drift-free ticks on the loop clock, with a catch-up policy.

Proves (real asyncio loop, small periods; assertions are on the scheduled
deadlines the callback receives, never on wall-clock jitter):
- tick n is handed exactly ``start + n * period`` (float-equal, no accumulation),
  and is never delivered before that time on the loop clock;
- a stall shorter than ``max_late`` periods is caught up tick by tick (no skip);
- a longer stall skips the missed ticks, counts them, and resumes on the grid;
- stop() from inside the callback ends the ticks; a raising callback is counted
  and the clock keeps going; starting twice and bad periods are errors;
- shared clocks: many clocks of one period run on at most PHASES loop timers (one per
  phase), each start aligned up to the next quarter period and every tick still
  ``start + n * period``; clocks stopping each other from inside a shared tick are
  safe; a stall is caught up or skipped per clock as above; when the last clock of
  a timer stops, the timer is cancelled and forgotten.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from voipkit.aio import media_clock
from voipkit.aio.media_clock import PHASES, MediaClock


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

        # max_late: on a busy machine the loop may stall past 3 periods; the skip
        # policy has its own tests below, this one is about the grid only
        clock = MediaClock(loop, 0.005, tick, max_late=1_000_000)
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


def test_shared_clocks_run_on_one_timer_per_phase_and_stay_on_their_grid() -> None:
    period = 0.008
    count = 10

    async def main() -> tuple[list[float], list[float], list[list[float]], int, int]:
        loop = asyncio.get_running_loop()
        seen: list[list[float]] = [[] for _ in range(count)]
        done = asyncio.Event()
        clocks: list[MediaClock] = []

        def tick_of(i: int) -> Callable[[float], None]:
            def tick(deadline: float) -> None:
                seen[i].append(deadline)
                if len(seen[i]) == 6:
                    clocks[i].stop()
                    if not any(c.running for c in clocks):
                        done.set()
            return tick

        asked = [loop.time() + 0.01 + i * 0.0013 for i in range(count)]
        clocks.extend(MediaClock(loop, period, tick_of(i), shared=True) for i in range(count))
        starts = [c.start(at) for c, at in zip(clocks, asked, strict=True)]
        timers = len([k for k in media_clock._tickers if k[0] == id(loop)])
        await asyncio.wait_for(done.wait(), 5)
        left = len([k for k in media_clock._tickers if k[0] == id(loop)])
        return asked, starts, seen, timers, left

    asked, starts, seen, timers, left = asyncio.run(main())
    slot = period / PHASES
    for at, start in zip(asked, starts, strict=True):
        assert at <= start + 1e-9 < at + slot + 1e-9
        assert abs(start / slot - round(start / slot)) < 1e-6
    assert timers <= PHASES  # ten clocks, at most one timer per phase
    for start, ticks in zip(starts, seen, strict=True):
        assert ticks == [start + n * period for n in range(6)]
    assert left == 0  # the last clock of each timer took it away


def test_a_shared_clock_can_stop_another_inside_the_same_tick() -> None:
    async def main() -> tuple[list[str], bool]:
        loop = asyncio.get_running_loop()
        order: list[str] = []
        done = asyncio.Event()
        at = loop.time() + 0.01

        def first(deadline: float) -> None:
            order.append("first")
            if len(order) >= 3:
                second.stop()
                first_clock.stop()
                loop.call_later(0.03, done.set)

        def other(deadline: float) -> None:
            order.append("second")

        first_clock = MediaClock(loop, 0.01, first, shared=True)
        second = MediaClock(loop, 0.01, other, shared=True)
        first_clock.start(at)
        second.start(at)
        await asyncio.wait_for(done.wait(), 5)
        return order, second.running

    order, running = asyncio.run(main())
    assert order == ["first", "second", "first"]
    assert running is False


def test_a_shared_clock_catches_up_a_short_stall_and_skips_a_long_one() -> None:
    async def main() -> tuple[MediaClock, MediaClock]:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def stall(deadline: float) -> None:
            if staller.ticks == 2:
                time.sleep(0.1)  # 10 periods of 10 ms
            if staller.ticks == 8:
                staller.stop()
                patient.stop()
                done.set()

        staller = MediaClock(loop, 0.01, stall, max_late=3, shared=True)
        patient = MediaClock(loop, 0.01, lambda d: None, max_late=20, shared=True)
        at = loop.time() + 0.01
        staller.start(at)
        patient.start(at)
        await asyncio.wait_for(done.wait(), 5)
        return staller, patient

    staller, patient = asyncio.run(main())
    assert staller.skipped >= 6
    assert patient.skipped == 0 and patient.ticks >= 10
