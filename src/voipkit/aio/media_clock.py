"""A drift-free media ticker: calls back at ``start + n * period`` on the loop clock.

Knows: asyncio's ``loop.call_at`` and ``loop.time()``. Must not know: what is
done on a tick (encode, send, play) — that is the callback's business. This is
the pacing half of style-guide example 9: media ports are passive and a clock
moves frames.

Deadlines are computed by multiplication, never by adding ``period`` to the
previous deadline, so rounding never accumulates: tick ``n`` is at exactly
``start + n * period`` however long the clock runs (aiortc's
``AudioStreamTrack.recv`` uses the same idea). The callback receives that
scheduled time, not ``loop.time()``, so frames are stamped on the ideal grid.

Catch-up policy. If the loop was blocked and the clock wakes up late, the ticks
that are due are delivered back to back (each with its own scheduled time), as
long as the clock is at most ``max_late`` periods behind. Beyond that, the
missed ticks are skipped (counted in ``skipped``) and the clock resumes on the
grid at the latest due tick — a frame burst after a long stall would only
overflow the peer's jitter buffer.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

logger = logging.getLogger(__name__)


class MediaClock:
    """Calls ``callback(deadline)`` at ``start + n * period`` for n = 0, 1, 2, ...

    Args:
        loop: the event loop whose ``time()`` and ``call_at`` pace the ticks.
        period: seconds between ticks (ptime: 0.02 for 20 ms).
        callback: called with the scheduled time of each tick. An exception it
            raises is logged and counted in ``errors``; the clock keeps going.
        max_late: how many periods behind the clock may fall before it skips.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        period: float,
        callback: Callable[[float], None],
        *,
        max_late: int = 3,
    ) -> None:
        if period <= 0:
            raise ValueError(f"period must be positive, got {period}")
        self.loop = loop
        self.period = period
        self.callback = callback
        self.max_late = max_late
        self.start_time: float | None = None
        self.ticks = 0
        "Callbacks made so far."
        self.skipped = 0
        "Ticks dropped by the catch-up policy."
        self.errors = 0
        "Callbacks that raised."
        self._n = 0
        self._handle: asyncio.TimerHandle | None = None

    @property
    def running(self) -> bool:
        return self._handle is not None

    def deadline(self, n: int) -> float:
        """The scheduled time of tick ``n`` (after ``start``)."""
        if self.start_time is None:
            raise RuntimeError("the media clock has not been started")
        return self.start_time + n * self.period

    def start(self, at: float | None = None) -> float:
        """Start ticking; tick 0 is at ``at`` (default: ``loop.time()``). Returns it."""
        if self._handle is not None:
            raise RuntimeError("the media clock is already running")
        self.start_time = self.loop.time() if at is None else at
        self._n = 0
        self._handle = self.loop.call_at(self.start_time, self._on_timer)
        return self.start_time

    def stop(self) -> None:
        """Stop ticking; no callback runs after this returns. Safe to call twice."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self, n: int) -> None:
        self.ticks += 1
        try:
            self.callback(self.deadline(n))
        except Exception:
            self.errors += 1
            logger.exception("media clock callback failed at tick %d", n)

    def _on_timer(self) -> None:
        now = self.loop.time()
        behind = math.floor((now - self.deadline(self._n)) / self.period)
        if behind > self.max_late:
            self.skipped += behind
            self._n += behind
        # asyncio may fire a little early: the scheduled tick always runs
        self._fire(self._n)
        self._n += 1
        while self._handle is not None and self.deadline(self._n) <= now:
            self._fire(self._n)
            self._n += 1
        if self._handle is not None:  # the callback may have stopped the clock
            self._handle = self.loop.call_at(self.deadline(self._n), self._on_timer)


__all__ = ["MediaClock"]
