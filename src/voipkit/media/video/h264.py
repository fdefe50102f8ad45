"""The H.264 RTP payload format (RFC 6184), packetization modes 0 and 1.

Knows: Annex B byte streams (start codes), the NAL unit header (RFC 6184 §1.3), single
NAL unit packets (§5.6), STAP-A aggregation (§5.7.1) and FU-A fragmentation (§5.8), the
modes that allow them (§6.2 single NAL unit mode, §6.3 non-interleaved mode), the marker
bit rule (§5.1), and enough of the slice header to tell where a picture starts.
Must not know: RTP headers, sequence numbers, loss, the encoder, SDP text or the clock;
:mod:`voipkit.media.video.assembler` orders packets and finds whole frames.

Sizes: ``max_payload`` is the largest RTP payload (the MTU less the RTP header), every
packet this module builds fits in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from voipkit.media.video.payload import MalformedPayload

__all__ = [
    "FU_A",
    "STAP_A",
    "FuA",
    "H264PayloadFormat",
    "StapA",
    "join_annex_b",
    "nal_type",
    "split_annex_b",
]

STAP_A = 24  # RFC 6184 §5.2, Table 1
FU_A = 28
_UNSUPPORTED = {25: "STAP-B", 26: "MTAP16", 27: "MTAP24", 29: "FU-B"}  # interleaved mode only
NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
_START_CODE = re.compile(b"\x00\x00\x01")


def nal_type(nal: bytes) -> int:
    """The 5-bit ``Type`` field of a NAL unit header (RFC 6184 §1.3)."""
    return nal[0] & 0x1F


def split_annex_b(stream: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (H.264 Annex B.1), without start codes.

    Both 3- and 4-byte start codes are accepted; the zero byte before a 4-byte start
    code (and any trailing_zero_8bits) is not part of the preceding NAL unit.
    """
    starts = [m.end() for m in _START_CODE.finditer(stream)]
    nals: list[bytes] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(stream)
        nal = stream[start:end].rstrip(b"\x00") if i + 1 < len(starts) else stream[start:end]
        if nal:
            nals.append(bytes(nal))
    return nals


def join_annex_b(nals: Iterable[bytes]) -> bytes:
    """An Annex B byte stream of ``nals``, each behind a 4-byte start code."""
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nals)


@dataclass(frozen=True, slots=True)
class StapA:
    """A single-time aggregation packet (RFC 6184 §5.7.1): NAL units of one picture,
    each behind a 16-bit size. The header's F is the OR and NRI the maximum of the
    aggregated units' (§5.7: "the value of NRI MUST be the maximum of all the NAL
    units carried in the aggregation packet")."""

    nal_units: tuple[bytes, ...]

    @classmethod
    def parse(cls, payload: bytes) -> StapA:
        units: list[bytes] = []
        pos = 1
        while pos < len(payload):
            if pos + 2 > len(payload):
                raise MalformedPayload(f"STAP-A has a truncated NAL size at offset {pos}")
            size = int.from_bytes(payload[pos : pos + 2], "big")
            pos += 2
            if size == 0 or pos + size > len(payload):
                raise MalformedPayload(
                    f"STAP-A NAL unit of {size} bytes at offset {pos - 2} does not fit the "
                    f"{len(payload)}-byte payload"
                )
            units.append(bytes(payload[pos : pos + size]))
            pos += size
        if not units:
            raise MalformedPayload("STAP-A carries no NAL unit")
        return cls(tuple(units))

    def __bytes__(self) -> bytes:
        f = max(n[0] & 0x80 for n in self.nal_units)
        nri = max(n[0] & 0x60 for n in self.nal_units)
        return bytes([f | nri | STAP_A]) + b"".join(
            len(n).to_bytes(2, "big") + n for n in self.nal_units
        )


@dataclass(frozen=True, slots=True)
class FuA:
    """One fragment of a NAL unit (RFC 6184 §5.8).

    ``header`` is the fragmented NAL unit's own header byte (F, NRI, type); the FU
    indicator carries its F and NRI with type 28, the FU header its S, E and type.
    ``data`` is a slice of the NAL unit's payload (the header byte is not repeated).
    """

    header: int
    start: bool
    end: bool
    data: bytes

    @classmethod
    def parse(cls, payload: bytes) -> FuA:
        if len(payload) < 3:
            raise MalformedPayload(f"FU-A of {len(payload)} bytes has no fragment data")
        indicator, fu = payload[0], payload[1]
        start, end = bool(fu & 0x80), bool(fu & 0x40)
        if start and end:
            # RFC 6184 §5.8: "A fragmented NAL unit MUST NOT be transmitted in one FU".
            raise MalformedPayload("FU-A has both the S and E bits set")
        return cls((indicator & 0xE0) | (fu & 0x1F), start, end, bytes(payload[2:]))

    def __bytes__(self) -> bytes:
        indicator = (self.header & 0xE0) | FU_A
        fu = (0x80 if self.start else 0) | (0x40 if self.end else 0) | (self.header & 0x1F)
        return bytes([indicator, fu]) + self.data


def _starts_picture(nal_header: int, first_payload_byte: int | None) -> bool:
    kind = nal_header & 0x1F
    if kind in (NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD):
        return True
    if kind in (NAL_SLICE, 2, NAL_IDR) and first_payload_byte is not None:
        # first_mb_in_slice is the slice header's first ue(v); the value 0 is the
        # single bit "1" (H.264 §9.1), so the picture's first slice has the top bit set.
        return bool(first_payload_byte & 0x80)
    return False


