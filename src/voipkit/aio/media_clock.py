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

Shared clocks. A phone with hundreds of calls would otherwise arm one loop timer
per call per period. A clock made with ``shared=True`` instead joins a ``_Ticker``:
one timer per loop, period and *phase*, which advances every clock that joined it
in one callback. To share a timer, a shared clock's start is aligned up to the
next multiple of ``period / PHASES`` on the loop clock (at most a quarter period
later than asked); the four phases spread the calls' work over the period instead
of bunching every call at one instant. Deadlines keep the ``start + n * period``
guarantee, with ``start`` on the ticker's grid.

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

PHASES = 4
"""Timers per loop and period that shared clocks are spread over."""

_GRID_TOLERANCE = 1e-9
"""Seconds: a deadline this close to the ticker's time is due (float rounding)."""


class _Ticker:
    """One loop timer driving every shared ``MediaClock`` of one period and phase."""

    def __init__(self, loop: asyncio.AbstractEventLoop, period: float, base: float,
                 key: tuple[int, float, int]) -> None:
        self.loop = loop
        self.period = period
        self.base = base
        "Grid origin: the ticker fires at ``base + m * period``."
        self.key = key
        self.clocks: dict[MediaClock, None] = {}  # an ordered set
        self._m = 0
        self._scheduled = base
        self._handle: asyncio.TimerHandle | None = None

    def grid(self, at: float) -> float:
        """The grid time nearest ``at`` (``at`` is already aligned to this phase)."""
        return self.base + round((at - self.base) / self.period) * self.period

    def add(self, clock: MediaClock) -> None:
        self.clocks[clock] = None
        if self._handle is None:
            now = self.loop.time()
            self._m = max(0, math.ceil((now - self.base) / self.period - _GRID_TOLERANCE))
            self._arm()

    def remove(self, clock: MediaClock) -> None:
        self.clocks.pop(clock, None)
        if not self.clocks:
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            _forget_ticker(self)

    def _arm(self) -> None:
        self._scheduled = self.base + self._m * self.period
        self._handle = self.loop.call_at(self._scheduled, self._on_timer)

    def _on_timer(self) -> None:
        # asyncio may fire a little early: what is scheduled for now is due
        due = max(self.loop.time(), self._scheduled) + _GRID_TOLERANCE
        for clock in list(self.clocks):
            if clock._ticker is self:  # a callback may have stopped it meanwhile
                clock._advance(due)
        if not self.clocks:
            self._handle = None
            return
        now = self.loop.time()
        self._m = max(self._m + 1, math.floor((now - self.base) / self.period) + 1)
        self._arm()


_tickers: dict[tuple[int, float, int], _Ticker] = {}


def _ticker_for(loop: asyncio.AbstractEventLoop, period: float, at: float) -> tuple[_Ticker,
                                                                                      float]:
    """The ticker a shared clock asked to start at ``at`` joins, and its aligned start."""
    slot = period / PHASES
    aligned = math.ceil(at / slot - _GRID_TOLERANCE) * slot
    key = (id(loop), period, round(aligned / slot) % PHASES)
    ticker = _tickers.get(key)
    if ticker is None or ticker.loop is not loop:
        ticker = _tickers[key] = _Ticker(loop, period, aligned, key)
    return ticker, ticker.grid(aligned)


def _forget_ticker(ticker: _Ticker) -> None:
    if _tickers.get(ticker.key) is ticker:
        del _tickers[ticker.key]


class MediaClock:
    """Calls ``callback(deadline)`` at ``start + n * period`` for n = 0, 1, 2, ...

    Args:
        loop: the event loop whose ``time()`` and ``call_at`` pace the ticks.
        period: seconds between ticks (ptime: 0.02 for 20 ms).
        callback: called with the scheduled time of each tick. An exception it
            raises is logged and counted in ``errors``; the clock keeps going.
        max_late: how many periods behind the clock may fall before it skips.
        shared: join the loop's shared timer for this period (see the module
            docstring); ``start`` then aligns tick 0 to that timer's grid.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        period: float,
        callback: Callable[[float], None],
        *,
        max_late: int = 3,
        shared: bool = False,
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
        self.shared = shared
        self._n = 0
        self._handle: asyncio.TimerHandle | None = None
        self._ticker: _Ticker | None = None

    @property
    def running(self) -> bool:
        return self._handle is not None or self._ticker is not None

    def deadline(self, n: int) -> float:
        """The scheduled time of tick ``n`` (after ``start``)."""
        if self.start_time is None:
            raise RuntimeError("the media clock has not been started")
        return self.start_time + n * self.period

    def start(self, at: float | None = None) -> float:
        """Start ticking; tick 0 is at ``at`` (default: ``loop.time()``). Returns it.

        A shared clock's tick 0 is ``at`` rounded up to its timer's grid (at most
        ``period / PHASES`` later); the time returned is that one.
        """
        if self.running:
            raise RuntimeError("the media clock is already running")
        at = self.loop.time() if at is None else at
        self._n = 0
        if self.shared:
            ticker, self.start_time = _ticker_for(self.loop, self.period, at)
            self._ticker = ticker
            ticker.add(self)
            return self.start_time
        self.start_time = at
        self._handle = self.loop.call_at(self.start_time, self._on_timer)
        return self.start_time

    def stop(self) -> None:
        """Stop ticking; no callback runs after this returns. Safe to call twice."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.remove(self)

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

    def _advance(self, due: float) -> None:
        """A shared clock: deliver every tick due by ``due`` (the ticker's time)."""
        if self.deadline(self._n) > due:
            return  # started later than this tick of the ticker
        behind = math.floor((due - self.deadline(self._n)) / self.period)
        if behind > self.max_late:
            self.skipped += behind
            self._n += behind
        while self._ticker is not None and self.deadline(self._n) <= due:
            self._fire(self._n)
            self._n += 1


__all__ = ["MediaClock"]
