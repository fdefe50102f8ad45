"""The SDP data model (RFC 8866, which obsoletes RFC 4566) and its canonical text form.

Knows: the fields of a session description, the order RFC 8866 §5 writes them in, and
how to read the attributes a VoIP stack relies on: rtpmap/fmtp (§6.6, §6.15), ptime and
maxptime (§6.4, §6.5), the direction attributes (§6.7), rtcp (RFC 3605), rtcp-mux
(RFC 5761), crypto (RFC 4568 SDES), ssrc (RFC 5576), mid (RFC 5888) and label (RFC 4574),
plus the static payload types of RFC 3551 table 4/5.
Must not know: SIP, RTP packets, codecs beyond their SDP names, sockets or the clock.
Parsing text lives in ``voipkit.sdp.parse``; offer/answer in ``voipkit.sdp.negotiate``.

Every class is a plain dataclass, so two descriptions compare equal when they say the same
thing; ``str(sd)`` writes CRLF lines in RFC order, and unknown attributes are kept in
their original order and written back verbatim.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from voipkit.sdp.errors import NegotiationError as NegotiationError  # re-exported
from voipkit.sdp.errors import SdpError as SdpError  # re-exported


def _digits(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts "²", which ``int`` refuses)."""
    return text.isascii() and text.isdigit()


