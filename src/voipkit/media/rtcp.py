"""RTCP packets (RFC 3550 §6): SR, RR, SDES, BYE, compound parse and build.

Knows: the RTCP common header, sender info, report blocks, SDES chunks, BYE,
compound packets and their padding (RFC 3550 §6.4–§6.6, A.2), NTP timestamps
and the round-trip-time rule of §6.4.1; the feedback messages video needs:
generic NACK (RFC 4585 §6.2.1), PLI (RFC 4585 §6.3.1) and FIR (RFC 5104 §4.3.1).
APP, other feedback formats and any other type are kept raw as
:class:`RtcpUnknownPacket`.
Must not know: sessions, scheduling, sockets or the clock — wallclock time and
``now`` come in as arguments.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from voipkit.media.rtp import RTP_VERSION, MalformedPacket

__all__ = [
    "NTP_EPOCH_OFFSET",
    "PSFB_FIR",
    "PSFB_PLI",
    "REPORT_BLOCK_SIZE",
    "RTPFB_NACK",
    "ReportBlock",
    "RtcpByePacket",
    "RtcpFirPacket",
    "RtcpNackPacket",
    "RtcpPacket",
    "RtcpPacketType",
    "RtcpPliPacket",
    "RtcpRrPacket",
    "RtcpSdesPacket",
    "RtcpSrPacket",
    "RtcpUnknownPacket",
    "SdesChunk",
    "SdesItemType",
    "build_compound",
    "ntp_from_seconds",
    "ntp_middle32",
    "parse_rtcp",
    "rtt",
    "seconds_from_ntp",
]

NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)

_HEADER = struct.Struct("!BBH")
_SENDER_INFO = struct.Struct("!QIII")
_REPORT_BLOCK = struct.Struct("!IBBHIIII")  # ssrc, fraction, lost (3 bytes as B+H), ...


class RtcpPacketType(IntEnum):
    """RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1)."""

    SR = 200
    RR = 201
    SDES = 202
    BYE = 203
    APP = 204
    RTPFB = 205
    PSFB = 206


#: RFC 4585 §6.2.1: FMT of a generic NACK (transport layer feedback, PT=RTPFB).
RTPFB_NACK = 1
#: RFC 4585 §6.3.1: FMT of a Picture Loss Indication (payload-specific, PT=PSFB).
PSFB_PLI = 1
#: RFC 5104 §4.3.1: FMT of a Full Intra Request (PT=PSFB).
PSFB_FIR = 4
_FEEDBACK_HEADER = struct.Struct("!II")  # SSRC of packet sender, SSRC of media source


class SdesItemType(IntEnum):
    """SDES item types (RFC 3550 §6.5)."""

    END = 0
    CNAME = 1
    NAME = 2
    EMAIL = 3
    PHONE = 4
    LOC = 5
    TOOL = 6
    NOTE = 7
    PRIV = 8


# -- time ---------------------------------------------------------------------------


def ntp_from_seconds(seconds: float) -> int:
    """64-bit NTP timestamp (RFC 3550 §4) for Unix wallclock ``seconds``."""
    total = round((seconds + NTP_EPOCH_OFFSET) * 2**32)
    return total & 0xFFFF_FFFF_FFFF_FFFF


def seconds_from_ntp(ntp: int) -> float:
    """Unix wallclock seconds for a 64-bit NTP timestamp."""
    return ntp / 2**32 - NTP_EPOCH_OFFSET


def ntp_middle32(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp, the unit of LSR/DLSR (RFC 3550 §6.4.1)."""
    return (ntp >> 16) & 0xFFFF_FFFF


def rtt(now_ntp_middle32: int, lsr: int, dlsr: int) -> float | None:
    """Round-trip time in seconds from a report block (RFC 3550 §6.4.1).

    RFC 3550 §6.4.1: the sender "can compute the total round-trip propagation
    delay by recording the time A when this reception report block is received.
    It calculates the total round-trip time A-LSR using the last SR timestamp
    (LSR) field, and then subtracting this field to leave the round-trip
    propagation delay as (A - LSR - DLSR)."

    Args:
        now_ntp_middle32: A, the arrival time as the middle 32 bits of NTP time.
        lsr: the block's LSR field; 0 means no SR was received yet.
        dlsr: the block's DLSR field, in 1/65536 s.

    Returns:
        Seconds, clamped at 0 when clock skew makes the difference negative;
        None when ``lsr`` is 0.
    """
    if lsr == 0:
        return None
    delta = (now_ntp_middle32 - lsr - dlsr) & 0xFFFF_FFFF
    if delta >= 0x8000_0000:  # negative in 32-bit two's complement
        return 0.0
    return delta / 65536


