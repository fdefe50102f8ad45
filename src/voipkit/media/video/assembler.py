"""Reassembles encoded video frames from RTP packets that may arrive lost, late,
duplicated or out of order.

Knows: RTP sequence number order (extended past the 16-bit wrap), the marker bit
(set on the last packet of a frame: RFC 6184 §5.1, RFC 7741 §4.1), that all packets of
a frame share a timestamp, and when to give up on a hole (``max_wait`` seconds after it
was seen, or when the buffer holds ``capacity`` sequence numbers).
Must not know: any codec (the ``PayloadFormat`` tells frame starts, key frames and how
to join payloads), NACK, decoders, sockets or the clock (``now`` is an argument).

Frames come out in sequence order, each exactly once. A frame that follows lost packets
is marked ``after_loss``: its decoder state may be broken, so the receiver should drop
frames until a key frame arrives and ask for one (PLI).
"""

from __future__ import annotations

from dataclasses import dataclass

from voipkit.media.rtp import RtpPacket
from voipkit.media.video.payload import MalformedPayload, PayloadFormat

__all__ = ["AssembledFrame", "FrameAssembler"]


@dataclass(frozen=True, slots=True)
class AssembledFrame:
    """One whole encoded frame.

    ``after_loss`` says packets were lost between the previous frame given out and
    this one (or this is the first frame after a malformed one).
    """

    timestamp: int
    data: bytes
    keyframe: bool
    first_sequence: int
    last_sequence: int
    after_loss: bool


class FrameAssembler:
    """Packets in, whole frames out (in order), holes skipped after ``max_wait``.

    Drive it with ``insert(packet, now=)``; when ``get_timer()`` is not None call
    ``handle_timer(now=)`` at that time: it skips the hole that is blocking and gives
    out the frames behind it.
    """

    def __init__(self, payload_format: PayloadFormat, *, max_wait: float = 0.5,
                 capacity: int = 2048) -> None:
        self.payload_format = payload_format
        self.max_wait = max_wait
        self.capacity = capacity
        self._packets: dict[int, RtpPacket] = {}
        self._highest: int | None = None
        self._next: int | None = None  # extended seq where the next frame starts
        self._floor = 0  # packets below this extended seq are late
        self._stalled_since: float | None = None
        self._after_loss = False
        self.frames = 0
        self.frames_skipped = 0
        self.late_packets = 0
        self.duplicate_packets = 0
        self.malformed_frames = 0

    def _extend(self, seq: int) -> int:
        if self._highest is None:
            return seq + 0x10000  # room below for reordered early packets
        delta = ((seq - self._highest) + 0x8000) % 0x10000 - 0x8000
        return self._highest + delta

    def insert(self, packet: RtpPacket, *, now: float) -> list[AssembledFrame]:
        """Add one received packet; returns the frames it completes, in order."""
        ext = self._extend(packet.sequence_number)
        if self._highest is not None and ext < self._floor:
            self.late_packets += 1
            return []
        if ext in self._packets:
            self.duplicate_packets += 1
            return []
        self._packets[ext] = packet
        if self._highest is None or ext > self._highest:
            self._highest = ext
        frames = self._emit(now)
        if self._next is not None and self._highest - self._next >= self.capacity:
            frames += self._skip(now)
        return frames

    def get_timer(self) -> float | None:
        """When the hole blocking the next frame will be skipped, or None."""
        return None if self._stalled_since is None else self._stalled_since + self.max_wait

    def handle_timer(self, *, now: float) -> list[AssembledFrame]:
        """Skip a hole whose wait is over; returns the frames behind it."""
        deadline = self.get_timer()
        if deadline is None or now < deadline:
            return []
        return self._skip(now)

    def _is_start(self, ext: int) -> bool:
        packet = self._packets[ext]
        before = self._packets.get(ext - 1)
        if before is not None and before.timestamp == packet.timestamp:
            return False
        return self.payload_format.is_frame_start(packet.payload)

    def _skip(self, now: float) -> list[AssembledFrame]:
        """Give up on the packets missing before the next frame start we hold."""
        hole = self._next if self._next is not None else self._floor
        starts = [ext for ext in sorted(self._packets) if ext > hole and self._is_start(ext)]
        self._stalled_since = None
        self._after_loss = True
        self.frames_skipped += 1
        if not starts:
            self._floor = (self._highest or hole) + 1
            self._packets.clear()
            self._next = None
            return []
        self._next = starts[0]
        self._drop_below(self._next)
        return self._emit(now)

    def _drop_below(self, ext: int) -> None:
        for old in [s for s in self._packets if s < ext]:
            del self._packets[old]
        self._floor = max(self._floor, ext)

    def _emit(self, now: float) -> list[AssembledFrame]:
        frames: list[AssembledFrame] = []
        while self._packets:
            if self._next is None:
                starts = [ext for ext in sorted(self._packets) if self._is_start(ext)]
                if not starts:
                    return frames
                self._next = starts[0]
                self._drop_below(self._next)
            first = self._next
            head = self._packets.get(first)
            if head is None:
                break
            last = first
            complete = head.marker
            while not complete:
                following = self._packets.get(last + 1)
                if following is None:
                    break
                if following.timestamp != head.timestamp:
                    complete = True  # the marker packet was not marked; the frame ended
                    break
                last += 1
                complete = following.marker
            if not complete:
                break
            payloads = [self._packets.pop(ext).payload for ext in range(first, last + 1)]
            self._next = last + 1
            self._floor = self._next
            self._stalled_since = None
            try:
                data = self.payload_format.depacketize(payloads)
            except MalformedPayload:
                self.malformed_frames += 1
                self._after_loss = True
                continue
            frames.append(AssembledFrame(
                timestamp=head.timestamp,
                data=data,
                keyframe=self.payload_format.is_keyframe(payloads),
                first_sequence=first & 0xFFFF,
                last_sequence=last & 0xFFFF,
                after_loss=self._after_loss,
            ))
            self.frames += 1
            self._after_loss = False
        if self._next is not None and self._highest is not None and self._highest > self._next:
            # Something after the next frame's start arrived, so a hole blocks it.
            blocked = any(ext not in self._packets for ext in range(self._next, self._highest))
            if blocked and self._stalled_since is None:
                self._stalled_since = now
        return frames