class Direction(Enum):
    """RFC 8866 §6.7 media direction attributes (RFC 3264 §5.1 from the sender's side)."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    @classmethod
    def from_flags(cls, *, send: bool, recv: bool) -> Direction:
        if send and recv:
            return cls.SENDRECV
        if send:
            return cls.SENDONLY
        if recv:
            return cls.RECVONLY
        return cls.INACTIVE

    def reversed(self) -> Direction:
        """The direction seen from the other end: sendonly <-> recvonly."""
        return Direction.from_flags(send=self.receives, recv=self.sends)

    def intersect(self, other: Direction) -> Direction:
        """Send only if both allow sending, receive only if both allow receiving."""
        return Direction.from_flags(send=self.sends and other.sends,
                                    recv=self.receives and other.receives)


DIRECTION_NAMES = frozenset(d.value for d in Direction)


@dataclass(frozen=True, slots=True)
class Origin:
    """The o= line (RFC 8866 §5.2): ``<username> <sess-id> <sess-version> <nettype>
    <addrtype> <unicast-address>``."""

    username: str
    sess_id: int
    sess_version: int
    nettype: str
    addrtype: str
    address: str

    def __str__(self) -> str:
        return (f"{self.username} {self.sess_id} {self.sess_version} "
                f"{self.nettype} {self.addrtype} {self.address}")


def address_type(address: str) -> str:
    """IP6 for an IPv6 literal, else IP4 (RFC 8866 §5.7: FQDNs are written as IP4)."""
    return "IP6" if ":" in address else "IP4"


@dataclass(frozen=True, slots=True)
class Connection:
    """The c= line (RFC 8866 §5.7). ``address`` keeps any multicast ``/ttl/count`` suffix."""

    nettype: str
    addrtype: str
    address: str

    @classmethod
    def for_address(cls, address: str) -> Connection:
        return cls("IN", address_type(address), address)

    @property
    def is_null(self) -> bool:
        """RFC 3264 §8.4 (RFC 2543 hold): c=IN IP4 0.0.0.0 means "do not send to me"."""
        return self.addrtype == "IP4" and self.address == "0.0.0.0"

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """A b= line (RFC 8866 §5.8; AS/CT there, RR/RS in RFC 3556, TIAS in RFC 3890)."""

    bwtype: str
    bandwidth: int

    def __str__(self) -> str:
        return f"{self.bwtype}:{self.bandwidth}"


@dataclass(frozen=True, slots=True)
class Timing:
    """A t= line and the r= lines that follow it (RFC 8866 §5.9, §5.10); r= kept verbatim."""

    start: int = 0
    stop: int = 0
    repeats: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Attribute:
    """An a= line: ``a=<name>`` (value None) or ``a=<name>:<value>`` (RFC 8866 §5.13)."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class RtpMap:
    """An RTP payload format: ``a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]``."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int = 1

    @property
    def value(self) -> str:
        """The rtpmap attribute value; channels are written only when not 1."""
        tail = f"/{self.channels}" if self.channels != 1 else ""
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{tail}"

    def same_codec(self, encoding: str, clock_rate: int, channels: int = 1) -> bool:
        """Encoding names compare case-insensitively (RFC 4855 §3)."""
        return (self.encoding.lower() == encoding.lower() and self.clock_rate == clock_rate
                and self.channels == channels)


#: RFC 3551 tables 4 and 5: payload types with a static meaning, usable without rtpmap.
STATIC_PAYLOAD_TYPES: dict[int, RtpMap] = {
    pt: RtpMap(pt, name, rate, channels)
    for pt, name, rate, channels in [
        (0, "PCMU", 8000, 1), (3, "GSM", 8000, 1), (4, "G723", 8000, 1),
        (5, "DVI4", 8000, 1), (6, "DVI4", 16000, 1), (7, "LPC", 8000, 1),
        (8, "PCMA", 8000, 1), (9, "G722", 8000, 1), (10, "L16", 44100, 2),
        (11, "L16", 44100, 1), (12, "QCELP", 8000, 1), (13, "CN", 8000, 1),
        (14, "MPA", 90000, 1), (15, "G728", 8000, 1), (16, "DVI4", 11025, 1),
        (17, "DVI4", 22050, 1), (18, "G729", 8000, 1), (25, "CelB", 90000, 1),
        (26, "JPEG", 90000, 1), (28, "nv", 90000, 1), (31, "H261", 90000, 1),
        (32, "MPV", 90000, 1), (33, "MP2T", 90000, 1), (34, "H263", 90000, 1),
    ]
}


def parse_rtpmap(value: str) -> RtpMap:
    """Parse an rtpmap attribute value such as ``96 opus/48000/2``."""
    pt_text, _, codec = value.strip().partition(" ")
    parts = codec.strip().split("/")
    if not _digits(pt_text) or int(pt_text) > 127:
        raise SdpError(f"rtpmap {value!r}: payload type must be 0-127")
    if len(parts) not in (2, 3) or not parts[0] or not _digits(parts[1]):
        raise SdpError(f"rtpmap {value!r}: expected <encoding>/<clock rate>[/<channels>]")
    channels = 1
    if len(parts) == 3:
        if not _digits(parts[2]) or int(parts[2]) == 0:
            raise SdpError(f"rtpmap {value!r}: channels must be a positive integer")
        channels = int(parts[2])
    return RtpMap(int(pt_text), parts[0], int(parts[1]), channels)


def parse_fmtp_params(text: str) -> dict[str, str]:
    """Split fmtp parameters ``a=b;c=d`` into a dict; a bare token (``0-16``) maps to ""."""
    params: dict[str, str] = {}
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        params[key.strip()] = val.strip() if sep else ""
    return params


def format_fmtp_params(params: dict[str, str]) -> str:
    """The inverse of :func:`parse_fmtp_params` (``;``-separated, bare tokens bare)."""
    return ";".join(k if v == "" else f"{k}={v}" for k, v in params.items())


class Rtcp(NamedTuple):
    """RFC 3605 ``a=rtcp:<port> [IN <addrtype> <address>]``."""

    port: int
    address: str | None


class Ssrc(NamedTuple):
    """RFC 5576 ``a=ssrc:<ssrc-id> <attribute>[:<value>]``."""

    ssrc: int
    attribute: str
    value: str | None


#: RFC 4568 §6.2 and RFC 6188/7714: master key + salt lengths (bytes) per crypto suite.
SRTP_KEY_SALT_LENGTHS: dict[str, int] = {
    "AES_CM_128_HMAC_SHA1_80": 30,
    "AES_CM_128_HMAC_SHA1_32": 30,
    "AES_192_CM_HMAC_SHA1_80": 38,
    "AES_192_CM_HMAC_SHA1_32": 38,
    "AES_256_CM_HMAC_SHA1_80": 46,
    "AES_256_CM_HMAC_SHA1_32": 46,
    "AEAD_AES_128_GCM": 28,
    "AEAD_AES_256_GCM": 44,
}


@dataclass(frozen=True, slots=True)
class KeyParam:
    """One RFC 4568 §9.2 key-param: ``inline:<key||salt base64>[|<lifetime>][|<MKI>:<len>]``.

    ``lifetime`` and ``mki`` keep their text (``2^20``, ``1:4``) so that they round-trip.
    """

    key_salt: str
    lifetime: str | None = None
    mki: str | None = None
    method: str = "inline"

    @property
    def key_salt_bytes(self) -> bytes:
        try:
            return base64.b64decode(self.key_salt, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SdpError(f"crypto key {self.key_salt!r} is not valid base64") from exc

    @property
    def lifetime_packets(self) -> int | None:
        """The lifetime as a number of packets (``2^31`` -> 2147483648)."""
        if self.lifetime is None:
            return None
        base, caret, exp = self.lifetime.partition("^")
        if caret:
            return int(int(base) ** int(exp))
        return int(self.lifetime)

    @property
    def mki_value(self) -> tuple[int, int] | None:
        """(MKI value, MKI length in bytes), or None."""
        if self.mki is None:
            return None
        value, _, length = self.mki.partition(":")
        return int(value), int(length)

    def __str__(self) -> str:
        text = f"{self.method}:{self.key_salt}"
        if self.lifetime is not None:
            text += f"|{self.lifetime}"
        if self.mki is not None:
            text += f"|{self.mki}"
        return text


def _is_lifetime(text: str) -> bool:
    base, caret, exp = text.partition("^")
    return (_digits(base) and _digits(exp) and len(exp) <= 2) if caret else _digits(text)


def _is_mki(text: str) -> bool:
    value, colon, length = text.partition(":")
    return bool(colon) and _digits(value) and _digits(length) and 1 <= int(length) <= 128


def parse_key_param(text: str) -> KeyParam:
    method, colon, info = text.partition(":")
    if not colon or method != "inline":
        raise SdpError(f"crypto key-params {text!r}: only the inline method is defined")
    parts = info.split("|")
    key_salt = parts[0]
    if not key_salt:
        raise SdpError(f"crypto key-params {text!r}: empty key")
    lifetime: str | None = None
    mki: str | None = None
    rest = parts[1:]
    if len(rest) > 2:
        raise SdpError(f"crypto key-params {text!r}: too many '|' fields")
    for item in rest:
        if _is_mki(item) and mki is None:
            mki = item
        elif _is_lifetime(item) and lifetime is None and mki is None:
            lifetime = item
        else:
            raise SdpError(f"crypto key-params {text!r}: bad lifetime or MKI {item!r}")
    return KeyParam(key_salt, lifetime, mki, method)


@dataclass(frozen=True, slots=True)
class Crypto:
    """RFC 4568 §9.1 ``a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]``."""

    tag: int
    suite: str
    key_params: tuple[KeyParam, ...]
    session_params: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> Crypto:
        fields = value.split()
        if len(fields) < 3:
            raise SdpError(f"crypto {value!r}: expected <tag> <suite> <key-params>")
        tag, suite, keys = fields[0], fields[1], fields[2]
        if not _digits(tag) or len(tag) > 9:
            raise SdpError(f"crypto {value!r}: tag must be 1-9 digits")
        key_params = tuple(parse_key_param(k) for k in keys.split(";"))
        return cls(int(tag), suite, key_params, tuple(fields[3:]))

    @classmethod
    def inline(cls, tag: int, suite: str, key_salt: bytes) -> Crypto:
        """A crypto line with one inline key (the usual SDES form)."""
        return cls(tag, suite, (KeyParam(base64.b64encode(key_salt).decode("ascii")),))

    @property
    def key_salt(self) -> bytes:
        """The first key's master key || master salt."""
        return self.key_params[0].key_salt_bytes

    @property
    def value(self) -> str:
        text = f"{self.tag} {self.suite} {';'.join(str(k) for k in self.key_params)}"
        return " ".join([text, *self.session_params])


