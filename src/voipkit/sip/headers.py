"""The header-field table and the multimap that holds header fields a message does not model.

Knows: every header field name this SDK meets, its compact form (RFC 3261 §7.3.3 and the
IANA registry), whether its grammar is a comma-separated list (RFC 3261 §7.3.1), and the
RFC that defines it (compare reSIProcate's ``defineHeader`` and PJSIP's parser registry).
Must not know: how the routing header fields are parsed (``message`` does that).

The values of the routing headers are typed here too (NameAddr, Via, CSeq), each with
``parse`` and ``str()``; ``message`` decides when to parse them. Like ``uri``, this module
is also compiled with mypyc: values are built through their ``__init__`` only, and their
field tables for ``dataclasses`` are class attributes set in the class body.

Authentication headers (Authorization, WWW-Authenticate, ...) are *not* lists here: their
values carry commas between auth-params, and splitting them would break the challenge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from voipkit.sip import grammar
from voipkit.sip.errors import ParseError
from voipkit.sip.grammar import simple_params_ok
from voipkit.sip.uri import (
    RawCache,
    Uri,
    decimal_value,
    format_params,
    make_sip_uri,
    parse_host,
    parse_uri,
    split_params,
)

#: RFC 3261 §8.1.1.5: a CSeq number is a 32-bit unsigned integer.
MAX_CSEQ: Final = 2**32 - 1


@dataclass(frozen=True, slots=True)
class HeaderSpec:
    """One row of the header table."""

    name: str
    "Canonical spelling of the long form."
    compact: str | None
    "Compact form (RFC 3261 §7.3.3), lower-case, or None."
    is_list: bool
    "True when several values may be joined by commas in one header line (§7.3.1)."
    rfc: str
    "Defining document."


def _specs(*rows: tuple[str, str | None, bool, str]) -> dict[str, HeaderSpec]:
    return {row[0].lower(): HeaderSpec(*row) for row in rows}


#: Keyed by the lower-cased long name.
HEADER_SPECS: Final[dict[str, HeaderSpec]] = _specs(
    ("Accept", None, True, "RFC 3261"),
    ("Accept-Contact", "a", True, "RFC 3841"),
    ("Accept-Encoding", None, True, "RFC 3261"),
    ("Accept-Language", None, True, "RFC 3261"),
    ("Accept-Resource-Priority", None, True, "RFC 4412"),
    ("Alert-Info", None, True, "RFC 3261"),
    ("Allow", None, True, "RFC 3261"),
    ("Allow-Events", "u", True, "RFC 6665"),
    ("Authentication-Info", None, False, "RFC 3261"),
    ("Authorization", None, False, "RFC 3261"),
    ("Call-ID", "i", False, "RFC 3261"),
    ("Call-Info", None, True, "RFC 3261"),
    ("Contact", "m", True, "RFC 3261"),
    ("Content-Disposition", None, False, "RFC 3261"),
    ("Content-Encoding", "e", True, "RFC 3261"),
    ("Content-Language", None, True, "RFC 3261"),
    ("Content-Length", "l", False, "RFC 3261"),
    ("Content-Type", "c", False, "RFC 3261"),
    ("CSeq", None, False, "RFC 3261"),
    ("Date", None, False, "RFC 3261"),
    ("Error-Info", None, True, "RFC 3261"),
    ("Event", "o", False, "RFC 6665"),
    ("Expires", None, False, "RFC 3261"),
    ("Flow-Timer", None, False, "RFC 5626"),
    ("From", "f", False, "RFC 3261"),
    ("History-Info", None, True, "RFC 7044"),
    ("Identity", "y", False, "RFC 8224"),
    ("Identity-Info", "n", False, "RFC 4474"),
    ("In-Reply-To", None, True, "RFC 3261"),
    ("Info-Package", None, False, "RFC 6086"),
    ("Max-Breadth", None, False, "RFC 5393"),
    ("Max-Forwards", None, False, "RFC 3261"),
    ("MIME-Version", None, False, "RFC 3261"),
    ("Min-Expires", None, False, "RFC 3261"),
    ("Min-SE", None, False, "RFC 4028"),
    ("Organization", None, False, "RFC 3261"),
    ("P-Asserted-Identity", None, True, "RFC 3325"),
    ("P-Preferred-Identity", None, True, "RFC 3325"),
    ("Path", None, True, "RFC 3327"),
    ("Priority", None, False, "RFC 3261"),
    ("Privacy", None, False, "RFC 3323"),
    ("Proxy-Authenticate", None, False, "RFC 3261"),
    ("Proxy-Authorization", None, False, "RFC 3261"),
    ("Proxy-Require", None, True, "RFC 3261"),
    ("RAck", None, False, "RFC 3262"),
    ("Reason", None, True, "RFC 3326"),
    ("Record-Route", None, True, "RFC 3261"),
    ("Recv-Info", None, True, "RFC 6086"),
    ("Refer-Sub", None, False, "RFC 4488"),
    ("Refer-To", "r", False, "RFC 3515"),
    ("Referred-By", "b", False, "RFC 3892"),
    ("Reject-Contact", "j", True, "RFC 3841"),
    ("Replaces", None, False, "RFC 3891"),
    ("Reply-To", None, False, "RFC 3261"),
    ("Request-Disposition", "d", True, "RFC 3841"),
    ("Require", None, True, "RFC 3261"),
    ("Resource-Priority", None, True, "RFC 4412"),
    ("Retry-After", None, False, "RFC 3261"),
    ("Route", None, True, "RFC 3261"),
    ("RSeq", None, False, "RFC 3262"),
    ("Security-Client", None, True, "RFC 3329"),
    ("Security-Server", None, True, "RFC 3329"),
    ("Security-Verify", None, True, "RFC 3329"),
    ("Server", None, False, "RFC 3261"),
    ("Service-Route", None, True, "RFC 3608"),
    ("Session-Expires", "x", False, "RFC 4028"),
    ("SIP-ETag", None, False, "RFC 3903"),
    ("SIP-If-Match", None, False, "RFC 3903"),
    ("Subject", "s", False, "RFC 3261"),
    ("Subscription-State", None, False, "RFC 6665"),
    ("Supported", "k", True, "RFC 3261"),
    ("Target-Dialog", None, False, "RFC 4538"),
    ("Timestamp", None, False, "RFC 3261"),
    ("To", "t", False, "RFC 3261"),
    ("Unsupported", None, True, "RFC 3261"),
    ("User-Agent", None, False, "RFC 3261"),
    ("Via", "v", True, "RFC 3261"),
    ("Warning", None, True, "RFC 3261"),
    ("WWW-Authenticate", None, False, "RFC 3261"),
)

#: Lower-cased compact form -> lower-cased long name.
COMPACT_FORMS: Final[dict[str, str]] = {
    spec.compact: key for key, spec in HEADER_SPECS.items() if spec.compact is not None
}

#: Lower-cased name as it may appear on the wire (long or compact) -> lower-cased long name.
NAME_KEYS: Final[dict[str, str]] = {**{key: key for key in HEADER_SPECS}, **COMPACT_FORMS}


def header_key(name: str) -> str:
    """The lookup key for a header name: lower-cased, compact forms expanded."""
    lowered = name.lower()
    return NAME_KEYS.get(lowered, lowered)


def canonical_name(name: str) -> str:
    """The canonical spelling of a known header (``v`` -> ``Via``); others unchanged."""
    spec = HEADER_SPECS.get(NAME_KEYS.get(name.lower(), ""))
    return spec.name if spec is not None else name


def split_list(value: str) -> list[str]:
    """Split a list-valued header value at commas outside quotes and angle brackets.

    Raises:
        ParseError: 400 for an empty element (``a,,b``) or an unbalanced quote or bracket.
    """
    if "," not in value:
        return [value]
    if '"' not in value and "<" not in value:
        items = value.split(",")
    else:
        items = []
        match = grammar.LIST_ELEMENT.match
        pos, end = 0, len(value)
        while True:
            m = match(value, pos)
            assert m is not None  # the pattern can match the empty string
            items.append(m.group())
            pos = m.end()
            if pos == end:
                break
            if value[pos] != ",":
                raise ParseError(f"unbalanced quote or angle bracket in {value!r}")
            pos += 1
    result = [item.strip(" \t") for item in items]
    if "" in result:
        raise ParseError(f"empty element in comma-separated list {value!r} (RFC 3261 §7.3.1)")
    return result


_NAME_ADDR: Final = grammar.NAME_ADDR.fullmatch
_NAME_ADDR_TAIL: Final = grammar.NAME_ADDR_TAIL.fullmatch
_DISPLAY_TOKENS: Final = grammar.DISPLAY_TOKENS.fullmatch
_ADDR_SPEC: Final = grammar.ADDR_SPEC.fullmatch
_PARAM_LIST: Final = grammar.PARAM_LIST.fullmatch
_SIMPLE_PARAMS: Final = grammar.SIMPLE_PARAMS.fullmatch
_PARAM_FINDALL: Final = grammar.PARAM_ITEM.findall
_VIA: Final = grammar.VIA.fullmatch
_VIA_FAST: Final = grammar.VIA_FAST.fullmatch
_CSEQ: Final = grammar.CSEQ.fullmatch
#: Methods in their usual spelling: a CSeq that ends in one of them needs no regex.
COMMON_METHODS: Final = frozenset((
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY",
    "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"))
_QUOTED_PAIR: Final = re.compile(r"\\(.)", re.S)
_QUOTE_NEEDED: Final = grammar.QUOTE_NEEDED


def _parse_generic_params(raw: str, where: str) -> tuple[dict[str, str | None], bool]:
    """``*( SEMI generic-param )``: names lower-cased, values as written (quotes kept).

    The flag is True when ``format_params`` of the result gives ``raw`` back.
    """
    if _SIMPLE_PARAMS(raw) is not None and simple_params_ok(raw):
        return split_params(raw)
    if _PARAM_LIST(raw) is None:
        raise ParseError(f"malformed parameters {raw.strip()!r} in {where}")
    return {name.lower(): (value or None) for name, value in _PARAM_FINDALL(raw)}, False


def _quote(text: str) -> str:
    if _QUOTE_NEEDED.search(text) is not None:
        text = _QUOTE_NEEDED.sub(lambda m: "\\" + m.group(), text)
    return f'"{text}"'


@dataclass
class _NameAddrFields:
    """The field table of NameAddr, for ``dataclasses.replace`` and ``dataclasses.fields``."""

    uri: Uri
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)


@dataclass
class _ViaFields:
    """The field table of Via, for ``dataclasses.replace`` and ``dataclasses.fields``."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)


