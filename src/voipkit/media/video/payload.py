"""What every RTP video payload format offers the frame assembler and the sender.

Knows: the shape of a payload format (packetize one encoded frame into payloads, tell
whether a payload starts a frame, depacketize one frame's payloads, recognise key frames)
and the MTU rule shared by all of them.
Must not know: any particular codec, RTP headers, loss or the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "DEFAULT_MTU",
    "MAX_MTU",
    "MIN_MTU",
    "RTP_HEADER_SIZE",
    "MalformedPayload",
    "PayloadFormat",
    "max_payload_for_mtu",
]

#: The manual's setVideoMTU range and default (bytes of one RTP packet).
MIN_MTU = 512
MAX_MTU = 65507
DEFAULT_MTU = 1450
RTP_HEADER_SIZE = 12  # RFC 3550 §5.1 fixed header, no CSRC, no extension


class MalformedPayload(ValueError):  # noqa: N818 (mirrors rtp.MalformedPacket)
    """An RTP payload that cannot be this payload format. The message says why."""


def max_payload_for_mtu(mtu: int) -> int:
    """The largest RTP payload in a packet of ``mtu`` bytes (the fixed RTP header
    taken off).

    Raises:
        ValueError: ``mtu`` outside the manual's 512-65507 range.
    """
    if not MIN_MTU <= mtu <= MAX_MTU:
        raise ValueError(f"video MTU {mtu} is outside {MIN_MTU}-{MAX_MTU}")
    return mtu - RTP_HEADER_SIZE


class PayloadFormat(Protocol):
    """One codec's RTP payload format (H.264 RFC 6184, VP8 RFC 7741)."""

    max_payload: int

    def packetize(self, frame: bytes) -> list[bytes]:
        """The payloads of one encoded frame, in order; the last gets the marker bit."""
        ...

    def is_frame_start(self, payload: bytes) -> bool:
        """Does this payload carry the first bytes of a frame?"""
        ...

    def depacketize(self, payloads: Sequence[bytes]) -> bytes:
        """The encoded frame carried by one frame's payloads, in sequence order.

        Raises:
            MalformedPayload: the payloads do not form a frame.
        """
        ...

    def is_keyframe(self, payloads: Sequence[bytes]) -> bool:
        """Can the frame be decoded without earlier frames?"""
        ...
