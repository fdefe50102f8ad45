"""STUN messages (RFC 5389 / RFC 8489): header, attributes, XOR addresses, FINGERPRINT.

Knows: the STUN wire format — the 20-byte header with the magic cookie
0x2112A442 and a 96-bit transaction id (RFC 5389 §6), TLV attributes padded to
4 bytes (§15), XOR-MAPPED-ADDRESS for IPv4 and IPv6 (§15.2), the legacy
MAPPED-ADDRESS (§15.1), SOFTWARE (§15.10), ERROR-CODE (§15.6) and FINGERPRINT
(CRC-32 XOR 0x5354554e, §15.5). Must not know: sockets, time or retransmission —
``voipkit.aio.stun`` sends these bytes and waits for answers. It is pure code
(no I/O), kept in ``aio`` because only the asyncio edge speaks STUN.

MESSAGE-INTEGRITY is carried as an opaque attribute and never checked: voipkit
only sends unauthenticated Binding requests (NAT discovery and keep-alives).
Malformed input raises ``StunError`` (a ``ValueError``) saying what is wrong.
"""

from __future__ import annotations

import ipaddress
import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

from voipkit.base.ids import IdSource, RandomIds

#: RFC 5389 §6: the fixed value in bytes 4..8 of every STUN message.
MAGIC_COOKIE = 0x2112A442
_COOKIE_BYTES = MAGIC_COOKIE.to_bytes(4, "big")
#: RFC 5389 §15.5: the CRC-32 is XORed with this ("STUN").
FINGERPRINT_XOR = 0x5354554E
HEADER_SIZE = 20
TRANSACTION_ID_SIZE = 12

#: The Binding method (RFC 5389 §18.1).
BINDING = 0x001

# Attribute types (RFC 5389 §18.2, RFC 8489 §18.3).
MAPPED_ADDRESS = 0x0001
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
UNKNOWN_ATTRIBUTES = 0x000A
REALM = 0x0014
NONCE = 0x0015
MESSAGE_INTEGRITY_SHA256 = 0x001C
PASSWORD_ALGORITHM = 0x001D
USERHASH = 0x001E
XOR_MAPPED_ADDRESS = 0x0020
PASSWORD_ALGORITHMS = 0x8002
ALTERNATE_DOMAIN = 0x8003
SOFTWARE = 0x8022
ALTERNATE_SERVER = 0x8023
FINGERPRINT = 0x8028

#: Comprehension-required attributes this module understands (RFC 5389 §15).
KNOWN_REQUIRED = frozenset({
    MAPPED_ADDRESS, USERNAME, MESSAGE_INTEGRITY, ERROR_CODE, UNKNOWN_ATTRIBUTES, REALM,
    NONCE, MESSAGE_INTEGRITY_SHA256, PASSWORD_ALGORITHM, USERHASH, XOR_MAPPED_ADDRESS,
})

_FAMILY_V4 = 0x01
_FAMILY_V6 = 0x02


class StunError(ValueError):
    """Bytes that are not a well-formed STUN message, or a bad attribute value."""


class StunClass(IntEnum):
    """The two class bits of the message type (RFC 5389 §6)."""

    REQUEST = 0b00
    INDICATION = 0b01
    SUCCESS = 0b10
    ERROR = 0b11


def message_type(method: int, cls: StunClass) -> int:
    """The 14-bit message type: method bits M0..M11 interleaved with C0, C1 (RFC 5389 §6)."""
    if not 0 <= method <= 0xFFF:
        raise StunError(f"STUN method {method:#x} does not fit in 12 bits")
    c = int(cls)
    return ((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2)
            | ((c & 0b01) << 4) | ((c & 0b10) << 7))


def split_message_type(value: int) -> tuple[int, StunClass]:
    """``(method, class)`` of a 14-bit message type."""
    method = (value & 0x000F) | ((value & 0x00E0) >> 1) | ((value & 0x3E00) >> 2)
    cls = StunClass(((value >> 4) & 0b01) | ((value >> 7) & 0b10))
    return method, cls