class NameAddr:
    """A URI with an optional display name and header parameters (RFC 3261 §20.10, §20.20).

    Used for From, To, Contact, Route and Record-Route. ``display_name`` is the text with
    quotes and quoted-pairs removed (None when absent); ``params`` are the header-field
    parameters after the URI (``tag``, ``expires``, ``q`` ...), not the URI's own.
    ``str()`` is cached as ``uri`` explains; the cache is valid while the URI's own cached
    text is the one seen when it was made.
    """

    __slots__ = ("_display_name", "_params", "_raw", "_uri", "_uri_raw")

    __dataclass_fields__: ClassVar[dict[str, Any]] = _NameAddrFields.__dataclass_fields__
    _uri: Uri
    _display_name: str | None
    _params: dict[str, str | None]
    _raw: RawCache
    _uri_raw: RawCache

    def __init__(self, uri: Uri, display_name: str | None = None,
                 params: dict[str, str | None] | None = None) -> None:
        self._uri = uri
        self._display_name = display_name
        self._params = {} if params is None else params
        self._raw = None
        self._uri_raw = None

    @property
    def uri(self) -> Uri:
        return self._uri

    @uri.setter
    def uri(self, value: Uri) -> None:
        self._uri = value
        self._raw = None

    @property
    def display_name(self) -> str | None:
        return self._display_name

    @display_name.setter
    def display_name(self, value: str | None) -> None:
        self._display_name = value
        self._raw = None

    @property
    def params(self) -> dict[str, str | None]:
        """The parameter dict; reading it turns off this value's text cache."""
        self._raw = False
        return self._params

    @params.setter
    def params(self, value: dict[str, str | None]) -> None:
        self._params = value
        self._raw = False

    @property
    def tag(self) -> str | None:
        return self._params.get("tag")

    @tag.setter
    def tag(self, value: str | None) -> None:
        if value is None:
            self._params.pop("tag", None)
        else:
            self._params["tag"] = value
        if self._raw is not False:
            self._raw = None

    def __copy__(self) -> NameAddr:
        # copy.copy's default cannot build a mypyc native instance; go through __init__.
        new = NameAddr(self._uri, self._display_name, self._params)
        new._raw = self._raw
        new._uri_raw = self._uri_raw
        return new

    def copy(self) -> NameAddr:
        """A copy with its own parameter dict (the URI object is shared)."""
        new = NameAddr(self._uri, self._display_name, dict(self._params))
        raw = self._raw
        new._raw = raw if raw is None or raw else None
        new._uri_raw = self._uri_raw
        return new

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        """Parse ``name-addr`` or ``addr-spec`` followed by parameters.

        In the addr-spec form (no angle brackets) everything after the first ";" is a
        header parameter, never a URI parameter (RFC 3261 §20.10, RFC 4475 §3.3.12), and
        the URI may not contain "?" or "," (RFC 4475 §3.1.2.10).

        Raises:
            ParseError: 400 when the text is neither form.
        """
        # The fast path: an optional display name (read here, without a regex), then
        # "<sip:" or "<sips:" and grammar.NAME_ADDR_TAIL from there. Anything it does not
        # take goes through _parse_general, so it decides speed only, never what is accepted.
        first = text[:1]
        name = ""
        display: str | None = None
        quoted = False
        lt = -1
        if first == "<":
            lt = 0
        elif first == '"':
            close = text.find('"', 1)
            # A quoted name without quoted-pairs and control characters is its own value.
            if close > 0:
                name = text[1:close]
                if "\\" not in name and name.isprintable():
                    lt = close + 1
                    end = len(text)
                    while lt < end and (text[lt] == " " or text[lt] == "\t"):
                        lt += 1
                    if lt < end and text[lt] == "<":
                        display = name
                        quoted = True
                    else:
                        lt = -1
        else:
            lt = text.find("<")
            if lt < 0 and '"' not in text:
                spec = cls._parse_addr_spec(text)
                if spec is not None:
                    return spec
            if lt > 0:
                # The usual token display name is one ASCII word and one space ("Bob <").
                cut = lt - 1 if text[lt - 1] == " " else lt
                name = text[:cut]
                # (isalnum also takes non-ASCII letters; the encoded length rules them out,
                # and is a native call where isascii is a generic one.)
                if not (name.isalnum() and len(name.encode()) == len(name)):
                    if _DISPLAY_TOKENS(text, 0, lt) is None:
                        lt = -1
                    name = text[:lt].rstrip(" \t")
                display = name
        m = None
        if lt >= 0:
            # One slice and primitive compares (startswith with a start index is a generic
            # method call under mypyc).
            head = text[lt + 1:lt + 6]
            if head.startswith("sip:"):
                scheme = "sip"
                m = _NAME_ADDR_TAIL(text, lt + 5)
            elif head == "sips:":
                scheme = "sips"
                m = _NAME_ADDR_TAIL(text, lt + 6)
        if m is not None:
            # Unpacking a typed tuple is native under mypyc; unpacking m.groups() is generic.
            # The declared types make the later tests and len() native too.
            g: tuple[Any, ...] = m.groups()
            user: str | None
            password: str | None
            host: str
            port: str | None
            uparams: str | None
            uheaders: str | None
            hparams: str
            user, password, host, port, uparams, uheaders, hparams = g
            if hparams and not simple_params_ok(hparams):
                return cls._parse_general(text)
            gt = len(text) - len(hparams) - 1
            uri_text = text[lt + 1:gt]
            uri = make_sip_uri(scheme, user, password, host, port, uparams, uheaders, uri_text)
            canonical = uri._raw is not None
            params: dict[str, str | None]
            if hparams:
                params, ok = split_params(hparams)
                canonical = canonical and ok
            else:
                params = {}
            raw: RawCache
            if quoted:
                # Canonical when one space separates the closing quote from "<".
                raw = text if canonical and lt == len(name) + 3 else (
                    f'"{name}" <{uri_text}>{hparams}' if canonical else None)
            elif display is not None:
                # A token display name keeps its written form (``Bob <sip:...>``) when one
                # space separates it from "<"; both forms give the same value back.
                raw = (text if canonical and lt == len(name) + 1 and text[lt - 1] == " "
                       else None)
            else:
                raw = text if canonical else None
            na = NameAddr(uri, display, params)
            na._raw = raw
            na._uri_raw = uri._raw
            return na
        return cls._parse_general(text)

    @classmethod
    def _parse_addr_spec(cls, text: str) -> NameAddr | None:
        """The fast path for an addr-spec of the usual shape (``sip:bob@host:5060;tag=x``,
        SIPp's Contact), or None to let ``_parse_general`` decide.

        The URI ends at the first ";" (RFC 3261 §20.10); it must match
        grammar.SIP_URI_REST whole and hold no "," or "?" (RFC 4475 §3.1.2.10), and
        the rest must be simple token parameters. Everything else (blanks, a user part
        with ";", quoted values, errors) goes through the general patterns, so this
        decides speed only, never what is accepted or how it reads.
        """
        if not (text.startswith("sip:") or text.startswith("sips:")):
            return None
        semi = text.find(";")
        uri_text = text if semi < 0 else text[:semi]
        if "," in uri_text or "?" in uri_text:
            return None
        hparams = "" if semi < 0 else text[semi:]
        params: dict[str, str | None] = {}
        if hparams:
            if _SIMPLE_PARAMS(hparams) is None or not simple_params_ok(hparams):
                return None
            params = split_params(hparams)[0]
        try:
            uri = parse_uri(uri_text)
        except ParseError:
            return None  # the general patterns decide (they strip blanks, then judge)
        return cls(uri, None, params)

    @classmethod
    def _parse_general(cls, text: str) -> NameAddr:
        m = _NAME_ADDR(text)
        if m is not None:
            quoted = m.group("quoted")
            if quoted is not None:
                display: str | None = _QUOTED_PAIR.sub(r"\1", quoted) if "\\" in quoted else quoted
            else:
                display = m.group("token")
        else:
            m = _ADDR_SPEC(text)
            if m is None or ":" not in m.group("uri"):
                raise ParseError(f"{text.strip()!r} is neither a name-addr nor an addr-spec "
                                 "(RFC 3261 §25.1)")
            if m.group("params").lstrip(" \t")[:1] in ("?", ","):
                raise ParseError(f"addr-spec {text.strip()!r} containing '?' or ',' must be "
                                 "enclosed in <> (RFC 3261 §20)")
            display = None
        params_text = m.group("params")
        params = _parse_generic_params(params_text, "name-addr")[0] if params_text else {}
        return cls(parse_uri(m.group("uri")), display, params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NameAddr):
            return NotImplemented
        return (self._uri == other._uri and self._display_name == other._display_name
                and self._params == other._params)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"NameAddr(uri={self._uri!r}, display_name={self._display_name!r}, "
                f"params={self._params!r})")

    def __str__(self) -> str:
        raw = self._raw
        uri = self._uri
        if raw and uri._raw is self._uri_raw:
            return raw  # type: ignore[return-value]
        out = f"<{uri}>"
        if self._display_name is not None:
            out = f"{_quote(self._display_name)} {out}"
        if self._params:
            out += format_params(self._params)
        if raw is not False and uri._raw:
            self._raw = out
            self._uri_raw = uri._raw
        return out


