"""Loss repair by retransmission (RFC 4585 §6.2.1 generic NACK): the receiver's NACK
generator and the sender's retransmission buffer.

Knows: which sequence numbers are missing (extended past the 16-bit wrap), when each
is due to be NACKed (``delay`` after the hole was seen, then every ``interval``, at
most ``max_retries`` times), and the sent packets kept for retransmission.
Must not know: RTCP bytes (``voipkit.media.rtcp.RtcpNackPacket`` carries the numbers),
codecs, sockets or the clock (``now`` is an argument).

Retransmissions are the original datagrams, resent on the same SSRC with the same
sequence number (RFC 4585 leaves the repair method open; RFC 4588 RTX streams are not
used, as baresip and linphone do not negotiate them with plain SIP peers).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["NackGenerator", "RetransmissionBuffer"]


class NackGenerator:
    """Tracks holes in the received sequence numbers and says when to NACK each.

    A hole seen at time ``t`` is NACKed at ``t + delay`` (the wait lets reordered
    packets arrive), then at ``t + delay + k * interval`` until it arrives or
    ``max_retries`` NACKs were sent. A jump of more than ``max_missing`` numbers is
    not NACKed (a new stream or a long outage: a key frame request repairs it).
    """

    def __init__(self, *, delay: float = 0.01, interval: float = 0.1, max_retries: int = 3,
                 max_missing: int = 250) -> None:
        self.delay = delay
        self.interval = interval
        self.max_retries = max_retries
        self.max_missing = max_missing
        self._highest: int | None = None
        self._missing: dict[int, tuple[float, int]] = {}  # ext seq -> (due, NACKs sent)
        self.nacked = 0
        self.recovered = 0
        self.given_up = 0

    @property
    def missing(self) -> list[int]:
        """The 16-bit sequence numbers still awaited, in order."""
        return [ext & 0xFFFF for ext in sorted(self._missing)]

    def received(self, sequence_number: int, *, now: float) -> None:
        """Record a received packet (new, reordered or retransmitted)."""
        if self._highest is None:
            self._highest = sequence_number
            return
        delta = ((sequence_number - self._highest) + 0x8000) % 0x10000 - 0x8000
        ext = self._highest + delta
        if delta > 0:
            if delta - 1 > self.max_missing:
                self._missing.clear()
            else:
                for hole in range(self._highest + 1, ext):
                    self._missing[hole] = (now + self.delay, 0)
            self._highest = ext
        elif self._missing.pop(ext, None) is not None:
            self.recovered += 1

    def get_timer(self) -> float | None:
        """The earliest time a NACK is due, or None."""
        return min((due for due, _ in self._missing.values()), default=None)

    def handle_timer(self, *, now: float) -> list[int]:
        """The 16-bit sequence numbers to NACK at ``now``, in order."""
        due_now: list[int] = []
        for ext in sorted(self._missing):
            due, sent = self._missing[ext]
            if due > now:
                continue
            due_now.append(ext & 0xFFFF)
            self.nacked += 1
            if sent + 1 >= self.max_retries:
                del self._missing[ext]
                self.given_up += 1
            else:
                self._missing[ext] = (due + self.interval, sent + 1)
        return due_now

    def reset(self) -> None:
        """Forget every hole (after a key frame made them irrelevant)."""
        self._missing.clear()


class RetransmissionBuffer:
    """The last ``capacity`` datagrams sent, by RTP sequence number.

    It keeps the datagrams as sent (SRTP-protected when the stream is), because
    libsrtp refuses to protect the same packet index twice.
    """

    def __init__(self, capacity: int = 512) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._slots: list[tuple[int, bytes] | None] = [None] * capacity
        self.retransmitted = 0
        self.unavailable = 0

    def store(self, sequence_number: int, datagram: bytes) -> None:
        """Keep a sent datagram (it replaces the one ``capacity`` numbers earlier)."""
        self._slots[sequence_number % self.capacity] = (sequence_number, datagram)

    def get(self, sequence_number: int) -> bytes | None:
        """The stored datagram with this 16-bit sequence number, or None."""
        slot = self._slots[sequence_number % self.capacity]
        if slot is None or slot[0] != sequence_number:
            return None
        return slot[1]

    def retransmissions(self, lost: Iterable[int]) -> list[bytes]:
        """The stored datagrams a NACK asks for (numbers no longer kept are counted)."""
        out: list[bytes] = []
        for seq in lost:
            datagram = self.get(seq)
            if datagram is None:
                self.unavailable += 1
            else:
                out.append(datagram)
        self.retransmitted += len(out)
        return out