# -- packets --------------------------------------------------------------------------


def _header(count: int, packet_type: int, body_len: int, padding: int) -> bytes:
    total = _HEADER.size + body_len + padding
    if total % 4:
        raise ValueError(f"RTCP packet of {total} bytes is not a whole number of 32-bit words")
    if not 0 <= count <= 31:
        raise ValueError(f"RTCP count {count} does not fit 5 bits")
    first = RTP_VERSION << 6 | (0x20 if padding else 0) | count
    return _HEADER.pack(first, packet_type, total // 4 - 1)


def _padding_bytes(padding: int) -> bytes:
    if not 0 <= padding <= 255:
        raise ValueError(f"padding {padding} does not fit one octet")
    return bytes(padding - 1) + bytes([padding]) if padding else b""


REPORT_BLOCK_SIZE = 24
"""Octets of one reception report block (RFC 3550 §6.4.1)."""


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report block (RFC 3550 §6.4.1).

    ``packets_lost`` is the signed 24-bit cumulative count (duplicates can make
    it negative); ``fraction_lost`` is the 8-bit fixed-point fraction (lost/256)
    for the last interval; ``highest_sequence`` is the extended (cycles << 16 |
    seq) highest sequence number; ``jitter`` is in RTP timestamp units;
    ``lsr`` / ``dlsr`` are in 1/65536 s.
    """

    ssrc: int
    fraction_lost: int = 0
    packets_lost: int = 0
    highest_sequence: int = 0
    jitter: int = 0
    lsr: int = 0
    dlsr: int = 0


    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> ReportBlock:
        """Parse the 24 bytes at ``offset`` (the caller has checked the length)."""
        ssrc, fraction, lost_hi, lost_lo, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(
            data, offset
        )
        lost = lost_hi << 16 | lost_lo
        if lost & 0x80_0000:
            lost -= 0x100_0000
        return cls(ssrc, fraction, lost, highest, jitter, lsr, dlsr)

    def __bytes__(self) -> bytes:
        # The 24-bit field saturates rather than wraps (RFC 3550 A.3: clamp to
        # 0x7fffff / 0x800000).
        lost = max(-0x80_0000, min(0x7F_FFFF, self.packets_lost)) & 0xFF_FFFF
        return _REPORT_BLOCK.pack(
            self.ssrc,
            self.fraction_lost,
            lost >> 16,
            lost & 0xFFFF,
            self.highest_sequence,
            self.jitter,
            self.lsr,
            self.dlsr,
        )


def _parse_blocks(body: bytes, offset: int, count: int, kind: str) -> list[ReportBlock]:
    need = offset + count * REPORT_BLOCK_SIZE
    if need > len(body):
        raise MalformedPacket(
            f"RTCP {kind} announces {count} report blocks ({count * REPORT_BLOCK_SIZE} bytes) "
            f"but only {len(body) - offset} bytes follow"
        )
    return [ReportBlock.parse(body, offset + i * REPORT_BLOCK_SIZE) for i in range(count)]


@dataclass(slots=True)
class RtcpSrPacket:
    """Sender report (RFC 3550 §6.4.1).

    ``ntp_timestamp`` is the full 64-bit NTP time; ``extension`` keeps any
    profile-specific extension octets after the report blocks.
    """

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: list[ReportBlock] = field(default_factory=list)
    extension: bytes = b""
    padding: int = 0

    @classmethod
    def _parse(cls, count: int, body: bytes, padding: int) -> RtcpSrPacket:
        if len(body) < 4 + _SENDER_INFO.size:
            raise MalformedPacket(
                f"RTCP SR body is {len(body)} bytes, shorter than SSRC plus the 20-byte "
                "sender info"
            )
        (ssrc,) = struct.unpack_from("!I", body)
        ntp, rtp_ts, packets, octets = _SENDER_INFO.unpack_from(body, 4)
        offset = 4 + _SENDER_INFO.size
        reports = _parse_blocks(body, offset, count, "SR")
        rest = body[offset + count * REPORT_BLOCK_SIZE :]
        return cls(ssrc, ntp, rtp_ts, packets, octets, reports, bytes(rest), padding)

    def __bytes__(self) -> bytes:
        body = (
            struct.pack("!I", self.ssrc)
            + _SENDER_INFO.pack(
                self.ntp_timestamp, self.rtp_timestamp, self.packet_count, self.octet_count
            )
            + b"".join(bytes(r) for r in self.reports)
            + self.extension
        )
        return (
            _header(len(self.reports), RtcpPacketType.SR, len(body), self.padding)
            + body
            + _padding_bytes(self.padding)
        )


@dataclass(slots=True)
class RtcpRrPacket:
    """Receiver report (RFC 3550 §6.4.2)."""

    ssrc: int
    reports: list[ReportBlock] = field(default_factory=list)
    extension: bytes = b""
    padding: int = 0

    @classmethod
    def _parse(cls, count: int, body: bytes, padding: int) -> RtcpRrPacket:
        if len(body) < 4:
            raise MalformedPacket(f"RTCP RR body is {len(body)} bytes, shorter than its SSRC")
        (ssrc,) = struct.unpack_from("!I", body)
        reports = _parse_blocks(body, 4, count, "RR")
        rest = body[4 + count * REPORT_BLOCK_SIZE :]
        return cls(ssrc, reports, bytes(rest), padding)

    def __bytes__(self) -> bytes:
        body = (
            struct.pack("!I", self.ssrc)
            + b"".join(bytes(r) for r in self.reports)
            + self.extension
        )
        return (
            _header(len(self.reports), RtcpPacketType.RR, len(body), self.padding)
            + body
            + _padding_bytes(self.padding)
        )


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """One SDES chunk: an SSRC and its ``(item type, value)`` items (RFC 3550 §6.5)."""

    ssrc: int
    items: tuple[tuple[int, bytes], ...] = ()

    def get(self, item_type: int) -> bytes | None:
        """The first value of ``item_type``, or None."""
        for kind, value in self.items:
            if kind == item_type:
                return value
        return None

    def _encode(self) -> bytes:
        out = bytearray(struct.pack("!I", self.ssrc))
        for kind, value in self.items:
            if not 1 <= kind <= 255:
                raise ValueError(f"SDES item type {kind} is not 1-255")
            if len(value) > 255:
                raise ValueError(f"SDES item of {len(value)} bytes exceeds 255")
            out += bytes([kind, len(value)]) + value
        # RFC 3550 §6.5: the list of items "is terminated by one or more null octets
        # ... followed by ... null octets if necessary to reach the next 32-bit boundary".
        out += bytes(4 - len(out) % 4)
        return bytes(out)


@dataclass(slots=True)
class RtcpSdesPacket:
    """Source description (RFC 3550 §6.5)."""

    chunks: list[SdesChunk] = field(default_factory=list)
    padding: int = 0

    @classmethod
    def cname(cls, ssrc: int, cname: str) -> RtcpSdesPacket:
        """The usual one-chunk SDES carrying only a CNAME (RFC 3550 §6.5.1)."""
        return cls([SdesChunk(ssrc, ((SdesItemType.CNAME, cname.encode()),))])

    @classmethod
    def _parse(cls, count: int, body: bytes, padding: int) -> RtcpSdesPacket:
        chunks: list[SdesChunk] = []
        pos = 0
        for index in range(count):
            if pos + 4 > len(body):
                raise MalformedPacket(
                    f"RTCP SDES announces {count} chunks but chunk {index + 1} is truncated"
                )
            (ssrc,) = struct.unpack_from("!I", body, pos)
            pos += 4
            items: list[tuple[int, bytes]] = []
            while True:
                if pos >= len(body):
                    raise MalformedPacket(
                        f"RTCP SDES chunk for SSRC {ssrc:#010x} has no terminating null octet"
                    )
                kind = body[pos]
                if kind == SdesItemType.END:
                    pos += 1
                    pos += -pos % 4  # to the next 32-bit boundary
                    break
                if pos + 2 > len(body) or pos + 2 + body[pos + 1] > len(body):
                    raise MalformedPacket(
                        f"RTCP SDES item type {kind} for SSRC {ssrc:#010x} overruns the packet"
                    )
                length = body[pos + 1]
                items.append((kind, bytes(body[pos + 2 : pos + 2 + length])))
                pos += 2 + length
            if pos > len(body):
                raise MalformedPacket(
                    f"RTCP SDES chunk for SSRC {ssrc:#010x} is not padded to a 32-bit boundary"
                )
            chunks.append(SdesChunk(ssrc, tuple(items)))
        return cls(chunks, padding)

    def __bytes__(self) -> bytes:
        body = b"".join(c._encode() for c in self.chunks)
        return (
            _header(len(self.chunks), RtcpPacketType.SDES, len(body), self.padding)
            + body
            + _padding_bytes(self.padding)
        )


@dataclass(slots=True)
class RtcpByePacket:
    """Goodbye (RFC 3550 §6.6): the leaving SSRCs and an optional reason."""

    ssrcs: tuple[int, ...] = ()
    reason: str | None = None
    padding: int = 0

    @classmethod
    def _parse(cls, count: int, body: bytes, padding: int) -> RtcpByePacket:
        if 4 * count > len(body):
            raise MalformedPacket(
                f"RTCP BYE announces {count} SSRCs but the body is {len(body)} bytes"
            )
        ssrcs = struct.unpack_from(f"!{count}I", body) if count else ()
        pos = 4 * count
        reason: str | None = None
        if pos < len(body):
            length = body[pos]
            if pos + 1 + length > len(body):
                raise MalformedPacket(
                    f"RTCP BYE reason of {length} bytes overruns the packet"
                )
            raw = bytes(body[pos + 1 : pos + 1 + length])
            try:
                reason = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedPacket(f"RTCP BYE reason is not UTF-8: {exc}") from None
        return cls(tuple(ssrcs), reason, padding)

    def __bytes__(self) -> bytes:
        body = struct.pack(f"!{len(self.ssrcs)}I", *self.ssrcs)
        if self.reason is not None:
            raw = self.reason.encode("utf-8")
            if len(raw) > 255:
                raise ValueError(f"BYE reason of {len(raw)} bytes exceeds 255")
            body += bytes([len(raw)]) + raw
            body += bytes(-len(body) % 4)
        return (
            _header(len(self.ssrcs), RtcpPacketType.BYE, len(body), self.padding)
            + body
            + _padding_bytes(self.padding)
        )


# -- feedback (RFC 4585 §6.1, RFC 5104 §4.3) ------------------------------------------


def _feedback_ssrcs(kind: str, body: bytes) -> tuple[int, int]:
    if len(body) < _FEEDBACK_HEADER.size:
        raise MalformedPacket(
            f"RTCP {kind} body is {len(body)} bytes, shorter than the two SSRCs of "
            "RFC 4585 §6.1"
        )
    sender, media = _FEEDBACK_HEADER.unpack_from(body)
    return int(sender), int(media)


def _nack_fci(lost: Iterable[int]) -> bytes:
    """Generic NACK FCI entries (RFC 4585 §6.2.1): a PID and a bitmask of the 16 after it."""
    out = bytearray()
    pending = sorted({seq & 0xFFFF for seq in lost})
    # Group in wrap order: start from the seq after the largest gap, so 65535, 0 group.
    if pending:
        gaps = [((pending[(i + 1) % len(pending)] - seq) & 0xFFFF, i)
                for i, seq in enumerate(pending)]
        start = (max(gaps)[1] + 1) % len(pending)
        pending = pending[start:] + pending[:start]
    i = 0
    while i < len(pending):
        pid = pending[i]
        blp = 0
        i += 1
        while i < len(pending) and 0 < (pending[i] - pid) & 0xFFFF <= 16:
            blp |= 1 << (((pending[i] - pid) & 0xFFFF) - 1)
            i += 1
        out += struct.pack("!HH", pid, blp)
    return bytes(out)


@dataclass(slots=True)
class RtcpNackPacket:
    """Generic NACK (RFC 4585 §6.2.1): the media sequence numbers the receiver lost.

    ``lost`` is the list of 16-bit sequence numbers in wire order; building packs
    them into PID + BLP entries ("the BLP allows for reporting losses of any of the
    16 RTP packets immediately following the RTP packet indicated by the PID").
    """

    sender_ssrc: int
    media_ssrc: int
    lost: tuple[int, ...] = ()
    padding: int = 0

    @classmethod
    def _parse(cls, count: int, body: bytes, padding: int) -> RtcpNackPacket:
        sender, media = _feedback_ssrcs("NACK", body)
        fci = body[_FEEDBACK_HEADER.size :]
        if not fci or len(fci) % 4:
            raise MalformedPacket(
                f"RTCP NACK FCI is {len(fci)} bytes, not one or more 4-byte entries "
                "(RFC 4585 §6.2.1)"
            )
        lost: list[int] = []
        for pos in range(0, len(fci), 4):
            pid, blp = struct.unpack_from("!HH", fci, pos)
            lost.append(pid)
            lost += [(pid + bit + 1) & 0xFFFF for bit in range(16) if blp >> bit & 1]
        return cls(sender, media, tuple(lost), padding)

    def __bytes__(self) -> bytes:
        if not self.lost:
            raise ValueError("a generic NACK needs at least one lost sequence number")
        body = _FEEDBACK_HEADER.pack(self.sender_ssrc, self.media_ssrc) + _nack_fci(self.lost)
        return (
            _header(RTPFB_NACK, RtcpPacketType.RTPFB, len(body), self.padding)
            + body
            + _padding_bytes(self.padding)
        )


@dataclass(slots=True)
class RtcpPliPacket:
    """Picture Loss Indication (RFC 4585 §6.3.1): "PLI does not require parameters.
    Therefore, the length field MUST be 2", i.e. no FCI."""

    sender_ssrc: int
    media_ssrc: int
    padding: int = 0

    @classmethod
    def _parse(cls, count: int, body: bytes, padding: int) -> RtcpPliPacket:
        sender, media = _feedback_ssrcs("PLI", body)
        if len(body) != _FEEDBACK_HEADER.size:
            raise MalformedPacket(
                f"RTCP PLI has {len(body) - _FEEDBACK_HEADER.size} FCI bytes; RFC 4585 "
                "§6.3.1 allows none"
            )
        return cls(sender, media, padding)

    def __bytes__(self) -> bytes:
        body = _FEEDBACK_HEADER.pack(self.sender_ssrc, self.media_ssrc)
        return (
            _header(PSFB_PLI, RtcpPacketType.PSFB, len(body), self.padding)
            + body
            + _padding_bytes(self.padding)
        )


@dataclass(slots=True)
class RtcpFirPacket:
    """Full Intra Request (RFC 5104 §4.3.1).

    ``entries`` are ``(media SSRC, command sequence number)``; RFC 5104 §4.3.1.1:
    the media source SSRC of the common header "SHALL be set to 0", the target
    is in each FCI entry, and the 8-bit sequence number is incremented for each
    new request (a repetition keeps it).
    """

    sender_ssrc: int
    entries: tuple[tuple[int, int], ...] = ()
    media_ssrc: int = 0
    padding: int = 0

    @classmethod
    def _parse(cls, count: int, body: bytes, padding: int) -> RtcpFirPacket:
        sender, media = _feedback_ssrcs("FIR", body)
        fci = body[_FEEDBACK_HEADER.size :]
        if not fci or len(fci) % 8:
            raise MalformedPacket(
                f"RTCP FIR FCI is {len(fci)} bytes, not one or more 8-byte entries "
                "(RFC 5104 §4.3.1.1)"
            )
        entries = tuple(
            (int(ssrc), int(seq)) for ssrc, seq in struct.iter_unpack("!IB3x", fci)
        )
        return cls(sender, entries, media, padding)

    def __bytes__(self) -> bytes:
        if not self.entries:
            raise ValueError("a FIR needs at least one (SSRC, sequence number) entry")
        body = _FEEDBACK_HEADER.pack(self.sender_ssrc, self.media_ssrc) + b"".join(
            struct.pack("!IB3x", ssrc, seq & 0xFF) for ssrc, seq in self.entries
        )
        return (
            _header(PSFB_FIR, RtcpPacketType.PSFB, len(body), self.padding)
            + body
            + _padding_bytes(self.padding)
        )


@dataclass(slots=True)
class RtcpUnknownPacket:
    """Any other RTCP packet (APP, RTPFB, PSFB, ...), kept raw for later layers.

    ``count`` is the 5-bit field after P (a subtype or format for APP/feedback);
    ``body`` is everything after the 4-byte common header, without padding.
    """

    packet_type: int
    count: int
    body: bytes
    padding: int = 0

    def __bytes__(self) -> bytes:
        return (
            _header(self.count, self.packet_type, len(self.body), self.padding)
            + self.body
            + _padding_bytes(self.padding)
        )


RtcpPacket = (
    RtcpSrPacket
    | RtcpRrPacket
    | RtcpSdesPacket
    | RtcpByePacket
    | RtcpNackPacket
    | RtcpPliPacket
    | RtcpFirPacket
    | RtcpUnknownPacket
)

_PARSERS: dict[int, Callable[[int, bytes, int], RtcpPacket]] = {
    RtcpPacketType.SR: RtcpSrPacket._parse,
    RtcpPacketType.RR: RtcpRrPacket._parse,
    RtcpPacketType.SDES: RtcpSdesPacket._parse,
    RtcpPacketType.BYE: RtcpByePacket._parse,
}
# Feedback packets are dispatched on (PT, FMT); other formats stay RtcpUnknownPacket.
_FEEDBACK_PARSERS: dict[tuple[int, int], Callable[[int, bytes, int], RtcpPacket]] = {
    (RtcpPacketType.RTPFB, RTPFB_NACK): RtcpNackPacket._parse,
    (RtcpPacketType.PSFB, PSFB_PLI): RtcpPliPacket._parse,
    (RtcpPacketType.PSFB, PSFB_FIR): RtcpFirPacket._parse,
}


def parse_rtcp(data: bytes) -> list[RtcpPacket]:
    """Parse a compound RTCP packet (RFC 3550 §6.1) into its packets, in order.

    Checks every packet's version and length, and that only the last packet
    carries padding (RFC 3550 §6.4.1: "padding MUST only be added to the last
    individual packet"). The "first packet is SR or RR" rule of A.2 is not
    enforced, so RFC 5506 reduced-size RTCP is accepted.

    Raises:
        MalformedPacket: with the offset and the exact reason.
    """
    packets: list[RtcpPacket] = []
    pos = 0
    if not data:
        raise MalformedPacket("RTCP packet is empty")
    while pos < len(data):
        if pos + _HEADER.size > len(data):
            raise MalformedPacket(
                f"RTCP packet at offset {pos} has {len(data) - pos} bytes, "
                "shorter than the 4-byte header"
            )
        first, packet_type, words = _HEADER.unpack_from(data, pos)
        if first >> 6 != RTP_VERSION:
            raise MalformedPacket(f"RTCP version at offset {pos} is {first >> 6}, not 2")
        end = pos + 4 * (words + 1)
        if end > len(data):
            raise MalformedPacket(
                f"RTCP packet at offset {pos} has length {words} ({4 * (words + 1)} bytes) "
                f"but only {len(data) - pos} bytes remain"
            )
        count = first & 0x1F
        padding = 0
        body_end = end
        if first & 0x20:
            if end != len(data):
                raise MalformedPacket(
                    f"RTCP packet at offset {pos} is padded but is not the last in the compound"
                )
            padding = data[end - 1]
            if padding == 0 or padding > end - pos - _HEADER.size:
                raise MalformedPacket(
                    f"RTCP padding count at offset {pos} is {padding}, invalid for a "
                    f"{end - pos - _HEADER.size}-byte body"
                )
            body_end -= padding
        body = bytes(data[pos + _HEADER.size : body_end])
        parser = _PARSERS.get(packet_type) or _FEEDBACK_PARSERS.get((packet_type, count))
        if parser is not None:
            packets.append(parser(count, body, padding))
        else:
            packets.append(RtcpUnknownPacket(packet_type, count, body, padding))
        pos = end
    return packets


def build_compound(packets: Iterable[RtcpPacket]) -> bytes:
    """Concatenate packets into one compound RTCP datagram (RFC 3550 §6.1).

    Raises:
        ValueError: a packet other than the last carries padding.
    """
    items: Sequence[RtcpPacket] = list(packets)
    for packet in items[:-1]:
        if packet.padding:
            raise ValueError("only the last packet of a compound RTCP packet may be padded")
    return b"".join(bytes(p) for p in items)
