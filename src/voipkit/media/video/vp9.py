"""The VP9 RTP payload format (RFC 9628), for non-scalable streams.

Knows: the VP9 payload descriptor (RFC 9628 §4.2: I, P, L, F, B, E, V, Z; the 7- or
15-bit PictureID; layer indices with TL0PICIDX in non-flexible mode; reference indices
P_DIFF in flexible mode; the scalability structure SS with its resolutions and picture
groups), the start and end of frame bits (B, E), the marker bit (§4.1: set on the last
packet of a picture), and what makes a key frame (P=0 on the first packet of a picture
of the base spatial layer).
Must not know: RTP headers, sequence numbers, loss, the encoder, SDP text or the clock.

The packetizer sends one spatial and temporal layer (what libvpx-vp9 gives voipkit):
non-flexible mode without layer indices, a 15-bit PictureID counting pictures, P on
inter pictures, and on key frames an SS with the picture's resolution (so a receiver
knows the size before decoding). The depacketizer reads any descriptor.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from voipkit.media.video.payload import MalformedPayload

__all__ = ["Vp9PayloadDescriptor", "Vp9PayloadFormat"]


@dataclass(frozen=True, slots=True)
class Vp9PayloadDescriptor:
    """The VP9 payload descriptor (RFC 9628 §4.2).

    ``picture_id`` is None when absent (I=0). ``tid``/``switching_up``/``sid``/
    ``inter_layer`` are the layer indices (L=1), ``tl0picidx`` their non-flexible-mode
    octet. ``p_diffs`` are the reference indices of flexible mode. ``resolutions`` are
    the SS's (width, height) per spatial layer (``ss`` True: an SS is present;
    ``ss_spatial_layers`` is N_S + 1; ``ss_groups`` are the picture groups as
    (TID, U, P_DIFFs))."""

    start_of_frame: bool
    end_of_frame: bool
    inter_picture: bool = False
    flexible: bool = False
    not_upper_reference: bool = False
    picture_id: int | None = None
    picture_id_bits: int = 15
    tid: int | None = None
    switching_up: bool = False
    sid: int = 0
    inter_layer: bool = False
    tl0picidx: int | None = None
    p_diffs: tuple[int, ...] = ()
    ss: bool = False
    ss_spatial_layers: int = 1
    resolutions: tuple[tuple[int, int], ...] = ()
    ss_groups: tuple[tuple[int, bool, tuple[int, ...]], ...] | None = None

    @classmethod
    def parse(cls, payload: bytes) -> tuple[Vp9PayloadDescriptor, int]:
        """The descriptor and the offset of the VP9 data behind it.

        Raises:
            MalformedPayload: a truncated descriptor or scalability structure.
        """

        def need(pos: int, count: int, what: str) -> None:
            if pos + count > len(payload):
                raise MalformedPayload(f"VP9 descriptor is truncated in its {what}")

        need(0, 1, "first octet")
        first = payload[0]
        i, p, layered, flexible = (bool(first & bit) for bit in (0x80, 0x40, 0x20, 0x10))
        b, e, v, z = (bool(first & bit) for bit in (0x08, 0x04, 0x02, 0x01))
        pos = 1
        picture_id: int | None = None
        bits = 15
        if i:
            need(pos, 1, "PictureID")
            if payload[pos] & 0x80:
                need(pos, 2, "15-bit PictureID")
                picture_id = ((payload[pos] & 0x7F) << 8) | payload[pos + 1]
                pos += 2
            else:
                picture_id, bits = payload[pos] & 0x7F, 7
                pos += 1
        tid: int | None = None
        switching_up = inter_layer = False
        sid = 0
        tl0: int | None = None
        if layered:
            need(pos, 1, "layer indices")
            octet = payload[pos]
            tid, switching_up = octet >> 5, bool(octet & 0x10)
            sid, inter_layer = (octet >> 1) & 0x07, bool(octet & 0x01)
            pos += 1
            if not flexible:
                need(pos, 1, "TL0PICIDX")
                tl0 = payload[pos]
                pos += 1
        p_diffs: list[int] = []
        if flexible and p:
            while True:
                need(pos, 1, "reference indices")
                octet = payload[pos]
                pos += 1
                p_diffs.append(octet >> 1)
                if not octet & 0x01:
                    break
                if len(p_diffs) == 3:
                    raise MalformedPayload("VP9 descriptor has more than 3 P_DIFF octets")
        resolutions: list[tuple[int, int]] = []
        groups: list[tuple[int, bool, tuple[int, ...]]] | None = None
        spatial = 1
        if v:
            need(pos, 1, "scalability structure")
            octet = payload[pos]
            pos += 1
            spatial = (octet >> 5) + 1
            if octet & 0x10:  # Y: resolutions present
                need(pos, 4 * spatial, "SS resolutions")
                resolutions = [struct.unpack_from("!HH", payload, pos + 4 * k)
                               for k in range(spatial)]
                pos += 4 * spatial
            if octet & 0x08:  # G: picture group description present
                need(pos, 1, "SS picture group count")
                count = payload[pos]
                pos += 1
                groups = []
                for _ in range(count):
                    need(pos, 1, "SS picture group")
                    desc = payload[pos]
                    pos += 1
                    refs = (desc >> 2) & 0x03
                    need(pos, refs, "SS picture group references")
                    groups.append((desc >> 5, bool(desc & 0x10),
                                   tuple(payload[pos : pos + refs])))
                    pos += refs
        return (
            cls(b, e, p, flexible, z, picture_id, bits, tid, switching_up, sid, inter_layer,
                tl0, tuple(p_diffs), v, spatial, tuple(resolutions),
                tuple(groups) if groups is not None else None),
            pos,
        )

    def __bytes__(self) -> bytes:
        first = ((0x80 if self.picture_id is not None else 0)
                 | (0x40 if self.inter_picture else 0)
                 | (0x20 if self.tid is not None else 0)
                 | (0x10 if self.flexible else 0)
                 | (0x08 if self.start_of_frame else 0)
                 | (0x04 if self.end_of_frame else 0)
                 | (0x02 if self.ss else 0)
                 | (0x01 if self.not_upper_reference else 0))
        out = bytearray([first])
        if self.picture_id is not None:
            if self.picture_id_bits == 7:
                out.append(self.picture_id & 0x7F)
            else:
                out += bytes([0x80 | (self.picture_id >> 8 & 0x7F), self.picture_id & 0xFF])
        if self.tid is not None:
            out.append((self.tid & 0x07) << 5 | (0x10 if self.switching_up else 0)
                       | (self.sid & 0x07) << 1 | (0x01 if self.inter_layer else 0))
            if not self.flexible:
                out.append((self.tl0picidx or 0) & 0xFF)
        if self.flexible and self.inter_picture:
            for k, diff in enumerate(self.p_diffs):
                out.append((diff & 0x7F) << 1 | (1 if k < len(self.p_diffs) - 1 else 0))
        if self.ss:
            octet = ((self.ss_spatial_layers - 1) & 0x07) << 5
            octet |= 0x10 if self.resolutions else 0
            octet |= 0x08 if self.ss_groups is not None else 0
            out.append(octet)
            for width, height in self.resolutions:
                out += struct.pack("!HH", width, height)
            if self.ss_groups is not None:
                out.append(len(self.ss_groups))
                for tid, up, refs in self.ss_groups:
                    out.append((tid & 0x07) << 5 | (0x10 if up else 0) | len(refs) << 2)
                    out += bytes(refs)
        return bytes(out)


def _frame_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height of a VP9 key frame's uncompressed header (VP9 bitstream §6.2),
    profile 0 only; None when the frame is not a profile 0 key frame."""
    # frame_marker(2)=2, profile_low_bit, profile_high_bit, [reserved], show_existing(1),
    # frame_type(1)=0 key, show_frame(1), error_resilient(1), sync code 0x49 0x83 0x42,
    # color config (profile 0: color_space(3), color_range(1)), then 16-bit size - 1 each.
    if len(frame) < 10:
        return None
    bits = int.from_bytes(frame[:10], "big")
    total = 80

    def read(count: int) -> int:
        nonlocal total
        total -= count
        return (bits >> total) & ((1 << count) - 1)

    if read(2) != 2 or read(1) != 0 or read(1) != 0:  # frame marker, profile 0
        return None
    if read(1) or read(1):  # show_existing_frame, frame_type (0 = key frame)
        return None
    read(2)  # show_frame, error_resilient_mode
    if read(24) != 0x498342:
        return None
    if read(3) == 7:  # color_space sRGB has no range bit in profile 0 (not used here)
        return None
    read(1)  # color_range
    width, height = read(16) + 1, read(16) + 1
    return width, height