def fingerprint(data: bytes) -> int:
    """The FINGERPRINT value over ``data`` (RFC 5389 §15.5): CRC-32 XOR 0x5354554e."""
    return (zlib.crc32(data) & 0xFFFFFFFF) ^ FINGERPRINT_XOR


def is_stun(data: bytes) -> bool:
    """True if ``data`` looks like a STUN message (RFC 5389 §6 / RFC 5626 §5.2 demux).

    The two top bits of the first byte are zero (a SIP message starts with a
    letter, a CRLF keep-alive is shorter than a STUN header), the magic cookie is
    in place, and the length field matches the datagram and is a multiple of 4.
    """
    if len(data) < HEADER_SIZE or data[0] & 0xC0:
        return False
    if data[4:8] != _COOKIE_BYTES:
        return False
    length = (data[2] << 8) | data[3]
    return length % 4 == 0 and HEADER_SIZE + length == len(data)


def new_transaction_id(ids: IdSource | None = None) -> bytes:
    """A 96-bit transaction id from ``ids`` (``RandomIds`` by default; RFC 5389 §6)."""
    token = (ids or RandomIds()).token(TRANSACTION_ID_SIZE)
    try:
        raw = bytes.fromhex(token)
    except ValueError:
        raise StunError(f"IdSource.token(12) returned non-hex {token!r}") from None
    if len(raw) != TRANSACTION_ID_SIZE:
        raise StunError(f"IdSource.token(12) returned {len(raw)} bytes, not 12")
    return raw


@dataclass(frozen=True, slots=True)
class StunAttribute:
    """One attribute as carried: its type and its value without padding."""

    type: int
    value: bytes

    @property
    def comprehension_required(self) -> bool:
        """Types 0x0000-0x7FFF must be understood (RFC 5389 §15)."""
        return self.type < 0x8000


def _pad(n: int) -> int:
    return (4 - n % 4) % 4


def encode_address(ip: str, port: int, *, xor_with: bytes | None) -> bytes:
    """A (XOR-)MAPPED-ADDRESS value; ``xor_with`` is the transaction id for the XOR form.

    RFC 5389 §15.2: the port is XORed with the top 16 bits of the cookie, an IPv4
    address with the cookie, an IPv6 address with the cookie + transaction id.
    """
    addr = ipaddress.ip_address(ip)
    packed = addr.packed
    family = _FAMILY_V4 if addr.version == 4 else _FAMILY_V6
    if not 0 <= port <= 0xFFFF:
        raise StunError(f"port {port} is out of range")
    if xor_with is not None:
        port ^= MAGIC_COOKIE >> 16
        key = _COOKIE_BYTES + xor_with
        packed = bytes(a ^ b for a, b in zip(packed, key, strict=False))
    return struct.pack("!BBH", 0, family, port) + packed


def decode_address(value: bytes, *, xor_with: bytes | None) -> tuple[str, int]:
    """``(ip, port)`` from a (XOR-)MAPPED-ADDRESS value.

    Raises:
        StunError: unknown family or a length that does not match it.
    """
    if len(value) < 4:
        raise StunError(f"address attribute of {len(value)} bytes is too short")
    family, port = value[1], (value[2] << 8) | value[3]
    raw = value[4:]
    if family == _FAMILY_V4:
        expected = 4
    elif family == _FAMILY_V6:
        expected = 16
    else:
        raise StunError(f"address attribute has unknown family {family:#04x}")
    if len(raw) != expected:
        raise StunError(f"address attribute for family {family} has {len(raw)} address bytes")
    if xor_with is not None:
        port ^= MAGIC_COOKIE >> 16
        key = _COOKIE_BYTES + xor_with
        raw = bytes(a ^ b for a, b in zip(raw, key, strict=False))
    ip = ipaddress.IPv4Address(raw) if expected == 4 else ipaddress.IPv6Address(raw)
    return ip.compressed, port


