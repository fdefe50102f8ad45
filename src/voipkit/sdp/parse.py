"""Reading SDP text into the model of ``voipkit.sdp.model``.

Knows: the RFC 8866 §9 grammar of each line type and which lines are mandatory or unique.
Strict where it matters (v= first, o=/s=/t= present, well-formed o=/c=/b=/t=/m= lines,
ports 0-65535) and tolerant of what real user agents send: LF-only line ends, trailing
whitespace, blank lines, runs of spaces between fields, and session-level lines in a
non-canonical order. Unknown attributes are kept verbatim and in order.
Must not know: what the attributes mean (the model's accessors read them) or SIP.
"""

from __future__ import annotations

from voipkit.sdp.errors import SdpError
from voipkit.sdp.model import (
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
)

#: RFC 8866 §5: line types this parser understands. RFC 8866 §5 lets a parser reject a
#: description with a type letter it does not understand; we do, with the line quoted.
SESSION_TYPES = frozenset("vosiuepcbtrzka")
MEDIA_TYPES = frozenset("icbka")
UNIQUE_SESSION = frozenset("vosiuczk")
UNIQUE_MEDIA = frozenset("ick")


def _lines(data: str | bytes) -> list[tuple[int, str, str]]:
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SdpError(f"SDP is not UTF-8 (RFC 8866 §5): {exc}") from None
    else:
        text = data
    out: list[tuple[int, str, str]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r \t")
        if not line:
            continue
        if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
            raise SdpError(f"line {number}: {line!r} is not <type>=<value>")
        out.append((number, line[0], line[2:]))
    return out


def _fields(number: int, kind: str, value: str, count: int) -> list[str]:
    fields = value.split()
    if len(fields) != count:
        raise SdpError(f"line {number}: {kind}= needs {count} fields, got {value!r}")
    return fields


def _number(number: int, what: str, text: str, *, maximum: int | None = None) -> int:
    if not text.isdigit() or not text.isascii():
        raise SdpError(f"line {number}: {what} {text!r} is not a number")
    value = int(text)
    if maximum is not None and value > maximum:
        raise SdpError(f"line {number}: {what} {value} is out of range (max {maximum})")
    return value


def _origin(number: int, value: str) -> Origin:
    user, sess_id, version, nettype, addrtype, address = _fields(number, "o", value, 6)
    return Origin(user, _number(number, "o= sess-id", sess_id),
                  _number(number, "o= sess-version", version), nettype, addrtype, address)


def _connection(number: int, value: str) -> Connection:
    nettype, addrtype, address = _fields(number, "c", value, 3)
    return Connection(nettype, addrtype, address)


def _bandwidth(number: int, value: str) -> Bandwidth:
    bwtype, colon, amount = value.partition(":")
    if not colon or not bwtype or " " in bwtype:
        raise SdpError(f"line {number}: b= must be <bwtype>:<bandwidth>, got {value!r}")
    return Bandwidth(bwtype, _number(number, f"b={bwtype} bandwidth", amount.strip()))


def _attribute(value: str) -> Attribute:
    name, colon, rest = value.partition(":")
    return Attribute(name, rest if colon else None)


def _media(number: int, value: str) -> MediaDescription:
    fields = value.split()
    if len(fields) < 3:
        raise SdpError(f"line {number}: m= needs <media> <port> <proto> <fmt> ..., "
                       f"got {value!r}")
    kind, port_text, proto, *formats = fields
    port_part, slash, count_part = port_text.partition("/")
    port = _number(number, "m= port", port_part, maximum=65535)
    port_count = _number(number, "m= port count", count_part) if slash else None
    if port_count == 0:
        raise SdpError(f"line {number}: m= port count must be at least 1")
    if not formats and port != 0:
        raise SdpError(f"line {number}: m={kind} lists no formats")
    return MediaDescription(kind=kind, port=port, port_count=port_count, proto=proto,
                            formats=formats)


def parse_sdp(data: str | bytes) -> SessionDescription:
    """Parse a session description.

    Raises:
        SdpError: (status_hint 400) naming the line and what is wrong with it.
    """
    lines = _lines(data)
    if not lines or lines[0][1] != "v":
        raise SdpError("SDP must start with v= (RFC 8866 §5)")
    seen: set[str] = set()
    origin: Origin | None = None
    sd_fields: dict[str, str] = {}
    emails: list[str] = []
    phones: list[str] = []
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = []
    timings: list[Timing] = []
    attributes: list[Attribute] = []
    media: list[MediaDescription] = []
    media_seen: set[str] = set()
    version = 0
    for number, kind, value in lines:
        if media:
            current = media[-1]
            if kind == "m":
                media.append(_media(number, value))
                media_seen = set()
                continue
            if kind not in MEDIA_TYPES:
                raise SdpError(f"line {number}: {kind}= is not allowed in a media section")
            if kind in UNIQUE_MEDIA and kind in media_seen:
                raise SdpError(f"line {number}: more than one {kind}= in m={current.kind}")
            media_seen.add(kind)
            if kind == "i":
                current.title = value
            elif kind == "c":
                current.connection = _connection(number, value)
            elif kind == "b":
                current.bandwidths.append(_bandwidth(number, value))
            elif kind == "k":
                current.key = value
            else:
                current.attributes.append(_attribute(value))
            continue
        if kind == "m":
            media.append(_media(number, value))
            continue
        if kind not in SESSION_TYPES:
            raise SdpError(f"line {number}: unknown line type {kind}=")
        if kind in UNIQUE_SESSION and kind in seen:
            raise SdpError(f"line {number}: more than one {kind}= line")
        seen.add(kind)
        if kind == "v":
            if value.strip() != "0":
                raise SdpError(f"line {number}: unsupported SDP version v={value}")
        elif kind == "o":
            origin = _origin(number, value)
        elif kind in "siuzk":
            sd_fields[kind] = value
        elif kind == "e":
            emails.append(value)
        elif kind == "p":
            phones.append(value)
        elif kind == "c":
            connection = _connection(number, value)
        elif kind == "b":
            bandwidths.append(_bandwidth(number, value))
        elif kind == "t":
            start, stop = _fields(number, "t", value, 2)
            timings.append(Timing(_number(number, "t= start", start),
                                  _number(number, "t= stop", stop)))
        elif kind == "r":
            if not timings:
                raise SdpError(f"line {number}: r= must follow a t= line")
            last = timings[-1]
            timings[-1] = Timing(last.start, last.stop, (*last.repeats, value))
        else:
            attributes.append(_attribute(value))
    if origin is None:
        raise SdpError("SDP has no o= line (RFC 8866 §5.2)")
    if "s" not in sd_fields:
        raise SdpError("SDP has no s= line (RFC 8866 §5.3)")
    if not timings:
        raise SdpError("SDP has no t= line (RFC 8866 §5.9)")
    return SessionDescription(
        version=version, origin=origin, name=sd_fields["s"],
        information=sd_fields.get("i"), uri=sd_fields.get("u"), emails=emails,
        phones=phones, connection=connection, bandwidths=bandwidths, timings=timings,
        zone=sd_fields.get("z"), key=sd_fields.get("k"), attributes=attributes, media=media)
