"""DTMF as RTP telephone-events (RFC 4733): payload codec, sender, receiver.

Knows: the 4-byte telephone-event payload (RFC 4733 §2.3), the DTMF event
codes 0–16 (§3.2), how a sender paces an event (start packet with the marker
bit, updates every ptime with growing duration and the same timestamp, three
end packets, §2.5.1) and splits long events into segments (§2.5.1.3), and how
a receiver de-duplicates them (§2.5.2).
Must not know: RTP headers beyond the marker bit and timestamp, sequence
numbers, sockets or the clock. The sender is driven one ``ptime`` tick at a
time by its caller; payload bytes go in and out.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

__all__ = [
    "DTMF_CHARS",
    "DtmfDigit",
    "DtmfPacket",
    "DtmfReceiver",
    "DtmfSender",
    "TelephoneEvent",
    "char_from_event",
    "event_from_char",
]

# RFC 4733 §3.2 table 3: events 0-9, * (10), # (11), A-D (12-15), Flash (16).
# Flash is written "!" here, as several SIP stacks do.
DTMF_CHARS = "0123456789*#ABCD!"
MAX_DURATION = 0xFFFF
END_PACKETS = 3  # RFC 4733 §2.5.1.4: the final packet is retransmitted, three times in all

_PAYLOAD = struct.Struct("!BBH")


def event_from_char(char: str) -> int:
    """The RFC 4733 event code for a DTMF character (case-insensitive).

    Raises:
        ValueError: the character is not one of ``0-9 * # A-D !``.
    """
    index = DTMF_CHARS.find(char.upper()) if len(char) == 1 else -1
    if index < 0:
        raise ValueError(f"{char!r} is not a DTMF character (one of {DTMF_CHARS})")
    return index


def char_from_event(event: int) -> str:
    """The DTMF character for event codes 0–16.

    Raises:
        ValueError: the code is not a DTMF event.
    """
    if not 0 <= event < len(DTMF_CHARS):
        raise ValueError(f"event {event} is not a DTMF event (0-16)")
    return DTMF_CHARS[event]


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """The 4-byte telephone-event payload (RFC 4733 §2.3).

    ``volume`` is the power level in -dBm0, 0–63; ``duration`` is in RTP
    timestamp units since the event's (segment's) timestamp.
    """

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0

    @classmethod
    def decode(cls, payload: bytes) -> TelephoneEvent:
        """Parse one payload; the reserved R bit is ignored (§2.3.3).

        Raises:
            ValueError: the payload is shorter than 4 bytes.
        """
        if len(payload) < _PAYLOAD.size:
            raise ValueError(f"telephone-event payload is {len(payload)} bytes, not 4")
        event, flags, duration = _PAYLOAD.unpack_from(payload)
        return cls(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration)

    def encode(self) -> bytes:
        """Serialize to 4 bytes.

        Raises:
            ValueError: a field is out of range.
        """
        if not 0 <= self.event <= 255:
            raise ValueError(f"event {self.event} does not fit 8 bits")
        if not 0 <= self.volume <= 63:
            raise ValueError(f"volume {self.volume} is not 0-63 (-dBm0)")
        if not 0 <= self.duration <= MAX_DURATION:
            raise ValueError(f"duration {self.duration} does not fit 16 bits")
        return _PAYLOAD.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)


@dataclass(frozen=True, slots=True)
class DtmfPacket:
    """One telephone-event packet for the RTP stream to send on this tick.

    The stream sends ``payload`` with the marker bit ``marker`` and the RTP
    timestamp ``event_timestamp + timestamp_offset``, where ``event_timestamp``
    is the stream's timestamp on the tick that produced the packet with
    ``start`` set. ``timestamp_offset`` is 0 except in the later segments of a
    long event (RFC 4733 §2.5.1.3).
    """

    payload: bytes
    marker: bool
    start: bool
    timestamp_offset: int = 0


class DtmfSender:
    """Paces queued DTMF events into telephone-event packets, one call per ptime.

    For an event of total length ``N`` samples and ``p`` samples per ptime,
    successive calls to :meth:`next_packet` return: a start packet (marker set,
    duration ``p``), updates with durations ``2p, 3p, ...`` while below ``N``,
    then three end packets (E bit, duration ``N``) — RFC 4733 §2.5.1.2 and
    §2.5.1.4. All share one timestamp. Events longer than 0xFFFF samples are
    split into segments whose timestamps advance by 0xFFFF (§2.5.1.3). Between
    queued events, ``gap`` seconds of silence (``None`` ticks) are left.

    Args:
        clock_rate: the telephone-event RTP clock (8000 for the usual rtpmap).
        ptime: seconds between packets.
        gap: silence between consecutive events, in seconds.
    """

    def __init__(self, *, clock_rate: int = 8000, ptime: float = 0.02, gap: float = 0.04) -> None:
        self.clock_rate = clock_rate
        self.samples_per_packet = round(ptime * clock_rate)
        if self.samples_per_packet <= 0:
            raise ValueError(f"ptime {ptime} gives no samples at {clock_rate} Hz")
        self._gap_ticks = round(gap / ptime)
        self._queue: deque[tuple[int, int, int]] = deque()  # (event, total samples, volume)
        self._current: tuple[int, int, int] | None = None
        self._elapsed = 0
        self._segment = 0
        self._ends_sent = 0
        self._gap_left = 0

    def send(self, event: int | str, *, duration: float = 0.1, volume: int = 10) -> None:
        """Queue one event.

        Args:
            event: an event code 0–16 or a DTMF character.
            duration: how long the tone lasts, in seconds.
            volume: power level, 0–63 (-dBm0).

        Raises:
            ValueError: unknown event, non-positive duration or bad volume.
        """
        code = event_from_char(event) if isinstance(event, str) else event
        char_from_event(code)
        if not 0 <= volume <= 63:
            raise ValueError(f"volume {volume} is not 0-63 (-dBm0)")
        total = round(duration * self.clock_rate)
        if total <= 0:
            raise ValueError(f"duration {duration} s is shorter than one sample")
        self._queue.append((code, total, volume))

    def send_digits(self, digits: str, *, duration: float = 0.1, volume: int = 10) -> None:
        """Queue one event per character of ``digits``."""
        codes = [event_from_char(c) for c in digits]
        for code in codes:
            self.send(code, duration=duration, volume=volume)

    @property
    def busy(self) -> bool:
        """True while an event is being sent, queued, or the gap after one runs."""
        return self._current is not None or bool(self._queue) or self._gap_left > 0

    def next_packet(self) -> DtmfPacket | None:
        """The packet for this tick, or None when there is nothing to send."""
        if self._current is None:
            if self._gap_left > 0:
                self._gap_left -= 1
                return None
            if not self._queue:
                return None
            self._current = self._queue.popleft()
            self._elapsed = 0
            self._segment = 0
            self._ends_sent = 0
        event, total, volume = self._current
        start = self._elapsed == 0
        self._elapsed = min(total, self._elapsed + self.samples_per_packet)
        while self._elapsed - self._segment > MAX_DURATION:
            self._segment += MAX_DURATION
        end = not start and self._elapsed >= total
        if end:
            self._ends_sent += 1
        payload = TelephoneEvent(
            event=event, end=end, volume=volume, duration=self._elapsed - self._segment
        ).encode()
        packet = DtmfPacket(
            payload=payload, marker=start, start=start, timestamp_offset=self._segment
        )
        if self._ends_sent >= END_PACKETS:
            self._current = None
            self._gap_left = self._gap_ticks
        return packet


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """A DTMF event reported by :class:`DtmfReceiver`, once per event."""

    event: int
    char: str
    volume: int
    timestamp: int


class DtmfReceiver:
    """Turns received telephone-event payloads into one report per event.

    An event is identified by its RTP timestamp (RFC 4733 §2.5.2.1: packets
    of one event share it). The digit is reported on the *first* packet seen
    for a new timestamp — the start packet, or any later packet when the start
    was lost — so the application (PortSIP's ``onRecvDtmfTone``) hears it
    without waiting for the end. Updates, the three end packets and late
    retransmissions of recent events are then ignored. A later segment of a
    long event (same event, timestamp within 0xFFFF after the previous
    segment's, no marker, the earlier segment not ended) continues it and is
    not reported again (§2.5.1.3).

    Args:
        remember: how many recent event timestamps to keep for de-duplication.
    """

    def __init__(self, *, remember: int = 16) -> None:
        self._recent: deque[int] = deque(maxlen=remember)
        self._current: tuple[int, int] | None = None  # (timestamp, event) of an open event
        self.last_duration = 0
        """Duration (timestamp units) of the newest event packet seen."""

    def receive(self, payload: bytes, timestamp: int, *, marker: bool = False) -> DtmfDigit | None:
        """Feed one telephone-event packet.

        Args:
            payload: the RTP payload.
            timestamp: the packet's RTP timestamp.
            marker: the RTP marker bit.

        Returns:
            The digit when this packet is the first seen of a new event, else None.

        Raises:
            ValueError: the payload is not a telephone-event payload.
        """
        te = TelephoneEvent.decode(payload)
        if timestamp in self._recent:
            if self._current is not None and self._current[0] == timestamp:
                self.last_duration = te.duration
                if te.end:
                    self._current = None
            return None
        continuation = (
            not marker
            and self._current is not None
            and self._current[1] == te.event
            and 0 < (timestamp - self._current[0]) & 0xFFFF_FFFF <= MAX_DURATION
        )
        self._recent.append(timestamp)
        self.last_duration = te.duration
        self._current = None if te.end else (timestamp, te.event)
        if continuation:
            return None
        char = DTMF_CHARS[te.event] if te.event < len(DTMF_CHARS) else "?"
        return DtmfDigit(event=te.event, char=char, volume=te.volume, timestamp=timestamp)