class Vp9PayloadFormat:
    """Packetizer and depacketizer for one non-scalable VP9 stream."""

    def __init__(self, *, max_payload: int, picture_id: int = 0) -> None:
        if max_payload < 16:
            raise ValueError(f"max_payload {max_payload} is too small for VP9")
        self.max_payload = max_payload
        self.picture_id = picture_id & 0x7FFF

    def packetize(self, frame: bytes) -> list[bytes]:
        """The RTP payloads of one encoded VP9 picture, in order (the caller sets the
        marker bit on the last one, whose descriptor has E)."""
        if not frame:
            raise ValueError("cannot packetize an empty VP9 frame")
        size = _frame_size(frame)
        key = size is not None
        descriptors: list[Vp9PayloadDescriptor] = []

        def descriptor(first: bool, last: bool) -> Vp9PayloadDescriptor:
            return Vp9PayloadDescriptor(
                start_of_frame=first, end_of_frame=last, inter_picture=not key,
                picture_id=self.picture_id, ss=key and first,
                resolutions=(size,) if key and first and size is not None else ())

        head = len(bytes(descriptor(True, False)))
        rest = len(bytes(descriptor(False, False)))
        payloads: list[bytes] = []
        pos = 0
        while pos < len(frame):
            first = pos == 0
            room = self.max_payload - (head if first else rest)
            chunk = frame[pos : pos + room]
            pos += len(chunk)
            descriptors.append(descriptor(first, pos >= len(frame)))
            payloads.append(bytes(descriptors[-1]) + chunk)
        self.picture_id = (self.picture_id + 1) & 0x7FFF
        return payloads

    def is_frame_start(self, payload: bytes) -> bool:
        """B=1 marks the first packet of a picture (RFC 9628 §4.2)."""
        return bool(payload) and bool(payload[0] & 0x08)

    def depacketize(self, payloads: Sequence[bytes]) -> bytes:
        """The VP9 picture behind the descriptors of one picture's payloads.

        Raises:
            MalformedPayload: a truncated descriptor, or the first packet lacks B or
                the last lacks E.
        """
        parts: list[bytes] = []
        for index, payload in enumerate(payloads):
            descriptor, offset = Vp9PayloadDescriptor.parse(payload)
            if index == 0 and not descriptor.start_of_frame:
                raise MalformedPayload("VP9 picture does not start with B=1")
            if index == len(payloads) - 1 and not descriptor.end_of_frame:
                raise MalformedPayload("VP9 picture does not end with E=1")
            parts.append(payload[offset:])
        return b"".join(parts)

    def is_keyframe(self, payloads: Sequence[bytes]) -> bool:
        """P=0 on the first packet of a base-layer picture: decodable on its own."""
        if not payloads:
            return False
        try:
            descriptor, _ = Vp9PayloadDescriptor.parse(payloads[0])
        except MalformedPayload:
            return False
        return descriptor.start_of_frame and not descriptor.inter_picture and (
            descriptor.sid == 0)
