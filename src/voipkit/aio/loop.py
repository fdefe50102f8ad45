"""Event-loop selection and the loop clock.

Knows: asyncio and, when installed, uvloop (7-9x the default loop's UDP receive
rate on our machines, DESIGN.md). Must not know: SIP or media. ``LoopClock`` is
the ``base.clock.Clock`` the drivers use, so that deadlines handed to
``loop.call_at`` and the ``now`` values handed to sans-IO cores share one time base.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopClock:
    """``Clock`` reading ``loop.time()`` of the running (or given) loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop if loop is not None else asyncio.get_running_loop()

    def now(self) -> float:
        return self._loop.time()


def uvloop_available() -> bool:
    """True when the optional ``uvloop`` package is importable."""
    return importlib.util.find_spec("uvloop") is not None


def loop_factory(*, use_uvloop: bool | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    """A factory for ``asyncio.Runner``: uvloop when asked (or, if ``None``, when available).

    Raises:
        RuntimeError: ``use_uvloop=True`` but uvloop is not installed.
    """
    want = uvloop_available() if use_uvloop is None else use_uvloop
    if not want:
        return asyncio.new_event_loop
    if not uvloop_available():
        raise RuntimeError("uvloop was requested but is not installed (pip install voipkit[fast])")
    import uvloop

    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T], *, use_uvloop: bool | None = None) -> T:
    """``asyncio.run`` on the selected loop kind."""
    with asyncio.Runner(loop_factory=loop_factory(use_uvloop=use_uvloop)) as runner:
        return runner.run(main)


__all__ = ["LoopClock", "loop_factory", "run", "uvloop_available"]
