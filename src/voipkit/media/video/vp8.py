"""The VP8 RTP payload format (RFC 7741).

Knows: the VP8 payload descriptor (RFC 7741 §4.2: X, N, S, PID, and the I/L/T/K
extensions with a 7- or 15-bit PictureID, TL0PICIDX, TID/Y and KEYIDX), the payload
header's inverse key frame flag (§4.3), the start-of-frame rule (S=1 and PID=0) and the
marker bit rule (§4.1: set on the last packet of a frame).
Must not know: RTP headers, sequence numbers, loss, the encoder, SDP text or the clock.

The packetizer sends each frame as equal-sized packets, each behind a descriptor with a
15-bit PictureID that counts frames; only the first packet has S=1 (partition 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voipkit.media.video.payload import MalformedPayload

__all__ = ["Vp8PayloadDescriptor", "Vp8PayloadFormat"]


@dataclass(frozen=True, slots=True)
class Vp8PayloadDescriptor:
    """The VP8 payload descriptor (RFC 7741 §4.2).

    ``picture_id`` is None when absent (I=0); ``picture_id_bits`` is 7 or 15 (the M bit).
    ``tid``/``layer_sync`` need T, ``keyidx`` needs K (RFC 7741: "When the T bit is
    set ... or the K bit is set, the TID/Y/KEYIDX octet is present").
    """

    partition_start: bool
    partition_id: int = 0
    non_reference: bool = False
    picture_id: int | None = None
    picture_id_bits: int = 15
    tl0picidx: int | None = None
    tid: int | None = None
    layer_sync: bool = False
    keyidx: int | None = None

    @classmethod
    def parse(cls, payload: bytes) -> tuple[Vp8PayloadDescriptor, int]:
        """The descriptor and the offset of the VP8 payload behind it.

        Raises:
            MalformedPayload: a truncated descriptor.
        """
        if not payload:
            raise MalformedPayload("VP8 payload is empty")
        first = payload[0]
        pos = 1
        picture_id: int | None = None
        bits = 15
        tl0: int | None = None
        tid: int | None = None
        sync = False
        keyidx: int | None = None
        if first & 0x80:
            if len(payload) < 2:
                raise MalformedPayload("VP8 descriptor has X set but no extension octet")
            ext = payload[1]
            pos = 2
            if ext & 0x80:  # I
                if pos >= len(payload):
                    raise MalformedPayload("VP8 descriptor has I set but no PictureID")
                if payload[pos] & 0x80:  # M: 15-bit PictureID
                    if pos + 2 > len(payload):
                        raise MalformedPayload("VP8 15-bit PictureID is truncated")
                    picture_id = ((payload[pos] & 0x7F) << 8) | payload[pos + 1]
                    pos += 2
                else:
                    picture_id, bits = payload[pos] & 0x7F, 7
                    pos += 1
            if ext & 0x40:  # L
                if pos >= len(payload):
                    raise MalformedPayload("VP8 descriptor has L set but no TL0PICIDX")
                tl0 = payload[pos]
                pos += 1
            if ext & 0x30:  # T or K
                if pos >= len(payload):
                    raise MalformedPayload("VP8 descriptor has T/K set but no TID/KEYIDX octet")
                octet = payload[pos]
                pos += 1
                if ext & 0x20:
                    tid, sync = octet >> 6, bool(octet & 0x20)
                if ext & 0x10:
                    keyidx = octet & 0x1F
        if pos >= len(payload):
            raise MalformedPayload("VP8 packet has a descriptor but no payload")
        return (
            cls(bool(first & 0x10), first & 0x07, bool(first & 0x20), picture_id, bits, tl0,
                tid, sync, keyidx),
            pos,
        )

    def __bytes__(self) -> bytes:
        ext = ((0x80 if self.picture_id is not None else 0)
               | (0x40 if self.tl0picidx is not None else 0)
               | (0x20 if self.tid is not None else 0)
               | (0x10 if self.keyidx is not None else 0))
        first = ((0x80 if ext else 0) | (0x20 if self.non_reference else 0)
                 | (0x10 if self.partition_start else 0) | (self.partition_id & 0x07))
        out = bytearray([first])
        if ext:
            out.append(ext)
        if self.picture_id is not None:
            if self.picture_id_bits == 7:
                out.append(self.picture_id & 0x7F)
            else:
                out += bytes([0x80 | (self.picture_id >> 8 & 0x7F), self.picture_id & 0xFF])
        if self.tl0picidx is not None:
            out.append(self.tl0picidx & 0xFF)
        if self.tid is not None or self.keyidx is not None:
            out.append(((self.tid or 0) & 0x03) << 6 | (0x20 if self.layer_sync else 0)
                       | ((self.keyidx or 0) & 0x1F))
        return bytes(out)


class Vp8PayloadFormat:
    """Packetizer and depacketizer for one VP8 stream.

    ``picture_id`` is the next frame's 15-bit PictureID (RFC 7741 §4.2: it "increments
    by one for each picture"); it wraps at 2**15.
    """

    def __init__(self, *, max_payload: int, picture_id: int = 0) -> None:
        if max_payload < 8:
            raise ValueError(f"max_payload {max_payload} is too small for VP8")
        self.max_payload = max_payload
        self.picture_id = picture_id & 0x7FFF

    def packetize(self, frame: bytes) -> list[bytes]:
        """The RTP payloads of one encoded VP8 frame, in order (the caller sets the
        marker bit on the last one)."""
        if not frame:
            raise ValueError("cannot packetize an empty VP8 frame")
        first = bytes(Vp8PayloadDescriptor(True, picture_id=self.picture_id))
        other = bytes(Vp8PayloadDescriptor(False, picture_id=self.picture_id))
        room = self.max_payload - len(first)
        count = -(-len(frame) // room)
        size = -(-len(frame) // count)
        self.picture_id = (self.picture_id + 1) & 0x7FFF
        return [(first if i == 0 else other) + frame[i : i + size]
                for i in range(0, len(frame), size)]

    def is_frame_start(self, payload: bytes) -> bool:
        """S=1 with PID=0 marks the first packet of a frame (RFC 7741 §4.2)."""
        return bool(payload) and payload[0] & 0x17 == 0x10

    def depacketize(self, payloads: Sequence[bytes]) -> bytes:
        """The VP8 frame behind the descriptors of one frame's payloads.

        Raises:
            MalformedPayload: a truncated descriptor, or a first packet that does not
                start partition 0.
        """
        parts: list[bytes] = []
        for index, payload in enumerate(payloads):
            descriptor, offset = Vp8PayloadDescriptor.parse(payload)
            if index == 0 and not (descriptor.partition_start and descriptor.partition_id == 0):
                raise MalformedPayload("VP8 frame does not start with S=1, PID=0")
            parts.append(payload[offset:])
        return b"".join(parts)

    def is_keyframe(self, payloads: Sequence[bytes]) -> bool:
        """The payload header's P bit is 0 on a key frame (RFC 7741 §4.3: "inverse key
        frame flag")."""
        if not payloads:
            return False
        try:
            descriptor, offset = Vp8PayloadDescriptor.parse(payloads[0])
        except MalformedPayload:
            return False
        return descriptor.partition_start and descriptor.partition_id == 0 and not (
            payloads[0][offset] & 0x01)