def _ms_to_seconds(name: str, text: str) -> float:
    try:
        ms = float(text)
    except ValueError:
        raise SdpError(f"a={name}:{text}: not a number of milliseconds") from None
    if not ms > 0:
        raise SdpError(f"a={name}:{text}: must be positive")
    return ms / 1000


def seconds_to_ms_text(seconds: float) -> str:
    """0.02 -> "20"; 0.0225 -> "22.5" (a=ptime carries milliseconds)."""
    ms = seconds * 1000
    return str(round(ms)) if abs(ms - round(ms)) < 1e-9 else f"{ms:g}"


class _Attributes:
    """Attribute look-ups shared by the session and media levels."""

    attributes: list[Attribute]
    bandwidths: list[Bandwidth]

    def attribute(self, name: str) -> str | None:
        """The value of the first ``a=<name>``; None when absent or valueless."""
        for attr in self.attributes:
            if attr.name == name:
                return attr.value
        return None

    def attribute_values(self, name: str) -> list[str | None]:
        return [a.value for a in self.attributes if a.name == name]

    def has_attribute(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    def bandwidth(self, bwtype: str) -> int | None:
        """b=<bwtype> (AS and CT in kbit/s, RR/RS in bit/s, TIAS in bit/s)."""
        for bw in self.bandwidths:
            if bw.bwtype.upper() == bwtype.upper():
                return bw.bandwidth
        return None

    @property
    def direction_attribute(self) -> Direction | None:
        """The direction written at this level, if any."""
        for attr in self.attributes:
            if attr.value is None and attr.name in DIRECTION_NAMES:
                return Direction(attr.name)
        return None

    @property
    def direction(self) -> Direction:
        """This level's direction; sendrecv when none is written (RFC 8866 §6.7.4)."""
        return self.direction_attribute or Direction.SENDRECV

    def set_direction(self, direction: Direction) -> None:
        """Replace this level's direction attribute (or add one at the end)."""
        kept = [a for a in self.attributes
                if not (a.value is None and a.name in DIRECTION_NAMES)]
        index = next((i for i, a in enumerate(self.attributes)
                      if a.value is None and a.name in DIRECTION_NAMES), len(kept))
        kept.insert(index, Attribute(direction.value))
        self.attributes[:] = kept


@dataclass(kw_only=True, eq=True)
class MediaDescription(_Attributes):
    """One m= section (RFC 8866 §5.14) with its i=, c=, b=, k= and a= lines."""

    kind: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    title: str | None = None
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)

    @property
    def payload_types(self) -> list[int]:
        """The formats as RTP payload types (RTP protocols only)."""
        out: list[int] = []
        for fmt in self.formats:
            if not _digits(fmt) or int(fmt) > 127:
                raise SdpError(f"m={self.kind} {self.proto}: format {fmt!r} is not an RTP "
                               "payload type (0-127)")
            out.append(int(fmt))
        return out

    @property
    def rtpmaps(self) -> dict[int, RtpMap]:
        """Payload type -> RtpMap, in m= line order: a=rtpmap lines, else RFC 3551's
        static assignments; dynamic types without an rtpmap are left out."""
        declared: dict[int, RtpMap] = {}
        for value in self.attribute_values("rtpmap"):
            if value is None:
                raise SdpError("a=rtpmap without a value")
            rtpmap = parse_rtpmap(value)
            declared.setdefault(rtpmap.payload_type, rtpmap)
        out: dict[int, RtpMap] = {}
        for pt in self.payload_types:
            found = declared.get(pt) or STATIC_PAYLOAD_TYPES.get(pt)
            if found is not None:
                out[pt] = found
        return out

    @property
    def fmtp_text(self) -> dict[int, str]:
        """Payload type -> the raw fmtp parameter text (RFC 8866 §6.15)."""
        out: dict[int, str] = {}
        for value in self.attribute_values("fmtp"):
            if value is None:
                raise SdpError("a=fmtp without a value")
            pt, _, params = value.partition(" ")
            if not _digits(pt):
                raise SdpError(f"a=fmtp:{value}: format must be a payload type")
            out.setdefault(int(pt), params.strip())
        return out

    @property
    def fmtp(self) -> dict[int, dict[str, str]]:
        """Payload type -> fmtp parameters (``0-16`` becomes {"0-16": ""})."""
        return {pt: parse_fmtp_params(text) for pt, text in self.fmtp_text.items()}

    @property
    def ptime(self) -> float | None:
        """a=ptime in seconds (RFC 8866 §6.4)."""
        value = self.attribute("ptime")
        return None if value is None else _ms_to_seconds("ptime", value)

    @property
    def maxptime(self) -> float | None:
        """a=maxptime in seconds (RFC 8866 §6.5)."""
        value = self.attribute("maxptime")
        return None if value is None else _ms_to_seconds("maxptime", value)

    @property
    def rtcp(self) -> Rtcp | None:
        """RFC 3605 a=rtcp: the RTCP port and optional address."""
        value = self.attribute("rtcp")
        if value is None:
            return None
        fields = value.split()
        if not fields or not _digits(fields[0]) or int(fields[0]) > 65535:
            raise SdpError(f"a=rtcp:{value}: bad port")
        if len(fields) == 1:
            return Rtcp(int(fields[0]), None)
        if len(fields) != 4:
            raise SdpError(f"a=rtcp:{value}: expected <port> [IN <addrtype> <address>]")
        return Rtcp(int(fields[0]), fields[3])

    @property
    def rtcp_mux(self) -> bool:
        """RFC 5761 §5.1.1 a=rtcp-mux."""
        return self.has_attribute("rtcp-mux")

    @property
    def crypto(self) -> list[Crypto]:
        """RFC 4568 a=crypto lines, in preference order."""
        out: list[Crypto] = []
        for value in self.attribute_values("crypto"):
            if value is None:
                raise SdpError("a=crypto without a value")
            out.append(Crypto.parse(value))
        return out

    @property
    def ssrcs(self) -> list[Ssrc]:
        """RFC 5576 a=ssrc lines."""
        out: list[Ssrc] = []
        for value in self.attribute_values("ssrc"):
            ident, _, rest = (value or "").partition(" ")
            if not _digits(ident) or int(ident) >= 2**32 or not rest:
                raise SdpError(f"a=ssrc:{value}: expected <ssrc-id> <attribute>[:<value>]")
            name, colon, val = rest.partition(":")
            out.append(Ssrc(int(ident), name, val if colon else None))
        return out

    @property
    def mid(self) -> str | None:
        """RFC 5888 a=mid."""
        return self.attribute("mid")

    @property
    def label(self) -> str | None:
        """RFC 4574 a=label."""
        return self.attribute("label")

    @property
    def is_rejected(self) -> bool:
        """RFC 3264 §6: a port of zero rejects (or disables) the stream."""
        return self.port == 0

    def lines(self) -> list[str]:
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        out = [f"m={' '.join([self.kind, port, self.proto, *self.formats])}"]
        if self.title is not None:
            out.append(f"i={self.title}")
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"b={bw}" for bw in self.bandwidths]
        if self.key is not None:
            out.append(f"k={self.key}")
        out += [f"a={attr}" for attr in self.attributes]
        return out


