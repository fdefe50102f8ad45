"""SIP requests and responses: parsing from bytes, the routing header values, serializing.

Knows: RFC 3261 §7 message syntax (start lines, header folding, compact forms, lists,
Content-Length framing of §18.3) and the grammar of the header fields the core routes on:
Via, From, To, Call-ID, CSeq, Max-Forwards, Contact, Route, Record-Route, Content-Length,
Content-Type and Expires. These are parsed when the message is parsed, so reading them later
never raises (the lesson of reSIProcate's LazyParser). Every other header is kept verbatim in
``Message.headers``. Must not know: transactions, dialogs, SDP (the body is opaque bytes),
sockets or time.

``bytes(msg)`` writes the routing headers from their current values, one line per value and
with their canonical names, at the place where each first appeared; other headers keep their
spelling, value and order; Content-Length is always recomputed from the body.

This module is also compiled with mypyc (setup.py; docs/performance.md "SIP parse"): messages
are built through ``Request``/``Response.__init__`` only, never ``__new__`` plus stores.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from voipkit.sip import grammar
from voipkit.sip.errors import ParseError
from voipkit.sip.headers import HEADER_SPECS, NAME_KEYS, CSeq, Headers, NameAddr, Via, split_list
from voipkit.sip.status import reason_phrase
from voipkit.sip.uri import SipUri, Uri, parse_uri

__all__ = [
    "DEFAULT_MAX_SIZE",
    "CSeq",
    "Message",
    "NameAddr",
    "Request",
    "Response",
    "Via",
    "parse_message",
]

#: RFC 3261 §18.1.1 / UDP: a datagram cannot exceed 65,535 octets.
DEFAULT_MAX_SIZE: Final = 65535
#: RFC 3261 §20.19, §25.1: delta-seconds values fit in 32 bits.
MAX_DELTA_SECONDS: Final = 2**32 - 1

_CALL_ID = grammar.CALL_ID.fullmatch
_DIGITS = grammar.DIGITS.fullmatch
_HEADER_NAME = grammar.HEADER_NAME.fullmatch
_METHOD = grammar.METHOD.fullmatch
_MEDIA_TYPE = grammar.MEDIA_TYPE.fullmatch
_CANONICAL_NAMES: Final = {key: spec.name for key, spec in HEADER_SPECS.items()}


#: Routing header keys in the order a newly built message writes them.
_CANONICAL_ORDER: Final = ("via", "max-forwards", "from", "to", "call-id", "cseq", "route",
                           "record-route", "contact", "expires", "content-type")
_ROUTING_KEYS: Final = frozenset((*_CANONICAL_ORDER, "content-length"))
#: Header names exactly as they are usually written (canonical, lower-case, compact in both
#: cases) -> key, so the common line needs no ``lower()``.
_WIRE_KEYS: Final = {
    **{spec.name: key for key, spec in HEADER_SPECS.items()},
    **{key: key for key in HEADER_SPECS},
    **{name.upper(): key for name, key in NAME_KEYS.items() if len(name) == 1},
    **{name: key for name, key in NAME_KEYS.items() if len(name) == 1},
}


class Message:
    """What requests and responses share: the routing headers, other headers and a body.

    All attributes are plain and settable; ``bytes(msg)`` reflects their current values.
    """

    __slots__ = ("_layout", "body", "call_id", "contact", "contact_star", "content_type",
                 "cseq", "expires", "from_", "headers", "max_forwards", "record_route",
                 "route", "to", "via")

    headers: Headers
    body: bytes
    via: list[Via]
    from_: NameAddr
    to: NameAddr
    call_id: str
    cseq: CSeq
    max_forwards: int | None
    contact: list[NameAddr]
    contact_star: bool
    route: list[NameAddr]
    record_route: list[NameAddr]
    content_type: str | None
    expires: int | None
    _layout: tuple[str | None, ...]

    def _init_common(self, via: Iterable[Via] | None, from_: NameAddr, to: NameAddr,
                     call_id: str, cseq: CSeq, max_forwards: int | None,
                     contact: Iterable[NameAddr] | None, contact_star: bool,
                     route: Iterable[NameAddr] | None, record_route: Iterable[NameAddr] | None,
                     headers: Headers | None, body: bytes, content_type: str | None,
                     expires: int | None) -> None:
        self.via = list(via or ())
        self.from_ = from_
        self.to = to
        self.call_id = call_id
        self.cseq = cseq
        self.max_forwards = max_forwards
        self.contact = list(contact or ())
        self.contact_star = contact_star
        self.route = list(route or ())
        self.record_route = list(record_route or ())
        self.headers = headers if headers is not None else Headers()
        self.body = body
        self.content_type = content_type
        self.expires = expires
        self._layout = _CANONICAL_ORDER

    def _start_line(self) -> str:
        raise TypeError("Message is abstract; use Request or Response")

    def _emit(self, key: str, lines: list[str]) -> None:
        if key == "via":
            lines.extend(["Via: " + str(v) for v in self.via])
        elif key == "from":
            lines.append("From: " + str(self.from_))
        elif key == "to":
            lines.append("To: " + str(self.to))
        elif key == "call-id":
            lines.append("Call-ID: " + self.call_id)
        elif key == "cseq":
            lines.append(f"CSeq: {self.cseq.seq} {self.cseq.method}")
        elif key == "max-forwards":
            if self.max_forwards is not None:
                lines.append(f"Max-Forwards: {self.max_forwards}")
        elif key == "contact":
            if self.contact_star:
                lines.append("Contact: *")
            lines.extend(["Contact: " + str(c) for c in self.contact])
        elif key == "route":
            lines.extend(["Route: " + str(r) for r in self.route])
        elif key == "record-route":
            lines.extend(["Record-Route: " + str(r) for r in self.record_route])
        elif key == "content-type":
            if self.content_type is not None:
                lines.append("Content-Type: " + self.content_type)
        elif key == "expires":
            if self.expires is not None:
                lines.append(f"Expires: {self.expires}")
        elif key == "content-length":
            lines.append(f"Content-Length: {len(self.body)}")

    def __bytes__(self) -> bytes:
        # The layout lists, per header line read (or in canonical order for a built message),
        # the routing key, or None for the next entry of ``headers``. Each routing header is
        # written once, at the place of its first line; values reuse their cached text.
        lines = [self._start_line()]
        append = lines.append
        entries = self.headers._entries
        n_entries = len(entries)
        emitted: set[str] = set()
        i = 0
        for key in self._layout:
            if key is None:
                if i < n_entries:
                    entry = entries[i]
                    append(f"{entry[1]}: {entry[2]}")
                    i += 1
            elif key not in emitted:
                emitted.add(key)
                if key == "via":
                    for v in self.via:
                        append("Via: " + str(v))
                elif key == "from":
                    append("From: " + str(self.from_))
                elif key == "to":
                    append("To: " + str(self.to))
                elif key == "call-id":
                    append("Call-ID: " + self.call_id)
                else:
                    self._emit(key, lines)
        if len(emitted) < 12:
            for key in _CANONICAL_ORDER:
                if key not in emitted:
                    self._emit(key, lines)
        for entry in entries[i:]:
            append(f"{entry[1]}: {entry[2]}")
        if "content-length" not in emitted:
            append(f"Content-Length: {len(self.body)}")
        append("\r\n")
        return "\r\n".join(lines).encode() + self.body

    def _share_fields(self, new: Message) -> None:
        """Make ``new`` a shallow copy of this message (``copy.copy``): same field objects."""
        new.via = self.via
        new.from_ = self.from_
        new.to = self.to
        new.call_id = self.call_id
        new.cseq = self.cseq
        new.max_forwards = self.max_forwards
        new.contact = self.contact
        new.contact_star = self.contact_star
        new.route = self.route
        new.record_route = self.record_route
        new.headers = self.headers
        new.body = self.body
        new.content_type = self.content_type
        new.expires = self.expires
        new._layout = self._layout

    def _fields(self) -> tuple[object, ...]:
        return (self.via, self.from_, self.to, self.call_id, self.cseq, self.max_forwards,
                self.contact, self.contact_star, self.route, self.record_route,
                self.content_type, self.expires, self.headers, self.body)

    __hash__ = None  # type: ignore[assignment]


class Request(Message):
    """A SIP request (RFC 3261 §7.1)."""

    __slots__ = ("method", "uri")

    method: str
    uri: Uri

    def __init__(self, method: str, uri: Uri, *, via: Iterable[Via] | None = None,
                 from_: NameAddr, to: NameAddr, call_id: str, cseq: CSeq,
                 max_forwards: int | None = 70, contact: Iterable[NameAddr] | None = None,
                 contact_star: bool = False, route: Iterable[NameAddr] | None = None,
                 record_route: Iterable[NameAddr] | None = None, headers: Headers | None = None,
                 body: bytes = b"", content_type: str | None = None,
                 expires: int | None = None) -> None:
        self.method = method
        self.uri = uri
        self._init_common(via, from_, to, call_id, cseq, max_forwards, contact, contact_star,
                          route, record_route, headers, body, content_type, expires)

    def _start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"

    def __copy__(self) -> Request:
        # copy.copy's default (``__new__`` plus ``__dict__``/slot copying) cannot build a
        # mypyc native instance, so messages copy themselves through ``__init__``.
        new = Request(self.method, self.uri, from_=self.from_, to=self.to,
                      call_id=self.call_id, cseq=self.cseq)
        self._share_fields(new)
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return (self.method == other.method and self.uri == other.uri
                and self._fields() == other._fields())

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri} call_id={self.call_id!r} cseq={self.cseq}>"


#: Requests whose 101-299 responses establish a dialog (RFC 3261 §12.1, RFC 6665, RFC 3515).
DIALOG_CREATING_METHODS: Final = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})


class Response(Message):
    """A SIP response (RFC 3261 §7.2)."""

    __slots__ = ("reason", "status")

    status: int
    reason: str

    def __init__(self, status: int, reason: str | None = None, *,
                 via: Iterable[Via] | None = None, from_: NameAddr, to: NameAddr,
                 call_id: str, cseq: CSeq, max_forwards: int | None = None,
                 contact: Iterable[NameAddr] | None = None, contact_star: bool = False,
                 route: Iterable[NameAddr] | None = None,
                 record_route: Iterable[NameAddr] | None = None, headers: Headers | None = None,
                 body: bytes = b"", content_type: str | None = None,
                 expires: int | None = None) -> None:
        self.status = status
        self.reason = reason_phrase(status) if reason is None else reason
        self._init_common(via, from_, to, call_id, cseq, max_forwards, contact, contact_star,
                          route, record_route, headers, body, content_type, expires)

    @classmethod
    def for_request(cls, request: Request, status: int, reason: str | None = None, *,
                    to_tag: str | None = None) -> Response:
        """A response to ``request`` with the headers RFC 3261 §8.2.6.2 says to copy.

        Via, From, Call-ID and CSeq are copied; To is copied and gets ``to_tag`` when it has
        no tag yet. Record-Route is copied for 101-299 responses to dialog-creating requests
        (§12.1.1). Values are copies, so changing the response never changes the request.
        """
        to = request.to.copy()
        if to_tag is not None and to.tag is None:
            to.tag = to_tag
        record_route: list[NameAddr] = []
        if 101 <= status <= 299 and request.method in DIALOG_CREATING_METHODS:
            record_route = [r.copy() for r in request.record_route]
        return cls(status, reason, via=[v.copy() for v in request.via],
                   from_=request.from_.copy(), to=to, call_id=request.call_id,
                   cseq=CSeq(request.cseq.seq, request.cseq.method), record_route=record_route)

    def _start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"

    def __copy__(self) -> Response:
        new = Response(self.status, self.reason, from_=self.from_, to=self.to,
                       call_id=self.call_id, cseq=self.cseq)
        self._share_fields(new)
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (self.status == other.status and self.reason == other.reason
                and self._fields() == other._fields())

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason!r} call_id={self.call_id!r} cseq={self.cseq}>"


def _bad_version(version: str) -> ParseError:
    if grammar.SIP_VERSION.fullmatch(version):
        return ParseError(f"SIP version {version} is not supported", status_hint=505)
    return ParseError(f"malformed SIP-Version {version!r} (RFC 3261 §7.1)")


def _delta_seconds(value: str, name: str, limit: int) -> int:
    if _DIGITS(value) is None or len(value) > 20:
        raise ParseError(f"{name} {value!r} is not a number in 0-{limit}")
    number = int(value)
    if number > limit:
        raise ParseError(f"{name} {value} exceeds {limit}")
    return number


def parse_message(data: bytes, *, stream: bool = False,
                  max_size: int = DEFAULT_MAX_SIZE) -> Request | Response:
    """Parse one SIP message.

    Args:
        data: the message. For a datagram (``stream=False``), octets beyond Content-Length
            are discarded and a missing Content-Length means "the rest of the datagram"
            (RFC 3261 §18.3). For a message cut from a stream (``stream=True``),
            Content-Length is mandatory and must match the body exactly.
        max_size: larger input raises ParseError(513) (RFC 3261 §18.1.1).

    Returns:
        A Request or Response whose routing headers are already parsed.

    Raises:
        ParseError: never anything else. 400 for bad syntax, missing or repeated mandatory
            headers (RFC 3261 §8.1.1: Via, From, To, Call-ID, CSeq) and bad Content-Length;
            505 for a SIP version other than 2.0; 513 when larger than ``max_size``.
    """
    if len(data) > max_size:
        raise ParseError(f"message is {len(data)} octets, more than {max_size}", status_hint=513)
    if data[:2] == b"\r\n":
        data = data.lstrip(b"\r\n")  # RFC 3261 §7.5: ignore CRLF before the start line
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise ParseError("header section is not terminated by an empty line (RFC 3261 §7)")
    try:
        text = data[:end].decode()
    except UnicodeDecodeError as exc:
        raise ParseError(f"header section is not UTF-8 (octet {exc.start})") from None
    if "\r\n " in text or "\r\n\t" in text:
        text = grammar.FOLD.sub(" ", text)
    lines = text.split("\r\n")
    if text.count("\r") >= len(lines) or text.count("\n") >= len(lines):
        raise ParseError("bare CR or LF in the header section (RFC 3261 §7: lines end in CRLF)")

    start = lines[0]
    if start[:4].upper() == "SIP/":
        parts = start.split(" ", 2)
        if parts[0] != "SIP/2.0" and parts[0].upper() != "SIP/2.0":
            raise _bad_version(parts[0])
        if len(parts) < 2 or grammar.STATUS_CODE.fullmatch(parts[1]) is None:
            code = parts[1] if len(parts) > 1 else ""
            raise ParseError(f"status code {code[:20]!r} is not three digits 100-699 (§7.2)")
        status = int(parts[1])
        reason = parts[2] if len(parts) == 3 else ""
        method = ""
        uri: Uri | None = None
    else:
        parts = start.split(" ")
        if len(parts) != 3:
            raise ParseError(f"request line {start[:80]!r} is not Method SP Request-URI SP "
                             "SIP-Version (RFC 3261 §7.1)")
        method, uri_text, version = parts
        if version != "SIP/2.0" and version.upper() != "SIP/2.0":
            raise _bad_version(version)
        if _METHOD(method) is None:
            raise ParseError(f"method {method[:40]!r} is not a token (RFC 3261 §25.1)")
        uri = parse_uri(uri_text)
        if isinstance(uri, SipUri) and uri.has_headers:
            raise ParseError("a SIP Request-URI must not contain headers (RFC 3261 §19.1.1)")
        status = 0
        reason = ""

    via: list[Via] = []
    from_: NameAddr | None = None
    to: NameAddr | None = None
    call_id: str | None = None
    cseq: CSeq | None = None
    max_forwards: int | None = None
    contact: list[NameAddr] = []
    contact_star = False
    route: list[NameAddr] = []
    record_route: list[NameAddr] = []
    content_type: str | None = None
    expires: int | None = None
    content_length: int | None = None
    headers = Headers()
    entries = headers._entries
    layout: list[str | None] = []
    name_keys = NAME_KEYS
    routing = _ROUTING_KEYS

    wire_keys = _WIRE_KEYS
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        key = wire_keys.get(name)
        if key is None:
            if not colon:
                raise ParseError(f"header line {line[:60]!r} has no colon (RFC 3261 §7.3)")
            name = name.rstrip(" \t")
            lname = name.lower()
            key = name_keys.get(lname)
            if key is None:
                if _HEADER_NAME(name) is None:
                    raise ParseError(f"header name {name[:40]!r} is not a token (RFC 3261 §7.3)")
                entries.append((lname, name, value.strip(" \t")))
                layout.append(None)
                continue
        value = value.strip(" \t")
        if key not in routing:
            entries.append((key, _CANONICAL_NAMES[key], value))
            layout.append(None)
            continue
        layout.append(key)
        if key == "via":
            if "," in value:
                via.extend([Via.parse(item) for item in split_list(value)])
            else:
                via.append(Via.parse(value))
        elif key == "from":
            if from_ is not None:
                raise ParseError("more than one From header field (RFC 3261 §20.20)")
            from_ = NameAddr.parse(value)
        elif key == "to":
            if to is not None:
                raise ParseError("more than one To header field (RFC 3261 §20.39)")
            to = NameAddr.parse(value)
        elif key == "call-id":
            if call_id is not None:
                raise ParseError("more than one Call-ID header field (RFC 3261 §20.8)")
            if _CALL_ID(value) is None:
                raise ParseError(f"malformed Call-ID {value[:60]!r} (RFC 3261 §20.8)")
            call_id = value
        elif key == "cseq":
            if cseq is not None:
                raise ParseError("more than one CSeq header field (RFC 3261 §20.16)")
            cseq = CSeq.parse(value)
        elif key == "contact":
            if value == "*":
                if contact_star:
                    raise ParseError("Contact '*' appears more than once (RFC 3261 §10.2.2)")
                contact_star = True
            else:
                contact.extend([NameAddr.parse(item) for item in split_list(value)])
        elif key == "max-forwards":
            if max_forwards is not None:
                raise ParseError("more than one Max-Forwards header field (RFC 3261 §20.22)")
            max_forwards = _delta_seconds(value, "Max-Forwards", 255)
        elif key == "content-length":
            if content_length is not None:
                raise ParseError("more than one Content-Length header field (RFC 3261 §20.14)")
            content_length = _delta_seconds(value, "Content-Length", MAX_DELTA_SECONDS)
        elif key == "content-type":
            if content_type is not None:
                raise ParseError("more than one Content-Type header field (RFC 3261 §20.15)")
            if _MEDIA_TYPE(value) is None:
                raise ParseError(f"malformed Content-Type {value[:60]!r} (RFC 3261 §20.15)")
            content_type = value
        elif key == "route" or key == "record-route":
            texts = split_list(value)
            for item in texts:
                if "<" not in item:
                    raise ParseError(f"{key} value {item[:60]!r} is not a name-addr "
                                     "(RFC 3261 §20.30, §20.34)")
            (route if key == "route" else record_route).extend(
                [NameAddr.parse(item) for item in texts])
        else:  # expires
            if expires is not None:
                raise ParseError("more than one Expires header field (RFC 3261 §20.19)")
            expires = _delta_seconds(value, "Expires", MAX_DELTA_SECONDS)

    if not via:
        raise ParseError("missing mandatory Via header field (RFC 3261 §8.1.1)")
    if from_ is None:
        raise ParseError("missing mandatory From header field (RFC 3261 §8.1.1)")
    if to is None:
        raise ParseError("missing mandatory To header field (RFC 3261 §8.1.1)")
    if call_id is None:
        raise ParseError("missing mandatory Call-ID header field (RFC 3261 §8.1.1)")
    if cseq is None:
        raise ParseError("missing mandatory CSeq header field (RFC 3261 §8.1.1)")
    if contact_star and contact:
        raise ParseError("Contact '*' mixed with other Contact values (RFC 3261 §10.2.2)")
    if uri is not None and cseq.method != method:
        raise ParseError(f"CSeq method {cseq.method} does not match request method "
                         f"{method} (RFC 3261 §8.1.1.5)")

    body = data[end + 4:]
    if content_length is None:
        if stream:
            raise ParseError("Content-Length is mandatory on stream transports (RFC 3261 §18.3)")
    elif content_length != len(body):
        if content_length > len(body):
            raise ParseError(f"Content-Length {content_length} exceeds the {len(body)} octets "
                             "of body received (RFC 3261 §18.3)")
        if stream:
            raise ParseError(f"Content-Length {content_length} leaves {len(body) - content_length}"
                             " unframed octets in a stream message")
        body = body[:content_length]  # RFC 3261 §18.3: extra datagram octets are discarded

    msg: Request | Response
    if uri is None:
        msg = Response(status, reason, via=via, from_=from_, to=to, call_id=call_id, cseq=cseq,
                       max_forwards=max_forwards, contact=contact, contact_star=contact_star,
                       route=route, record_route=record_route, headers=headers, body=body,
                       content_type=content_type, expires=expires)
    else:
        msg = Request(method, uri, via=via, from_=from_, to=to, call_id=call_id, cseq=cseq,
                      max_forwards=max_forwards, contact=contact, contact_star=contact_star,
                      route=route, record_route=record_route, headers=headers, body=body,
                      content_type=content_type, expires=expires)
    msg._layout = tuple(layout)
    return msg

