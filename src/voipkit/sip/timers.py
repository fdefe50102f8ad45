"""RFC 3261 §17 transaction timers as data: their names, their values, one heap.

Knows: the timer letters of RFC 3261 §17 (A to K) and RFC 6026 §8 (L and M),
how each derives from T1, T2 and T4 (RFC 3261 table 4), and how to keep many
deadlines in one binary heap. Must not know: clocks (callers pass ``now``),
transactions, messages or I/O. The owner of the heap decides what a key means.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class TimerName(Enum):
    """RFC 3261 §17 timer letters; L and M come from RFC 6026."""

    __hash__ = object.__hash__  # members are singletons; Enum's own hash runs Python code

    A = "A"  # client INVITE: retransmit request (unreliable transports)
    B = "B"  # client INVITE: give up waiting for a response
    D = "D"  # client INVITE Completed: absorb final response retransmissions
    E = "E"  # client non-INVITE: retransmit request (unreliable transports)
    F = "F"  # client non-INVITE: give up waiting for a final response
    G = "G"  # server INVITE Completed: retransmit final response (unreliable)
    H = "H"  # server INVITE Completed: give up waiting for the ACK
    I = "I"  # server INVITE Confirmed: absorb ACK retransmissions  # noqa: E741
    J = "J"  # server non-INVITE Completed: absorb request retransmissions
    K = "K"  # client non-INVITE Completed: absorb response retransmissions
    L = "L"  # server INVITE Accepted: absorb INVITE retransmissions (RFC 6026)
    M = "M"  # client INVITE Accepted: pass 2xx retransmissions up (RFC 6026)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerConfig:
    """RFC 3261 §17 base values in seconds; every other timer derives from these.

    Tests and LAN deployments may shrink ``t1`` to make failures fast; the
    derived values follow. ``timer_d`` is a separate knob because RFC 3261
    §17.1.1.2 sets it to "at least 32 seconds" independently of T1.
    """

    t1: float = 0.5
    "RTT estimate: first retransmission interval (RFC 3261 §17.1.1.1)."

    t2: float = 4.0
    "Maximum retransmission interval for non-INVITE requests and INVITE responses."

    t4: float = 5.0
    "Maximum time a message stays in the network."

    timer_d: float = 32.0
    "Timer D on unreliable transports (RFC 3261 §17.1.1.2: at least 32 s)."

    def __post_init__(self) -> None:
        if not (0 < self.t1 <= self.t2):
            raise ValueError(f"timers need 0 < T1 <= T2, got T1={self.t1} T2={self.t2}")
        if self.t4 < 0 or self.timer_d < 0:
            raise ValueError("T4 and Timer D must not be negative")

    @property
    def transaction_timeout(self) -> float:
        """64*T1: Timers B, F, H, L and M, and J on unreliable transports."""
        return 64 * self.t1

    def timer_d_for(self, *, reliable: bool) -> float:
        """Timer D: ``timer_d`` over UDP, zero over TCP/TLS (RFC 3261 §17.1.1.2)."""
        return 0.0 if reliable else self.timer_d

    def timer_i_for(self, *, reliable: bool) -> float:
        """Timer I: T4 over UDP, zero over TCP/TLS (RFC 3261 §17.2.1)."""
        return 0.0 if reliable else self.t4

    def timer_j_for(self, *, reliable: bool) -> float:
        """Timer J: 64*T1 over UDP, zero over TCP/TLS (RFC 3261 §17.2.2)."""
        return 0.0 if reliable else self.transaction_timeout

    def timer_k_for(self, *, reliable: bool) -> float:
        """Timer K: T4 over UDP, zero over TCP/TLS (RFC 3261 §17.1.2.2)."""
        return 0.0 if reliable else self.t4

    def invite_retransmit_interval(self, count: int) -> float:
        """Timer A before the ``count``-th retransmission (0-based): T1 * 2**count."""
        return self.t1 * float(2**count)

    def capped_retransmit_interval(self, count: int) -> float:
        """Timers E and G: T1 * 2**count, capped at T2 (RFC 3261 §17.1.2.2, §17.2.1)."""
        return min(self.t1 * float(2**count), self.t2)


class TimerHeap(Generic[K]):
    """Deadlines keyed by owner. It has no clock: callers pass ``now``.

    Each key has at most one live deadline. Rescheduling a key bumps its
    generation, so stale heap entries are skipped when they surface instead of
    being searched for and removed (DUM's ``DumTimeout`` sequence, made local).
    Keys due at the same instant pop in the order they were scheduled.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, K]] = []
        self._live: dict[K, tuple[int, float]] = {}
        self._order = itertools.count()
        self._generations = itertools.count(1)

    def __len__(self) -> int:
        """Number of live (scheduled, not cancelled, not popped) keys."""
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def deadline(self, key: K) -> float | None:
        """The live deadline of ``key``, or None."""
        live = self._live.get(key)
        return None if live is None else live[1]

    def schedule(self, key: K, at: float) -> None:
        """Set (or move) the deadline of ``key`` to ``at``."""
        generation = next(self._generations)
        self._live[key] = (generation, at)
        heapq.heappush(self._heap, (at, next(self._order), generation, key))

    def cancel(self, key: K) -> None:
        """Forget ``key``'s deadline; cancelling an unknown key does nothing."""
        self._live.pop(key, None)

    def _is_live(self, generation: int, key: K) -> bool:
        live = self._live.get(key)
        return live is not None and live[0] == generation

    def next_deadline(self) -> float | None:
        """The earliest live deadline, or None when nothing is scheduled."""
        heap = self._heap
        while heap and not self._is_live(heap[0][2], heap[0][3]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> list[K]:
        """Remove and return every key whose deadline is at or before ``now``.

        Returned in deadline order (ties in scheduling order).
        """
        due: list[K] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, generation, key = heapq.heappop(heap)
            if self._is_live(generation, key):
                del self._live[key]
                due.append(key)
        return due