@dataclass(kw_only=True, eq=True)
class SessionDescription(_Attributes):
    """A whole SDP body (RFC 8866 §5). ``str()`` writes it; :meth:`parse` reads it."""

    origin: Origin
    name: str = "-"
    version: int = 0
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=lambda: [Timing()])
    zone: str | None = None
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)

    @classmethod
    def parse(cls, data: str | bytes) -> SessionDescription:
        """Parse SDP text; raises SdpError with the reason and the offending line."""
        from voipkit.sdp.parse import parse_sdp

        return parse_sdp(data)

    @property
    def timing(self) -> Timing:
        return self.timings[0]

    def media_direction(self, media: MediaDescription) -> Direction:
        """The direction of ``media``: its own attribute, else the session's (§6.7)."""
        return media.direction_attribute or self.direction

    def media_connection(self, media: MediaDescription) -> Connection | None:
        """The media-level c=, else the session-level one (RFC 8866 §5.7)."""
        return media.connection or self.connection

    def lines(self) -> list[str]:
        out = [f"v={self.version}", f"o={self.origin}", f"s={self.name or ' '}"]
        if self.information is not None:
            out.append(f"i={self.information}")
        if self.uri is not None:
            out.append(f"u={self.uri}")
        out += [f"e={e}" for e in self.emails]
        out += [f"p={p}" for p in self.phones]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"b={bw}" for bw in self.bandwidths]
        for timing in self.timings:
            out.append(f"t={timing.start} {timing.stop}")
            out += [f"r={r}" for r in timing.repeats]
        if self.zone is not None:
            out.append(f"z={self.zone}")
        if self.key is not None:
            out.append(f"k={self.key}")
        out += [f"a={attr}" for attr in self.attributes]
        for media in self.media:
            out += media.lines()
        return out

    def __str__(self) -> str:
        return "".join(line + "\r\n" for line in self.lines())

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8")
