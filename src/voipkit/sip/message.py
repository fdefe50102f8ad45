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
from typing import Final, cast

from voipkit.sip import grammar
from voipkit.sip.errors import ParseError
from voipkit.sip.headers import (
    COMMON_METHODS,
    HEADER_SPECS,
    NAME_KEYS,
    CSeq,
    Headers,
    NameAddr,
    Via,
    parse_cseq,
    split_list,
)
from voipkit.sip.status import reason_phrase
from voipkit.sip.uri import SipUri, Uri, decimal_value, parse_uri

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

_CALL_ID: Final = grammar.CALL_ID.fullmatch
_STATUS_CODE: Final = grammar.STATUS_CODE.fullmatch
_HEADER_NAME: Final = grammar.HEADER_NAME.fullmatch
_METHOD: Final = grammar.METHOD.fullmatch
_MEDIA_TYPE: Final = grammar.MEDIA_TYPE.fullmatch
_CANONICAL_NAMES: Final = {key: spec.name for key, spec in HEADER_SPECS.items()}


#: Routing header keys in the order a newly built message writes them.
_CANONICAL_ORDER: Final = ("via", "max-forwards", "from", "to", "call-id", "cseq", "route",
                           "record-route", "contact", "expires", "content-type")
#: The layout of a built message (shared, never changed).
_CANONICAL_LAYOUT: Final[list[str | None]] = list(_CANONICAL_ORDER)
_ROUTING_KEYS: Final = frozenset((*_CANONICAL_ORDER, "content-length"))
#: Canonical header names -> key: a name found here is written back as it is.
_CANONICAL_KEYS: Final = {spec.name: key for key, spec in HEADER_SPECS.items()}
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

    __slots__ = ("_layout", "_snap", "_snap_raws", "_snap_values", "_wire", "body", "call_id",
                 "contact", "contact_star", "content_type", "cseq", "expires", "from_", "headers",
                 "max_forwards", "record_route", "route", "to", "via")

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
    _layout: list[str | None]
    _wire: bytes | None
    _snap: tuple[object, ...]
    _snap_values: list[Via | NameAddr]
    _snap_raws: list[object]

    def _init_common(self, via: Iterable[Via] | None, from_: NameAddr, to: NameAddr,
                     call_id: str, cseq: CSeq, max_forwards: int | None,
                     contact: Iterable[NameAddr] | None, contact_star: bool,
                     route: Iterable[NameAddr] | None, record_route: Iterable[NameAddr] | None,
                     headers: Headers | None, body: bytes, content_type: str | None,
                     expires: int | None) -> None:
        self.via = list(via) if via is not None else []
        self.from_ = from_
        self.to = to
        self.call_id = call_id
        self.cseq = cseq
        self.max_forwards = max_forwards
        self.contact = list(contact) if contact is not None else []
        self.contact_star = contact_star
        self.route = list(route) if route is not None else []
        self.record_route = list(record_route) if record_route is not None else []
        self.headers = headers if headers is not None else Headers()
        self.body = body
        self.content_type = content_type
        self.expires = expires
        self._layout = _CANONICAL_LAYOUT
        self._wire = None
        self._snap = ()
        self._snap_values = []
        self._snap_raws = []

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

    def _start_unchanged(self) -> bool:
        return False

    def _unchanged(self) -> bool:
        """True when every field still holds what the parser put there, unchanged.

        ``_snap`` holds the field objects and scalar values as parsed; ``_snap_values`` the
        Via and NameAddr objects in order, ``_snap_raws`` their cached texts. A setter on a
        value clears that cache, reading a value's ``params`` turns it off, and the Headers
        methods bump ``_version``, so any change makes this False.
        """
        s = self._snap
        cseq = self.cseq
        headers = self.headers
        if (s[0] is not self.via or s[1] is not self.contact or s[2] is not self.route
                or s[3] is not self.record_route or s[4] is not headers or s[5] is not cseq
                or s[6] is not self.body or cast(int, s[7]) != headers._version
                or cast(int, s[8]) != cseq.seq or cast(str, s[9]) != cseq.method
                or cast(str, s[10]) != self.call_id or s[11] != self.max_forwards
                or s[12] != self.content_type or s[13] != self.expires
                or cast(bool, s[14]) != self.contact_star
                or cast(int, s[15]) != len(self.via) or cast(int, s[16]) != len(self.contact)
                or cast(int, s[17]) != len(self.route)
                or cast(int, s[18]) != len(self.record_route)
                or not self._start_unchanged()):
            return False
        values = self._snap_values
        raws = self._snap_raws
        i = 0
        for via in self.via:
            if via is not values[i] or via._raw is not raws[i]:
                return False
            i += 1
        for na in (self.from_, self.to):
            if na is not values[i] or na._raw is not raws[i] or na._uri._raw is not na._uri_raw:
                return False
            i += 1
        for group in (self.contact, self.route, self.record_route):
            for na in group:
                if na is not values[i] or na._raw is not raws[i] \
                        or na._uri._raw is not na._uri_raw:
                    return False
                i += 1
        return True

    def __bytes__(self) -> bytes:
        # A parsed message whose text was already canonical keeps its octets: when nothing
        # changed since, they are exactly what the general path below would write.
        wire = self._wire
        if wire is not None and self._unchanged():
            return wire
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
        new._wire = self._wire
        new._snap = self._snap
        new._snap_values = self._snap_values
        new._snap_raws = self._snap_raws

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

    def _start_unchanged(self) -> bool:
        s = self._snap
        uri = self.uri
        return s[19] == self.method and s[20] is uri and s[21] is uri._raw

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

    def _start_unchanged(self) -> bool:
        s = self._snap
        return s[19] == self.status and s[20] == self.reason

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
    # Up to 9 ASCII digits: read by decimal_value, much cheaper than isdecimal() and int().
    number = decimal_value(value)
    if number < 0:
        # str.isdecimal is exactly the re module's \d+ (Unicode category Nd), as int()
        # expects.
        if not value.isdecimal() or len(value) > 20:
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
    # Folded lines (RFC 3261 §7.3.1) are rare, and searching every message for them costs
    # more than the rest of the line scan. A continuation line (one starting with SP or HT)
    # never parses as a header line of its own, so the first pass runs on the text as it
    # is and, only when it fails, the text is searched for folding and parsed again.
    try:
        return _parse(data, end, text, stream, False)
    except ParseError:
        if "\r\n " not in text and "\r\n\t" not in text:
            raise
    return _parse(data, end, grammar.FOLD.sub(" ", text), stream, True)


