"""The one module that reads time.

Knows: ``time.monotonic``. Must not know: asyncio (the ``aio`` layer builds a
clock on ``loop.time()``, which shares this time base) or anything protocol.
Everything below ``aio`` takes ``now: float`` (seconds) as an argument instead.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds; the origin is arbitrary and never wall-clock time."""

    def now(self) -> float:
        """Current monotonic time in seconds."""
        ...


class MonotonicClock:
    """``time.monotonic()``: the same base as the default asyncio loop's ``time()``."""

    def now(self) -> float:
        return time.monotonic()