class Via:
    """One Via header value (RFC 3261 §20.42): ``SIP/2.0/<transport> host[:port];params``.

    ``transport`` is the upper-cased transport token (UDP, TCP, TLS, SCTP, WS ...);
    ``host`` is the sent-by host (an IPv6 literal has no brackets). ``str()`` is cached as
    ``uri`` explains.
    """

    __slots__ = ("_host", "_params", "_port", "_raw", "_transport")

    __dataclass_fields__: ClassVar[dict[str, Any]] = _ViaFields.__dataclass_fields__
    _transport: str
    _host: str
    _port: int | None
    _params: dict[str, str | None]
    _raw: RawCache

    def __init__(self, transport: str, host: str, port: int | None = None,
                 params: dict[str, str | None] | None = None) -> None:
        self._transport = transport
        self._host = host
        self._port = port
        self._params = {} if params is None else params
        self._raw = None

    @property
    def transport(self) -> str:
        return self._transport

    @transport.setter
    def transport(self, value: str) -> None:
        self._transport = value
        self._raw = None

    @property
    def host(self) -> str:
        return self._host

    @host.setter
    def host(self, value: str) -> None:
        self._host = value
        self._raw = None

    @property
    def port(self) -> int | None:
        return self._port

    @port.setter
    def port(self, value: int | None) -> None:
        self._port = value
        self._raw = None

    @property
    def params(self) -> dict[str, str | None]:
        """The parameter dict; reading it turns off this value's text cache."""
        self._raw = False
        return self._params

    @params.setter
    def params(self, value: dict[str, str | None]) -> None:
        self._params = value
        self._raw = False

    @property
    def branch(self) -> str | None:
        return self._params.get("branch")

    @property
    def received(self) -> str | None:
        return self._params.get("received")

    @property
    def has_rport(self) -> bool:
        """True when ``rport`` is present, with or without a value (RFC 3581)."""
        return "rport" in self._params

    @property
    def rport(self) -> int | None:
        value = self._params.get("rport")
        return int(value) if value else None

    @property
    def maddr(self) -> str | None:
        return self._params.get("maddr")

    @property
    def ttl(self) -> int | None:
        value = self._params.get("ttl")
        return int(value) if value else None

    def __copy__(self) -> Via:
        # copy.copy's default cannot build a mypyc native instance; go through __init__.
        new = Via(self._transport, self._host, self._port, self._params)
        new._raw = self._raw
        return new

    def copy(self) -> Via:
        """A copy with its own parameter dict."""
        new = Via(self._transport, self._host, self._port, dict(self._params))
        raw = self._raw
        new._raw = raw if raw is None or raw else None
        return new

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse one via-parm.

        Raises:
            ParseError: 400 for bad syntax, a protocol other than SIP/2.0, or bad
                ``ttl``/``rport`` values.
        """
        m = _VIA_FAST(text)
        transport: str
        host: str
        port: str | None
        params_text: str | None
        fast = False
        if m is not None:
            g: tuple[Any, ...] = m.groups()
            transport, host, port, params_text = g
            # An empty parameter value (";a=") goes to the general pattern, which rejects it.
            fast = not params_text or simple_params_ok(params_text)
        if fast:
            # upper() is a mypyc primitive, isupper() a generic method call.
            upper = transport.upper()
            canonical = upper == transport
            transport = upper
            general = False
        else:
            m = _VIA(text)
            if m is None:
                raise ParseError(f"malformed Via value {text.strip()!r} (RFC 3261 §20.42)")
            protocol, version, transport, host, port, params_text = m.groups()
            if version != "2.0" or protocol.upper() != "SIP":
                raise ParseError(f"Via protocol {protocol}/{version} is not SIP/2.0")
            canonical = False
            general = True
        if host[0] == "[":
            host = parse_host(host, text)
        port_number: int | None = None
        if port is not None:
            port_number = decimal_value(port)
            if port_number < 0:
                port_number = int(port)
            if port_number > 65535:
                raise ParseError(f"Via port {port_number} is out of range")
            if port[0] == "0":
                canonical = False
        if params_text:
            if general:
                params = _parse_generic_params(params_text, "Via")[0]
            else:
                params, ok = split_params(params_text)
                canonical = canonical and ok
            if "rport" in params or "ttl" in params:
                _check_via_numbers(params)
        else:
            params = {}
        via = Via(transport.upper() if general else transport, host, port_number, params)
        via._raw = text if canonical else None
        return via

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Via):
            return NotImplemented
        return (self._host == other._host and self._port == other._port
                and self._transport == other._transport and self._params == other._params)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Via(transport={self._transport!r}, host={self._host!r}, "
                f"port={self._port!r}, params={self._params!r})")

    def __str__(self) -> str:
        raw = self._raw
        if raw:
            return raw  # type: ignore[return-value]
        host = self._host
        out = f"SIP/2.0/{self._transport} {f'[{host}]' if ':' in host else host}"
        if self._port is not None:
            out += f":{self._port}"
        if self._params:
            out += format_params(self._params)
        if raw is None:
            self._raw = out
        return out


def _check_via_numbers(params: dict[str, str | None]) -> None:
    rport = params.get("rport")
    if (rport is not None and not (len(rport) <= 5 and 0 <= decimal_value(rport) <= 65535)
            and (not rport.isdecimal() or len(rport) > 5 or int(rport) > 65535)):
        raise ParseError(f"Via rport {rport!r} is not a port number (RFC 3581)")
    ttl = params.get("ttl")
    if "ttl" in params and (ttl is None or not ttl.isdecimal() or len(ttl) > 3
                            or int(ttl) > 255):
        raise ParseError(f"Via ttl {ttl!r} is not 0-255 (RFC 3261 §20.42)")


class CSeq:
    """The CSeq header (RFC 3261 §20.16): sequence number and method.

    A plain class (every message parses or builds one or two): mypyc compiles its
    ``__init__`` and ``__eq__``, where a dataclass's generated ones stay interpreted.
    """

    __slots__ = ("method", "seq")

    seq: int
    method: str

    def __init__(self, seq: int, method: str) -> None:
        self.seq = seq
        self.method = method

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CSeq):
            return NotImplemented
        return self.seq == other.seq and self.method == other.method

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CSeq(seq={self.seq!r}, method={self.method!r})"

    @classmethod
    def parse(cls, text: str) -> CSeq:
        """Parse ``1*DIGIT LWS Method``.

        Raises:
            ParseError: 400 for bad syntax or a number above 2**32-1 (RFC 3261 §8.1.1.5).
        """
        return parse_cseq(text)[0]

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


def parse_cseq(text: str) -> tuple[CSeq, bool]:
    """``CSeq.parse`` and whether ``str()`` of the result is ``text`` again.

    Raises:
        ParseError: 400 for bad syntax or a number above 2**32-1 (RFC 3261 §8.1.1.5).
    """
    sp = text.find(" ")  # find and slices: no partition tuple
    digits = text[:sp]
    method = text[sp + 1:] if sp >= 0 else ""
    if method in COMMON_METHODS:
        # The common shape, checked without the regex: "1*DIGIT SP Method" where Method is
        # a known token. Up to 9 ASCII digits are read by decimal_value; then the text is
        # canonical unless the number has a leading zero.
        number = decimal_value(digits)
        if number >= 0:
            return CSeq(number, method), digits[0] != "0" or sp == 1
        # Any other \d+ (str.isdecimal is exactly the re module's \d+).
        if digits.isdecimal():
            number = int(digits) if len(digits) <= 10 else MAX_CSEQ + 1
            if number > MAX_CSEQ:
                raise ParseError(f"CSeq number {digits[:40]} exceeds 2**32-1 "
                                 "(RFC 3261 §8.1.1.5)")
            return CSeq(number, method), text == f"{number} {method}"
    m = _CSEQ(text)
    if m is None:
        raise ParseError(f"malformed CSeq {text!r} (RFC 3261 §20.16)")
    digits, method = m.groups()
    if len(digits) > 10 or int(digits) > MAX_CSEQ:
        raise ParseError(f"CSeq number {digits[:40]} exceeds 2**32-1 (RFC 3261 §8.1.1.5)")
    cseq = CSeq(int(digits), method)
    return cseq, text == f"{cseq.seq} {method}"


class Headers:
    """Ordered, case-insensitive multimap of the header fields a message does not model.

    Names of known headers are stored in canonical spelling (compact forms expanded);
    unknown names keep the spelling they arrived with. Values are kept verbatim (after
    line unfolding), one entry per header line.
    """

    __slots__ = ("_entries", "_version")

    def __init__(self, items: Iterable[tuple[str, str]] | None = None) -> None:
        self._entries: list[tuple[str, str, str]] = []
        #: Counts changes made through add/set/remove, so a parsed message can tell that
        #: its header lines are still the ones it read (``Message.__bytes__``).
        self._version = 0
        if items is not None:
            for name, value in items:
                self.add(name, value)

    def _append_raw(self, key: str, name: str, value: str) -> None:
        self._entries.append((key, name, value))

    def add(self, name: str, value: str) -> None:
        """Append a header line."""
        self._version += 1
        self._entries.append((header_key(name), canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace every line of this header with one line holding ``value``.

        The new line takes the position of the first old one, or goes last.
        """
        key = header_key(name)
        self._version += 1
        for i, entry in enumerate(self._entries):
            if entry[0] == key:
                self._entries[i] = (key, entry[1], value)
                self._entries[i + 1:] = [e for e in self._entries[i + 1:] if e[0] != key]
                return
        self._entries.append((key, canonical_name(name), value))

    def remove(self, name: str) -> None:
        """Remove every line of this header (no error when absent)."""
        key = header_key(name)
        self._version += 1
        self._entries = [e for e in self._entries if e[0] != key]

    def get(self, name: str) -> str | None:
        """The value of the first line of this header, or None."""
        key = header_key(name)
        for entry in self._entries:
            if entry[0] == key:
                return entry[2]
        return None

    def getall(self, name: str) -> list[str]:
        """All values, in order; list-valued headers are split at commas.

        Raises:
            ParseError: when a list-valued header has an empty element or unbalanced quotes.
        """
        key = header_key(name)
        spec = HEADER_SPECS.get(key)
        values = [entry[2] for entry in self._entries if entry[0] == key]
        if spec is None or not spec.is_list:
            return values
        return [item for value in values for item in split_list(value)]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = header_key(name)
        return any(entry[0] == key for entry in self._entries)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for _, name, value in self._entries:
            yield name, value

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(k, v) for k, _, v in self._entries] == [(k, v) for k, _, v in other._entries]

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> Headers:
        new = Headers()
        new._entries = list(self._entries)
        return new

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"