@dataclass(frozen=True, slots=True)
class StunMessage:
    """A decoded or to-be-encoded STUN message."""

    method: int
    "The method, e.g. ``BINDING``."

    cls: StunClass
    "Request, indication, success or error response."

    transaction_id: bytes
    "The 12-byte transaction id."

    attributes: tuple[StunAttribute, ...] = ()
    "Attributes in wire order, FINGERPRINT excluded (it is checked and dropped on decode)."

    def get(self, attr_type: int) -> bytes | None:
        """The value of the first attribute of ``attr_type``, or None."""
        for attr in self.attributes:
            if attr.type == attr_type:
                return attr.value
        return None

    @property
    def xor_mapped_address(self) -> tuple[str, int] | None:
        value = self.get(XOR_MAPPED_ADDRESS)
        return None if value is None else decode_address(value, xor_with=self.transaction_id)

    @property
    def mapped_address(self) -> tuple[str, int] | None:
        """The legacy MAPPED-ADDRESS (RFC 3489 servers), not XORed."""
        value = self.get(MAPPED_ADDRESS)
        return None if value is None else decode_address(value, xor_with=None)

    @property
    def reflexive_address(self) -> tuple[str, int] | None:
        """XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS (RFC 5389 §7.3.3 / §12.2)."""
        return self.xor_mapped_address or self.mapped_address

    @property
    def software(self) -> str | None:
        value = self.get(SOFTWARE)
        return None if value is None else value.decode("utf-8", errors="replace")

    @property
    def error(self) -> tuple[int, str] | None:
        """``(code, reason)`` from ERROR-CODE (RFC 5389 §15.6), or None."""
        value = self.get(ERROR_CODE)
        if value is None:
            return None
        if len(value) < 4:
            raise StunError(f"ERROR-CODE of {len(value)} bytes is too short")
        klass, number = value[2] & 0x07, value[3]
        if not 3 <= klass <= 6 or number > 99:
            raise StunError(f"ERROR-CODE class {klass} number {number} is out of range")
        return klass * 100 + number, value[4:].decode("utf-8", errors="replace")

    def unknown_required(self) -> list[int]:
        """Comprehension-required attribute types this module does not understand."""
        return [a.type for a in self.attributes
                if a.comprehension_required and a.type not in KNOWN_REQUIRED]

    def encode(self, *, with_fingerprint: bool = True) -> bytes:
        """The wire bytes; FINGERPRINT is appended last when asked (RFC 5389 §15.5)."""
        if len(self.transaction_id) != TRANSACTION_ID_SIZE:
            raise StunError(f"transaction id must be 12 bytes, not {len(self.transaction_id)}")
        body = bytearray()
        for attr in self.attributes:
            if len(attr.value) > 0xFFFF:
                raise StunError(f"attribute {attr.type:#06x} value is too long")
            body += struct.pack("!HH", attr.type, len(attr.value))
            body += attr.value + b"\x00" * _pad(len(attr.value))
        mtype = message_type(self.method, self.cls)
        extra = 8 if with_fingerprint else 0
        header = struct.pack("!HH", mtype, len(body) + extra) + _COOKIE_BYTES
        data = header + self.transaction_id + bytes(body)
        if with_fingerprint:
            data += struct.pack("!HHI", FINGERPRINT, 4, fingerprint(data))
        return data

    def __bytes__(self) -> bytes:
        return self.encode()

    @classmethod
    def decode(cls, data: bytes) -> StunMessage:
        """Parse and check one STUN message.

        Raises:
            StunError: not STUN (top bits, cookie), a length that disagrees with the
                datagram, an attribute running past the end, an attribute after
                FINGERPRINT, or a FINGERPRINT that does not match.
        """
        if len(data) < HEADER_SIZE:
            raise StunError(f"{len(data)} bytes is shorter than the 20-byte STUN header")
        mtype, length = struct.unpack_from("!HH", data, 0)
        if mtype & 0xC000:
            raise StunError("the two top bits of a STUN message must be zero (RFC 5389 §6)")
        if data[4:8] != _COOKIE_BYTES:
            raise StunError(f"bad magic cookie {data[4:8].hex()} (RFC 5389 §6)")
        if length % 4:
            raise StunError(f"message length {length} is not a multiple of 4 (RFC 5389 §6)")
        if HEADER_SIZE + length != len(data):
            raise StunError(
                f"header says {length} bytes of attributes, datagram has {len(data) - 20}"
            )
        method, klass = split_message_type(mtype)
        tid = bytes(data[8:20])
        attrs: list[StunAttribute] = []
        offset = HEADER_SIZE
        seen_fingerprint = False
        while offset < len(data):
            if seen_fingerprint:
                raise StunError("attribute after FINGERPRINT (RFC 5389 §15.5: it comes last)")
            if offset + 4 > len(data):
                raise StunError(f"truncated attribute header at offset {offset}")
            atype, alen = struct.unpack_from("!HH", data, offset)
            start = offset + 4
            end = start + alen
            if end > len(data):
                raise StunError(f"attribute {atype:#06x} of {alen} bytes runs past the end")
            value = bytes(data[start:end])
            if atype == FINGERPRINT:
                if alen != 4:
                    raise StunError(f"FINGERPRINT of {alen} bytes (must be 4)")
                expected = fingerprint(bytes(data[:offset]))
                got = int.from_bytes(value, "big")
                if got != expected:
                    raise StunError(
                        f"FINGERPRINT mismatch: message says {got:#010x}, "
                        f"computed {expected:#010x}"
                    )
                seen_fingerprint = True
            else:
                attrs.append(StunAttribute(atype, value))
            offset = end + _pad(alen)
        if offset != len(data):
            raise StunError("the last attribute's padding runs past the end")
        return cls(method, klass, tid, tuple(attrs))