class H264PayloadFormat:
    """Packetizer and depacketizer for one H.264 stream.

    ``packetization_mode`` 0 sends every NAL unit in its own packet and refuses one
    that does not fit (§6.2: only single NAL unit packets are allowed, so the encoder
    must cut slices to the MTU); mode 1 aggregates small NAL units of a picture into
    STAP-A packets and fragments large ones into FU-A packets (§6.3).
    """

    def __init__(self, *, max_payload: int, packetization_mode: int = 1) -> None:
        if packetization_mode not in (0, 1):
            raise ValueError(f"packetization-mode {packetization_mode} is not supported "
                             "(0 and 1 are; 2 is interleaved)")
        if max_payload < 16:
            raise ValueError(f"max_payload {max_payload} is too small for H.264")
        self.max_payload = max_payload
        self.packetization_mode = packetization_mode

    def packetize(self, frame: bytes) -> list[bytes]:
        """The RTP payloads for one access unit (an Annex B byte stream), in order.

        The caller sets the marker bit on the last one (RFC 6184 §5.1: "set for the
        very last packet of the access unit").

        Raises:
            ValueError: in mode 0, a NAL unit larger than ``max_payload``.
        """
        nals = split_annex_b(frame)
        if self.packetization_mode == 0:
            for nal in nals:
                if len(nal) > self.max_payload:
                    raise ValueError(
                        f"NAL unit of {len(nal)} bytes exceeds the {self.max_payload}-byte "
                        "payload; packetization-mode 0 cannot fragment (RFC 6184 §6.2)"
                    )
            return nals
        payloads: list[bytes] = []
        pending: list[bytes] = []
        pending_size = 1

        def flush() -> None:
            nonlocal pending_size
            if len(pending) == 1:
                payloads.append(pending[0])
            elif pending:
                payloads.append(bytes(StapA(tuple(pending))))
            pending.clear()
            pending_size = 1

        for nal in nals:
            if len(nal) > self.max_payload:
                flush()
                payloads += self._fragment(nal)
                continue
            if pending_size + 2 + len(nal) > self.max_payload:
                flush()
            pending.append(nal)
            pending_size += 2 + len(nal)
        flush()
        return payloads

    def _fragment(self, nal: bytes) -> list[bytes]:
        body = nal[1:]
        room = self.max_payload - 2
        count = -(-len(body) // room)
        size = -(-len(body) // count)  # equal fragments, the last one possibly shorter
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        return [
            bytes(FuA(nal[0], i == 0, i == len(chunks) - 1, chunk))
            for i, chunk in enumerate(chunks)
        ]

    def is_frame_start(self, payload: bytes) -> bool:
        """Does this payload begin a picture (its first NAL unit is a parameter set,
        SEI, access unit delimiter, or a slice with ``first_mb_in_slice`` 0)?"""
        if not payload:
            return False
        kind = payload[0] & 0x1F
        if kind == STAP_A:
            return len(payload) > 4 and _starts_picture(payload[3], payload[4])
        if kind == FU_A:
            return (len(payload) > 2 and bool(payload[1] & 0x80)
                    and _starts_picture(payload[1], payload[2]))
        return _starts_picture(payload[0], payload[1] if len(payload) > 1 else None)

    def depacketize(self, payloads: Sequence[bytes]) -> bytes:
        """The Annex B access unit carried by one frame's payloads (in sequence order).

        Raises:
            MalformedPayload: a payload type this mode does not allow, a fragment
                without its start or end, or a truncated aggregation packet.
        """
        nals: list[bytes] = []
        fragment: bytearray | None = None
        for payload in payloads:
            if not payload:
                raise MalformedPayload("empty H.264 payload")
            # F=1 (RFC 6184 §5.3: "may contain bit errors") is passed on to the decoder.
            kind = payload[0] & 0x1F
            if kind == FU_A:
                fu = FuA.parse(payload)
                if fu.start:
                    if fragment is not None:
                        raise MalformedPayload("FU-A start before the previous fragmented "
                                               "NAL unit ended")
                    fragment = bytearray([fu.header])
                elif fragment is None:
                    raise MalformedPayload("FU-A continuation without its start fragment")
                fragment += fu.data
                if fu.end:
                    nals.append(bytes(fragment))
                    fragment = None
                continue
            if fragment is not None:
                raise MalformedPayload("fragmented NAL unit interrupted before its end")
            if kind == STAP_A:
                nals += StapA.parse(payload).nal_units
            elif kind in _UNSUPPORTED:
                raise MalformedPayload(
                    f"{_UNSUPPORTED[kind]} (type {kind}) is only allowed in interleaved "
                    "mode (RFC 6184 §6.4)")
            elif 1 <= kind <= 23:
                nals.append(bytes(payload))
            # Types 0, 30, 31: RFC 6184 §5.4 "receivers ... MUST ignore" them.
        if fragment is not None:
            raise MalformedPayload("fragmented NAL unit has no end fragment")
        return join_annex_b(nals)

    def is_keyframe(self, payloads: Sequence[bytes]) -> bool:
        """Does the frame carry an IDR slice (decodable without earlier pictures)?"""
        for payload in payloads:
            if not payload:
                continue
            kind = payload[0] & 0x1F
            if kind == NAL_IDR:
                return True
            if kind == FU_A and len(payload) > 1 and payload[1] & 0x1F == NAL_IDR:
                return True
            if kind == STAP_A:
                try:
                    if any(nal_type(n) == NAL_IDR for n in StapA.parse(payload).nal_units):
                        return True
                except MalformedPayload:
                    return False
        return False
