"""RTP packets (RFC 3550 §5): strict parse, exact ``bytes()`` round trip.

Knows: the RTP fixed header, CSRC list, header extension (RFC 3550 §5.3.1) and
its RFC 8285 one-byte / two-byte element encodings, padding, and RFC 5761 §4
RTP/RTCP demultiplexing.
Must not know: codecs, sessions, sockets, SRTP, or the clock.

Every length is checked before it is read; a packet that cannot be RTP raises
:class:`MalformedPacket` with a sentence saying exactly why.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from voipkit.media.errors import MalformedPacket

__all__ = [
    "ONE_BYTE_PROFILE",
    "RTP_VERSION",
    "TWO_BYTE_PROFILE",
    "MalformedPacket",
    "RtpPacket",
    "is_rtcp",
    "pack_header_extensions",
    "unpack_header_extensions",
]

RTP_VERSION = 2
ONE_BYTE_PROFILE = 0xBEDE  # RFC 8285 §4.2
TWO_BYTE_PROFILE = 0x1000  # RFC 8285 §4.3: 0x100 in the top 12 bits, "appbits" below

_FIXED_HEADER = struct.Struct("!BBHII")
_EXTENSION_HEADER = struct.Struct("!HH")


def is_rtcp(data: bytes) -> bool:
    """Tell RTCP from RTP on a multiplexed port (RFC 5761 §4).

    RFC 5761 §4: "if the value of the second octet is within the range 192 to
    223 inclusive, the packet is RTCP". Payload types 64–95 (which would give
    those octets with the marker bit) are therefore never used for RTP.
    """
    return len(data) >= 2 and 192 <= data[1] <= 223


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet (RFC 3550 §5.1).

    ``extension`` is ``(profile, data)`` as carried on the wire (RFC 3550
    §5.3.1): ``data`` is a whole number of 32-bit words. ``padding`` is the
    number of padding octets at the end, including the count octet itself
    (0 means the P bit is clear).
    """

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None
    padding: int = 0

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one RTP packet.

        Raises:
            MalformedPacket: on any length or field that RFC 3550 §5.1 forbids.
        """
        if len(data) < _FIXED_HEADER.size:
            raise MalformedPacket(
                f"RTP packet is {len(data)} bytes, shorter than the 12-byte fixed header"
            )
        first, second, seq, ts, ssrc = _FIXED_HEADER.unpack_from(data)
        version = first >> 6
        if version != RTP_VERSION:
            raise MalformedPacket(f"RTP version is {version}, not 2")
        has_padding = bool(first & 0x20)
        has_extension = bool(first & 0x10)
        csrc_count = first & 0x0F
        pos = _FIXED_HEADER.size
        end = len(data)

        csrc_end = pos + 4 * csrc_count
        if csrc_end > end:
            raise MalformedPacket(
                f"RTP header announces {csrc_count} CSRCs ({4 * csrc_count} bytes) "
                f"but only {end - pos} bytes follow the fixed header"
            )
        csrc = struct.unpack_from(f"!{csrc_count}I", data, pos) if csrc_count else ()
        pos = csrc_end

        extension: tuple[int, bytes] | None = None
        if has_extension:
            if pos + _EXTENSION_HEADER.size > end:
                raise MalformedPacket(
                    f"RTP X bit is set but only {end - pos} bytes remain "
                    "for the 4-byte extension header"
                )
            profile, words = _EXTENSION_HEADER.unpack_from(data, pos)
            pos += _EXTENSION_HEADER.size
            if pos + 4 * words > end:
                raise MalformedPacket(
                    f"RTP header extension length is {words} words ({4 * words} bytes) "
                    f"but only {end - pos} bytes remain"
                )
            extension = (profile, bytes(data[pos : pos + 4 * words]))
            pos += 4 * words

        padding = 0
        if has_padding:
            # RFC 3550 §5.1: "The last octet of the padding contains a count of how many
            # padding octets should be ignored, including itself."
            if end <= pos:
                raise MalformedPacket("RTP P bit is set but the packet has no payload octets")
            padding = data[end - 1]
            if padding == 0:
                raise MalformedPacket("RTP padding count is 0; it must include itself")
            if padding > end - pos:
                raise MalformedPacket(
                    f"RTP padding count is {padding} but only {end - pos} bytes "
                    "follow the header"
                )
            end -= padding

        return cls(
            payload_type=second & 0x7F,
            sequence_number=seq,
            timestamp=ts,
            ssrc=ssrc,
            payload=bytes(data[pos:end]),
            marker=bool(second & 0x80),
            csrc=tuple(csrc),
            extension=extension,
            padding=padding,
        )

    def __bytes__(self) -> bytes:
        """Serialize; padding octets are zeros followed by the count (RFC 3550 §5.1).

        Raises:
            ValueError: when a field does not fit its wire width.
        """
        if not 0 <= self.payload_type <= 127:
            raise ValueError(f"payload type {self.payload_type} does not fit 7 bits")
        if len(self.csrc) > 15:
            raise ValueError(f"{len(self.csrc)} CSRCs; at most 15 fit the CC field")
        if not 0 <= self.padding <= 255:
            raise ValueError(f"padding {self.padding} does not fit one octet")
        first = RTP_VERSION << 6 | len(self.csrc)
        if self.padding:
            first |= 0x20
        if self.extension is not None:
            first |= 0x10
        second = self.payload_type | (0x80 if self.marker else 0)
        parts = [
            _FIXED_HEADER.pack(
                first, second, self.sequence_number, self.timestamp, self.ssrc
            )
        ]
        if self.csrc:
            parts.append(struct.pack(f"!{len(self.csrc)}I", *self.csrc))
        if self.extension is not None:
            profile, data = self.extension
            if len(data) % 4:
                raise ValueError(
                    f"header extension data is {len(data)} bytes, not a whole number of words"
                )
            parts.append(_EXTENSION_HEADER.pack(profile, len(data) // 4))
            parts.append(data)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)


def unpack_header_extensions(profile: int, data: bytes) -> list[tuple[int, bytes]]:
    """Split RFC 8285 header-extension data into ``(id, value)`` elements.

    Handles the one-byte form (profile 0xBEDE, §4.2) and the two-byte form
    (profile 0x100X, §4.3). Padding octets (0) between elements are skipped.
    In the one-byte form, ID 15 ends processing (§4.2: "the local identifier
    value 15 is reserved ... the parser MUST stop parsing").

    Raises:
        MalformedPacket: the profile is neither form, or an element overruns the data.
    """
    elements: list[tuple[int, bytes]] = []
    pos = 0
    if profile == ONE_BYTE_PROFILE:
        while pos < len(data):
            octet = data[pos]
            if octet == 0:
                pos += 1
                continue
            ident, length = octet >> 4, (octet & 0x0F) + 1
            if ident == 15:
                break
            if pos + 1 + length > len(data):
                raise MalformedPacket(
                    f"one-byte header extension element {ident} of {length} bytes "
                    "overruns the extension data"
                )
            elements.append((ident, bytes(data[pos + 1 : pos + 1 + length])))
            pos += 1 + length
        return elements
    if profile & 0xFFF0 == TWO_BYTE_PROFILE:
        while pos < len(data):
            ident = data[pos]
            if ident == 0:
                pos += 1
                continue
            if pos + 2 > len(data):
                raise MalformedPacket(
                    f"two-byte header extension element {ident} has no length octet"
                )
            length = data[pos + 1]
            if pos + 2 + length > len(data):
                raise MalformedPacket(
                    f"two-byte header extension element {ident} of {length} bytes "
                    "overruns the extension data"
                )
            elements.append((ident, bytes(data[pos + 2 : pos + 2 + length])))
            pos += 2 + length
        return elements
    raise MalformedPacket(f"header extension profile 0x{profile:04X} is not an RFC 8285 form")


def pack_header_extensions(elements: Sequence[tuple[int, bytes]]) -> tuple[int, bytes]:
    """Build ``RtpPacket.extension`` from RFC 8285 ``(id, value)`` elements.

    Uses the one-byte form when every ID is 1–14 and every value is 1–16 bytes,
    the two-byte form otherwise; pads with zeros to a 32-bit boundary.

    Raises:
        ValueError: an ID or value length does not fit even the two-byte form.
    """
    one_byte = all(1 <= i <= 14 and 1 <= len(v) <= 16 for i, v in elements)
    out = bytearray()
    if one_byte:
        for ident, value in elements:
            out.append(ident << 4 | (len(value) - 1))
            out += value
        profile = ONE_BYTE_PROFILE
    else:
        for ident, value in elements:
            if not 1 <= ident <= 255 or len(value) > 255:
                raise ValueError(
                    f"header extension element {ident} with {len(value)} bytes "
                    "does not fit RFC 8285 two-byte form"
                )
            out += bytes([ident, len(value)]) + value
        profile = TWO_BYTE_PROFILE
    out += bytes(-len(out) % 4)
    return profile, bytes(out)