def binding_request(transaction_id: bytes, *, software: str | None = None,
                    with_fingerprint: bool = True) -> bytes:
    """A Binding request (RFC 5389 §7.1), optionally with SOFTWARE and FINGERPRINT."""
    attrs = () if software is None else (StunAttribute(SOFTWARE, software.encode()),)
    return StunMessage(BINDING, StunClass.REQUEST, transaction_id, attrs).encode(
        with_fingerprint=with_fingerprint)


def binding_response(transaction_id: bytes, mapped: tuple[str, int], *,
                     software: str | None = None, with_fingerprint: bool = True) -> bytes:
    """A Binding success response carrying XOR-MAPPED-ADDRESS = ``mapped`` (RFC 5389 §7.3.1)."""
    attrs = [StunAttribute(XOR_MAPPED_ADDRESS,
                           encode_address(*mapped, xor_with=transaction_id))]
    if software is not None:
        attrs.insert(0, StunAttribute(SOFTWARE, software.encode()))
    return StunMessage(BINDING, StunClass.SUCCESS, transaction_id, tuple(attrs)).encode(
        with_fingerprint=with_fingerprint)


def error_response(transaction_id: bytes, code: int, reason: str, *,
                   method: int = BINDING) -> bytes:
    """An error response with ERROR-CODE ``code`` (300..699) and ``reason`` (RFC 5389 §15.6)."""
    if not 300 <= code <= 699:
        raise StunError(f"STUN error code {code} is out of range 300-699")
    value = struct.pack("!HBB", 0, code // 100, code % 100) + reason.encode()
    return StunMessage(method, StunClass.ERROR, transaction_id,
                       (StunAttribute(ERROR_CODE, value),)).encode()


__all__ = [
    "BINDING",
    "ERROR_CODE",
    "FINGERPRINT",
    "MAGIC_COOKIE",
    "MAPPED_ADDRESS",
    "SOFTWARE",
    "XOR_MAPPED_ADDRESS",
    "StunAttribute",
    "StunClass",
    "StunError",
    "StunMessage",
    "binding_request",
    "binding_response",
    "decode_address",
    "encode_address",
    "error_response",
    "fingerprint",
    "is_stun",
    "message_type",
    "new_transaction_id",
    "split_message_type",
]
