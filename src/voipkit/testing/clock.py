"""A clock tests move by hand (in the spirit of Twisted's task.Clock and Trio's MockClock).

Knows: a float that only goes forward. Must not know: asyncio or the system time.
Implements ``voipkit.base.Clock``.
"""

from __future__ import annotations


class FakeClock:
    """Monotonic seconds that change only when a test says so."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        """The current fake time."""
        return self._now

    def set(self, when: float) -> None:
        """Jump to ``when``.

        Raises:
            ValueError: when ``when`` is before the current time (clocks are monotonic).
        """
        if when < self._now:
            raise ValueError(f"FakeClock cannot go back from {self._now} to {when}")
        self._now = when

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` and return the new time.

        Raises:
            ValueError: for a negative amount.
        """
        if seconds < 0:
            raise ValueError(f"FakeClock cannot advance by a negative amount ({seconds})")
        self._now += seconds
        return self._now
