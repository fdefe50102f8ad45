"""The adaptive jitter buffer: reorders RTP payloads by sequence number and paces playout.

Knows: RTP sequence numbers and timestamps (RFC 3550 §5.1), their wrap-around
(``voipkit.base.seqnum``), the interarrival jitter estimate (RFC 3550 §6.4.1)
and the pjmedia jbuf frame types. Must not know: sockets, asyncio, codecs or the
clock — it has no clock of its own. ``put`` takes the packet's ``arrival`` and
``pop`` takes ``now``, both in seconds on any monotonic base.

Model. One ``pop`` plays one frame of ``frame_samples``: the caller (a media
driver ticking every ptime) pops once per tick. Payloads sit in a power-of-two
ring indexed by extended sequence number. ``pop`` returns

- ``Frame`` — the payload due now;
- ``Missing`` — the packet due now is absent (lost, or still in flight): run the
  decoder's packet-loss concealment;
- ``Prefetching`` — the buffer is filling (at start, after a reset, or after a
  long underrun): play silence.

Delay. Playout starts once ``delay`` worth of frames is buffered (or ``delay``
seconds after the first packet). ``delay`` adapts to the spread of transit
times (arrival minus media time) over the last ``window`` seconds: it grows at
once when the spread grows, and shrinks by at most one frame per
``shrink_interval`` seconds, clamped to ``[min_delay, max_delay]``. When the
buffer holds more than the target plus one frame, one frame is discarded at
most every ``discard_spacing`` pops; when it runs empty, the cursor holds (the
next pop repeats ``Missing`` for the same sequence number), which lengthens
the delay by a frame — the late packet is then still played. The same two
moves compensate clock drift between the sender and our playout clock: a sender
running fast fills the buffer past the target and loses one frame per
``discard_spacing`` pops at most; one running slow leaves a pop short now and then,
which conceals one frame and waits (tests/media/test_jitter.py: ±0.5 %).

Drops (counted in ``stats``, never raised): duplicates, packets behind the
playout cursor (too late), and packets beyond the ring. A new SSRC, a jump of
more than the ring's capacity ahead, or more than ``max_misorder`` behind (RFC
3550 Appendix A.1's MAX_MISORDER) resets the buffer; a packet with the marker
bit (RFC 3551 §4.1, start of a talkspurt) arriving while the buffer is empty
moves the cursor to it instead of concealing the gap frame by frame.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from voipkit.base.seqnum import uint16_gt, uint32_gt


class RtpLike(Protocol):
    """What the buffer reads from a packet (``voipkit.media.rtp.RtpPacket`` fits)."""

    @property
    def sequence_number(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def ssrc(self) -> int: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def marker(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Frame:
    """A payload to decode now.

    Attributes:
        payload: the RTP payload as received.
        timestamp: its RTP timestamp (32-bit, as on the wire).
        sequence_number: its RTP sequence number (16-bit).
    """

    payload: bytes
    timestamp: int
    sequence_number: int


@dataclass(frozen=True, slots=True)
class Missing:
    """The frame due now is absent: conceal one frame.

    Attributes:
        sequence_number: the 16-bit sequence number that was due.
    """

    sequence_number: int


@dataclass(frozen=True, slots=True)
class Prefetching:
    """Nothing to play yet (filling up): play silence."""


@dataclass(slots=True)
class JitterStats:
    """Counters since creation; resets do not clear them."""

    received: int = 0
    played: int = 0
    missing: int = 0
    underruns: int = 0
    late: int = 0
    duplicates: int = 0
    discarded: int = 0
    resets: int = 0


def _delta16(seq: int, ref: int) -> int:
    """Signed distance from ``ref`` to ``seq`` in 16-bit serial order (-32768..32767)."""
    diff = (seq - ref) & 0xFFFF
    return diff if diff == 0 or uint16_gt(seq, ref) else diff - 0x10000


def _delta32(ts: int, ref: int) -> int:
    """Signed distance from ``ref`` to ``ts`` in 32-bit serial order."""
    diff = (ts - ref) & 0xFFFFFFFF
    return diff if diff == 0 or uint32_gt(ts, ref) else diff - 0x100000000


@dataclass(slots=True)
class _Slot:
    seq: int  # extended
    timestamp: int  # as on the wire
    payload: bytes


class JitterBuffer:
    """Reorders RTP by sequence number and paces playout; one pop per frame.

    Args:
        clock_rate: RTP clock rate of the payload (8000 for G.711).
        frame_samples: RTP timestamp units per packet (160 for 20 ms at 8 kHz).
        initial_delay: the target delay before any jitter is measured, seconds.
        min_delay, max_delay: bounds of the adaptive target delay, seconds.
        capacity: ring size in frames (rounded up to a power of two); by default
            enough for twice ``max_delay``.
        max_misorder: a packet further behind the cursor than this many
            sequence numbers means the sender restarted: reset.
        window: seconds of transit history the delay adapts to.
        shrink_interval: seconds between one-frame reductions of the delay.
        discard_spacing: pops between two discards that shrink the buffer.
        underrun_limit: consecutive empty pops (``Missing``) before the buffer
            goes back to prefetching.
    """

    def __init__(
        self,
        clock_rate: int,
        frame_samples: int,
        *,
        initial_delay: float = 0.04,
        min_delay: float = 0.02,
        max_delay: float = 0.5,
        capacity: int | None = None,
        max_misorder: int = 100,
        window: float = 2.0,
        shrink_interval: float = 1.0,
        discard_spacing: int = 10,
        underrun_limit: int = 10,
    ) -> None:
        if clock_rate <= 0 or frame_samples <= 0:
            raise ValueError("clock_rate and frame_samples must be positive")
        if not 0 <= min_delay <= initial_delay <= max_delay:
            raise ValueError("need 0 <= min_delay <= initial_delay <= max_delay")
        self.clock_rate = clock_rate
        self.frame_samples = frame_samples
        self.frame_duration = frame_samples / clock_rate
        self.min_delay = min_delay
        self.max_delay = max_delay
        frames = 2 * math.ceil(max_delay / self.frame_duration)
        wanted = capacity if capacity is not None else frames
        self.capacity = 1 << max(4, (max(wanted, 2) - 1).bit_length())
        self._mask = self.capacity - 1
        self.max_misorder = max_misorder
        self.window = window
        self.shrink_interval = shrink_interval
        self.discard_spacing = discard_spacing
        self.underrun_limit = underrun_limit
        self.stats = JitterStats()
        self._delay = initial_delay
        self._ring: list[_Slot | None] = [None] * self.capacity
        self._count = 0
        self._ssrc: int | None = None
        self._next: int | None = None  # extended sequence number due at the next pop
        self._highest = 0  # extended highest sequence number stored
        self._started = False
        self._prefetch_since: float | None = None
        self._empty_pops = 0
        self._pops_since_discard = 0
        self._ts_ref: int | None = None  # extended highest timestamp seen
        self._last_transit: float | None = None
        self._jitter = 0.0
        # the window's largest and smallest transit, as monotonic deques of
        # (arrival, transit): O(1) per packet instead of a scan of the window
        self._highs: deque[tuple[float, float]] = deque()
        self._lows: deque[tuple[float, float]] = deque()
        self._last_shrink: float | None = None

    # -- observation -------------------------------------------------------

    @property
    def delay(self) -> float:
        """The current target delay in seconds."""
        return self._delay

    @property
    def target_frames(self) -> int:
        """The target delay as a whole number of frames (at least one)."""
        return max(1, math.ceil(self._delay / self.frame_duration - 1e-9))

    @property
    def jitter(self) -> float:
        """RFC 3550 §6.4.1 interarrival jitter estimate, in seconds."""
        return self._jitter

    @property
    def depth(self) -> int:
        """Frames stored and not yet played."""
        return self._count

    @property
    def started(self) -> bool:
        """True while playing (not prefetching)."""
        return self._started

    # -- input ---------------------------------------------------------------

    def put(self, packet: RtpLike, *, arrival: float) -> None:
        """Store one received packet's payload (``arrival`` in seconds)."""
        self.put_payload(packet.sequence_number, packet.timestamp, packet.payload,
                         arrival=arrival, ssrc=packet.ssrc, marker=packet.marker)

    def put_payload(
        self,
        seq: int,
        timestamp: int,
        payload: bytes,
        *,
        arrival: float,
        ssrc: int | None = None,
        marker: bool = False,
    ) -> None:
        """Store a payload by sequence number and timestamp (``put`` without a packet)."""
        self.stats.received += 1
        if ssrc is not None and self._ssrc is not None and ssrc != self._ssrc:
            self._reset()
        if ssrc is not None:
            self._ssrc = ssrc
        if self._next is None:
            self._begin(seq, arrival)
        assert self._next is not None
        ext = self._next + _delta16(seq, self._next & 0xFFFF)
        delta = ext - self._next
        if delta < 0:
            if not self._started and self._highest - ext < self.capacity:
                self._next = ext  # reordered at the very start: play from the earliest
            elif -delta > self.max_misorder:
                self._reset()
                self._begin(seq, arrival)
                ext = self._next
            else:
                self.stats.late += 1
                return
        elif delta >= self.capacity:
            self._reset()
            self._begin(seq, arrival)
            ext = self._next
        elif marker and delta > 0 and self._highest < self._next:
            self._next = ext  # a new talkspurt after the buffer ran dry
        slot = self._ring[ext & self._mask]
        if slot is not None and slot.seq == ext:
            self.stats.duplicates += 1
            return
        self._ring[ext & self._mask] = _Slot(ext, timestamp & 0xFFFFFFFF, payload)
        self._count += 1
        self._highest = max(self._highest, ext)
        self._observe(timestamp, arrival)

    def _begin(self, seq: int, arrival: float) -> None:
        self._next = seq
        self._highest = seq - 1
        self._started = False
        self._prefetch_since = arrival

    def _reset(self) -> None:
        self.stats.resets += 1
        self._ring = [None] * self.capacity
        self._count = 0
        self._next = None
        self._started = False
        self._prefetch_since = None
        self._empty_pops = 0
        self._ts_ref = None
        self._last_transit = None
        self._highs.clear()
        self._lows.clear()

    def _observe(self, timestamp: int, arrival: float) -> None:
        """Update the jitter estimate and adapt the target delay."""
        if self._ts_ref is None:
            self._ts_ref = timestamp & 0xFFFFFFFF
        ext_ts = self._ts_ref + _delta32(timestamp, self._ts_ref & 0xFFFFFFFF)
        self._ts_ref = max(self._ts_ref, ext_ts)
        transit = arrival - ext_ts / self.clock_rate
        if self._last_transit is not None:  # RFC 3550 §6.4.1: J += (|D| - J) / 16
            self._jitter += (abs(transit - self._last_transit) - self._jitter) / 16.0
        self._last_transit = transit
        highs, lows = self._highs, self._lows
        while highs and highs[-1][1] <= transit:
            highs.pop()
        highs.append((arrival, transit))
        while lows and lows[-1][1] >= transit:
            lows.pop()
        lows.append((arrival, transit))
        oldest = arrival - self.window
        while highs[0][0] < oldest:
            highs.popleft()
        while lows[0][0] < oldest:
            lows.popleft()
        spread = highs[0][1] - lows[0][1]
        wanted = min(self.max_delay, max(self.min_delay, spread + self.frame_duration / 2))
        if self._last_shrink is None:
            self._last_shrink = arrival
        if wanted > self._delay:
            self._delay = wanted
            self._last_shrink = arrival
        elif wanted < self._delay and arrival - self._last_shrink >= self.shrink_interval:
            self._delay = max(wanted, self._delay - self.frame_duration)
            self._last_shrink = arrival

    # -- output --------------------------------------------------------------

    def pop(self, *, now: float) -> Frame | Missing | Prefetching:
        """The frame to play now: one call per ``frame_samples`` of playout."""
        if self._next is None:
            return Prefetching()
        if not self._started:
            span = self._highest - self._next + 1
            since = self._prefetch_since
            due = since is not None and now >= since + self._delay
            if span <= 0 or (span < self.target_frames and not due):
                return Prefetching()
            self._started = True
            self._empty_pops = 0
            self._pops_since_discard = 0
        if self._highest < self._next:  # nothing at or after the cursor: underrun
            self._empty_pops += 1
            self.stats.underruns += 1
            if self._empty_pops > self.underrun_limit:
                self._started = False
                self._prefetch_since = None
                return Prefetching()
            return Missing(self._next & 0xFFFF)  # the cursor holds
        self._empty_pops = 0
        self._pops_since_discard += 1
        if (self._highest - self._next + 1 > self.target_frames + 1
                and self._pops_since_discard > self.discard_spacing
                and self._take(self._next) is not None):
            self.stats.discarded += 1
            self._pops_since_discard = 0
            self._next += 1
        seq = self._next
        self._next += 1
        slot = self._take(seq)
        if slot is None:
            self.stats.missing += 1
            return Missing(seq & 0xFFFF)
        self.stats.played += 1
        return Frame(slot.payload, slot.timestamp, seq & 0xFFFF)

    def peek_next(self) -> bytes | None:
        """The payload the next ``pop`` would return, if it is already here (no change).

        After a ``Missing`` it is the packet following the lost one, whose Opus
        in-band FEC can rebuild the lost frame (RFC 7587 §3.2).
        """
        if self._next is None:
            return None
        slot = self._ring[self._next & self._mask]
        if slot is None or slot.seq != self._next:
            return None
        return slot.payload

    def _take(self, seq: int) -> _Slot | None:
        slot = self._ring[seq & self._mask]
        if slot is None or slot.seq != seq:
            return None
        self._ring[seq & self._mask] = None
        self._count -= 1
        return slot

    def reset(self) -> None:
        """Forget every stored packet and start prefetching again (e.g. on re-INVITE)."""
        self._reset()
        self._ssrc = None


__all__ = ["Frame", "JitterBuffer", "JitterStats", "Missing", "Prefetching", "RtpLike"]