def _parse(data: bytes, end: int, text: str, stream: bool, folded: bool) -> Request | Response:
    """The body of ``parse_message`` for the header text ``text`` (unfolded when ``folded``).

    Besides the values, it works out whether ``data`` is already exactly what ``bytes()``
    would write for the message (``wire_ok``): every line ``Name: value`` with the canonical
    name and one space, every routing value in its canonical text and on a line of its own,
    the lines of one routing header next to each other, Content-Length equal to the body.
    The message then keeps ``data`` and returns it from ``bytes()`` while it is unchanged.
    """
    lines = text.split("\r\n")
    # One memchr per line and character costs less than counting over the whole text.
    for line in lines:
        if "\r" in line or "\n" in line:
            raise ParseError("bare CR or LF in the header section (RFC 3261 §7: lines end in "
                             "CRLF)")
    wire_ok = not folded

    start = lines[0]
    if start[:4].upper() == "SIP/":
        parts = start.split(" ", 2)
        if parts[0] != "SIP/2.0":
            if parts[0].upper() != "SIP/2.0":
                raise _bad_version(parts[0])
            wire_ok = False
        if len(parts) < 2 or _STATUS_CODE(parts[1]) is None:
            code = parts[1] if len(parts) > 1 else ""
            raise ParseError(f"status code {code[:20]!r} is not three digits 100-699 (§7.2)")
        status = int(parts[1])
        if str(status) != parts[1]:
            wire_ok = False
        if len(parts) == 3:
            reason = parts[2]
        else:
            reason = ""
            wire_ok = False
        method = ""
        uri: Uri | None = None
    else:
        # find and slices: no list of parts (exactly two spaces, as split(" ") checked).
        sp1 = start.find(" ")
        sp2 = start.find(" ", sp1 + 1) if sp1 >= 0 else -1
        if sp2 < 0 or start.find(" ", sp2 + 1) >= 0:
            raise ParseError(f"request line {start[:80]!r} is not Method SP Request-URI SP "
                             "SIP-Version (RFC 3261 §7.1)")
        method = start[:sp1]
        uri_text = start[sp1 + 1:sp2]
        version = start[sp2 + 1:]
        if version != "SIP/2.0":
            if version.upper() != "SIP/2.0":
                raise _bad_version(version)
            wire_ok = False
        if method not in COMMON_METHODS and _METHOD(method) is None:
            raise ParseError(f"method {method[:40]!r} is not a token (RFC 3261 §25.1)")
        uri = parse_uri(uri_text)
        if isinstance(uri, SipUri):
            if uri.has_headers:
                raise ParseError("a SIP Request-URI must not contain headers (RFC 3261 §19.1.1)")
            if uri._raw is None:
                wire_ok = False
        else:
            wire_ok = False
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
    length_text = ""
    headers = Headers()
    entries = headers._entries
    layout: list[str | None] = []
    name_keys = NAME_KEYS
    routing = _ROUTING_KEYS
    canonical_names = _CANONICAL_NAMES
    last_key: str | None = None

    wire_keys = _WIRE_KEYS
    canonical_keys = _CANONICAL_KEYS
    cname: str | None
    for line in lines[1:]:
        colon = line.find(":")  # find and slices: cheaper than partition's tuple
        name = line[:colon] if colon >= 0 else line
        key = canonical_keys.get(name)
        if key is not None:
            cname = name
        else:
            cname = None  # a known name spelled otherwise: bytes() writes the canonical one
            key = wire_keys.get(name)
            if key is not None:
                wire_ok = False
        if key is None:
            if colon < 0:
                raise ParseError(f"header line {line[:60]!r} has no colon (RFC 3261 §7.3)")
            raw_value = line[colon + 1:]
            stripped = name.rstrip(" \t")
            lname = stripped.lower()
            key = name_keys.get(lname)
            if key is None:
                if _HEADER_NAME(stripped) is None:
                    raise ParseError(f"header name {stripped[:40]!r} is not a token "
                                     "(RFC 3261 §7.3)")
                value = raw_value.strip(" \t")
                if wire_ok and (len(stripped) != len(name) or len(raw_value) != len(value) + 1
                                or raw_value[0] != " "):
                    wire_ok = False
                entries.append((lname, stripped, value))
                layout.append(None)
                last_key = None
                continue
            wire_ok = False
        if cname is None:
            cname = canonical_names[key]
        # The line is written back as "<canonical name>: <value>". In the usual case the
        # value is what follows ": " up to a non-blank end: one slice, nothing to strip.
        last = len(line) - 1
        first = colon + 2
        if (colon >= 0 and first <= last and line[first - 1] == " " and line[first] != " "
                and line[first] != "\t" and line[last] != " " and line[last] != "\t"):
            value = line[first:]
        elif colon < 0:
            value = ""
            wire_ok = False
        else:
            raw_value = line[colon + 1:]
            value = raw_value.strip(" \t")
            if wire_ok and (len(raw_value) != len(value) + 1 or raw_value[0] != " "):
                wire_ok = False
        if key not in routing:
            entries.append((key, cname, value))
            layout.append(None)
            last_key = None
            continue
        layout.append(key)
        if key == "via":
            if via and last_key != "via":
                wire_ok = False  # bytes() writes all Via lines together
            if "," in value:
                via.extend([Via.parse(item) for item in split_list(value)])
                wire_ok = False
            else:
                top = Via.parse(value)
                if top._raw is None:
                    wire_ok = False
                via.append(top)
        elif key == "from":
            if from_ is not None:
                raise ParseError("more than one From header field (RFC 3261 §20.20)")
            from_ = NameAddr.parse(value)
            if wire_ok and from_._raw != value:
                wire_ok = False
        elif key == "to":
            if to is not None:
                raise ParseError("more than one To header field (RFC 3261 §20.39)")
            to = NameAddr.parse(value)
            if wire_ok and to._raw != value:
                wire_ok = False
        elif key == "call-id":
            if call_id is not None:
                raise ParseError("more than one Call-ID header field (RFC 3261 §20.8)")
            if _CALL_ID(value) is None:
                raise ParseError(f"malformed Call-ID {value[:60]!r} (RFC 3261 §20.8)")
            call_id = value
        elif key == "cseq":
            if cseq is not None:
                raise ParseError("more than one CSeq header field (RFC 3261 §20.16)")
            cseq, cseq_canonical = parse_cseq(value)
            if not cseq_canonical:
                wire_ok = False
        elif key == "contact":
            if (contact or contact_star) and last_key != "contact":
                wire_ok = False
            if value == "*":
                if contact_star:
                    raise ParseError("Contact '*' appears more than once (RFC 3261 §10.2.2)")
                contact_star = True
            elif "," in value:
                contact.extend([NameAddr.parse(item) for item in split_list(value)])
                wire_ok = False
            else:
                one = NameAddr.parse(value)
                if wire_ok and one._raw != value:
                    wire_ok = False
                contact.append(one)
        elif key == "max-forwards":
            if max_forwards is not None:
                raise ParseError("more than one Max-Forwards header field (RFC 3261 §20.22)")
            max_forwards = _delta_seconds(value, "Max-Forwards", 255)
            if wire_ok and value != str(max_forwards):
                wire_ok = False
        elif key == "content-length":
            if content_length is not None:
                raise ParseError("more than one Content-Length header field (RFC 3261 §20.14)")
            content_length = _delta_seconds(value, "Content-Length", MAX_DELTA_SECONDS)
            length_text = value
        elif key == "content-type":
            if content_type is not None:
                raise ParseError("more than one Content-Type header field (RFC 3261 §20.15)")
            if value != "application/sdp" and _MEDIA_TYPE(value) is None:
                raise ParseError(f"malformed Content-Type {value[:60]!r} (RFC 3261 §20.15)")
            content_type = value
        elif key == "route" or key == "record-route":
            group = route if key == "route" else record_route
            if group and last_key != key:
                wire_ok = False
            if "," in value:
                texts = split_list(value)
                wire_ok = False
            else:
                texts = [value]
            for item in texts:
                if "<" not in item:
                    raise ParseError(f"{key} value {item[:60]!r} is not a name-addr "
                                     "(RFC 3261 §20.30, §20.34)")
            for item in texts:
                one = NameAddr.parse(item)
                if wire_ok and one._raw != item:
                    wire_ok = False
                group.append(one)
        else:  # expires
            if expires is not None:
                raise ParseError("more than one Expires header field (RFC 3261 §20.19)")
            expires = _delta_seconds(value, "Expires", MAX_DELTA_SECONDS)
            if wire_ok and value != str(expires):
                wire_ok = False
        last_key = key

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
        wire_ok = False  # bytes() adds the header
    elif content_length != len(body):
        if content_length > len(body):
            raise ParseError(f"Content-Length {content_length} exceeds the {len(body)} octets "
                             "of body received (RFC 3261 §18.3)")
        if stream:
            raise ParseError(f"Content-Length {content_length} leaves {len(body) - content_length}"
                             " unframed octets in a stream message")
        body = body[:content_length]  # RFC 3261 §18.3: extra datagram octets are discarded
        data = data[:end + 4 + content_length]
    if wire_ok and length_text != str(len(body)):
        wire_ok = False

    # The lists are stored as they are afterwards (the constructor would copy them).
    # ``msg`` is typed Message so the stores below are native attribute stores under mypyc.
    result: Request | Response
    msg: Message
    if uri is None:
        response = Response(status, reason, from_=from_, to=to, call_id=call_id, cseq=cseq,
                            headers=headers)
        result = response
        msg = cast(Message, response)  # a cast: assigning would narrow msg to Response
    else:
        request = Request(method, uri, from_=from_, to=to, call_id=call_id, cseq=cseq,
                          headers=headers)
        result = request
        msg = cast(Message, request)
    msg.via = via
    msg.max_forwards = max_forwards
    msg.contact = contact
    msg.contact_star = contact_star
    msg.route = route
    msg.record_route = record_route
    msg.body = body
    msg.content_type = content_type
    msg.expires = expires
    msg._layout = layout  # never changed after this; shared by copies
    if wire_ok:
        values: list[Via | NameAddr] = [*via, from_, to, *contact, *route, *record_route]
        msg._snap_raws = [v._raw for v in values]
        msg._snap = (via, contact, route, record_route, headers, cseq, body, headers._version,
                     cseq.seq, cseq.method, call_id, max_forwards, content_type, expires,
                     contact_star, len(via), len(contact), len(route), len(record_route),
                     method if uri is not None else status,
                     uri if uri is not None else reason,
                     uri._raw if uri is not None else None)
        msg._snap_values = values
        msg._wire = data if type(data) is bytes else bytes(data)
    return result
