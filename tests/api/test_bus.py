"""The typed event bus delivers by type, in order, to sync and async handlers.

Proves: subclass delivery; handler exceptions are logged and counted, never
stop other handlers; coroutine handlers run as tasks; ``events()`` iterators see
events in order; ``wait_for`` resolves on the first matching event; events
bubble to a parent bus.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest

from voipkit.api.bus import EventBus


@dataclass
class Base:
    n: int


@dataclass
class Child(Base):
    pass


def test_handlers_by_type_and_subclass() -> None:
    bus = EventBus()
    seen: list[str] = []
    bus.on(Base)(lambda e: seen.append(f"base{e.n}"))
    bus.on(Child)(lambda e: seen.append(f"child{e.n}"))
    bus.emit(Base(1))
    bus.emit(Child(2))
    assert seen == ["base1", "base2", "child2"]


def test_failing_handler_is_logged_counted_and_isolated(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    seen: list[int] = []

    @bus.on(Base)
    def boom(event: Base) -> None:
        raise RuntimeError("handler bug")

    bus.on(Base)(lambda e: seen.append(e.n))
    with caplog.at_level(logging.ERROR):
        bus.emit(Base(7))
    assert seen == [7]
    assert bus.handler_errors == 1
    assert "handler bug" in caplog.text


def test_async_handlers_iterators_wait_for_and_parent() -> None:
    async def main() -> None:
        parent = EventBus()
        bus = EventBus(parent=parent)
        got: list[int] = []

        @bus.on(Base)
        async def slow(event: Base) -> None:
            await asyncio.sleep(0)
            got.append(event.n)

        @bus.on(Child)
        async def failing(event: Child) -> None:
            raise ValueError("async bug")

        parent_seen: list[int] = []
        parent.on(Base)(lambda e: parent_seen.append(e.n))
        collected: list[int] = []

        async def collect() -> None:
            async for event in bus.events(Base):
                collected.append(event.n)
                if len(collected) == 3:
                    return

        task = asyncio.create_task(collect())
        await asyncio.sleep(0)
        waiter = asyncio.create_task(bus.wait_for(Base, lambda e: e.n == 2, timeout=1))
        await asyncio.sleep(0)
        for n in (1, 2, 3):
            bus.emit(Base(n) if n != 3 else Child(n))
        assert (await waiter).n == 2
        await task
        await bus.drain()
        assert got == [1, 2, 3]
        assert collected == [1, 2, 3]
        assert parent_seen == [1, 2, 3]
        assert bus.handler_errors == 1

    asyncio.run(main())
