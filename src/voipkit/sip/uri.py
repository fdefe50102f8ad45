"""SIP, SIPS, tel and other URIs (RFC 3261 §19.1, RFC 3966, RFC 5118).

Knows: URI syntax, parameters, embedded headers, %HH escapes and bracketed IPv6
references. Must not know: messages or headers that carry URIs, DNS, or what a URI
resolves to (RFC 3263 is the ``aio`` layer's job).

Values keep what was written: a user part stays in its escaped form (``%75se%72``), so
``str(uri)`` reproduces it; ``unescape`` gives the decoded text when an application needs
it (RFC 3261 §19.1.2: escaping is undone once, never recursively). Parameter names are
lower-cased (they compare case-insensitively, §19.1.4); values are kept as written. An
IPv6 host is stored without its brackets and gets them back in ``str()``.

Speed (docs/performance.md "SIP parse"): each value caches its ``str()`` text in ``_raw``.
The parser stores the text it read there when that text is already what ``str()`` would
write. Every setter clears the cache; reading ``params`` or ``headers`` (the mutable dicts)
turns caching off for that object for good, since the caller may change the dict later.
``_raw`` is therefore a ``str`` (valid cache), None (not cached yet) or False (never cache).
Containers (``NameAddr``) check ``uri._raw is <the text they saw>`` before reusing their
own cached text. The classes are plain ``__slots__`` classes; ``dataclasses.replace`` and
``dataclasses.fields`` still work through a ``__dataclass_fields__`` class attribute taken
from a field-spec dataclass.

This module is also compiled with mypyc (setup.py; docs/performance.md "SIP parse"), so it
stays within what mypyc's native classes allow: objects are built only through
``__init__`` (never ``object.__new__``), attributes are declared and typed, and nothing
patches a class after its definition.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any, ClassVar, Final
from urllib.parse import unquote

from voipkit.sip import grammar
from voipkit.sip.errors import ParseError

_SIP_URI_REST: Final = grammar.SIP_URI_REST.fullmatch
_TEL_URI_REST: Final = grammar.TEL_URI_REST.fullmatch
_ABSOLUTE_REST: Final = grammar.ABSOLUTE_URI_REST.fullmatch
_BAD_ESCAPE: Final = grammar.BAD_ESCAPE.search

#: The three states of a value's ``_raw`` cache (see the module docstring).
RawCache = str | None | bool


def unescape(text: str) -> str:
    """Decode %HH escapes once (``value%2541`` becomes ``value%41``, not ``valueA``)."""
    return unquote(text, errors="surrogateescape") if "%" in text else text


def format_host(host: str) -> str:
    """A host as it appears in a URI or Via: IPv6 literals get their brackets back."""
    return f"[{host}]" if ":" in host else host


def parse_host(host: str, text: str) -> str:
    """Strip and check the brackets of an IPv6 reference; other hosts are returned as is."""
    if host[0] != "[":
        return host
    inner = host[1:-1]
    try:
        ipaddress.IPv6Address(inner)
    except ValueError:
        raise ParseError(f"invalid IPv6 reference {host} in {text!r} (RFC 5118)") from None
    return inner


#: Parameter names that are common in URIs and header fields, in lower case.
_LOWER_NAMES: Final = frozenset((
    "branch", "received", "rport", "maddr", "ttl", "tag", "lr", "transport", "user", "method",
    "expires", "q", "ob", "gr", "sigcomp-id", "comp", "alias", "keep", "phone-context"))


def split_params(raw: str) -> tuple[dict[str, str | None], bool]:
    """``;a=1;B;c`` (already validated) -> ({"a": "1", "b": None, "c": None}, canonical).

    ``canonical`` is True when formatting the dict gives ``raw`` back: every name was
    written in lower case and none repeats.
    """
    # A name in _LOWER_NAMES is already its lower-case key: no lower() string to build and
    # hash (the set lookup hashes ``name`` once, and the dict store reuses that hash).
    # find and slices instead of partition: no tuple per parameter.
    lower_names = _LOWER_NAMES
    if raw.find(";", 1) < 0:  # one parameter: the common case, no loop
        eq = raw.find("=")
        name = raw[1:eq] if eq > 0 else raw[1:]
        value = raw[eq + 1:] if eq > 0 else None
        if name in lower_names:
            return {name: value}, True
        lname = name.lower()
        return {lname: value}, lname == name
    params: dict[str, str | None] = {}
    canonical = True
    count = 0
    start = 1
    end = len(raw)
    while start <= end:
        stop = raw.find(";", start)
        if stop < 0:
            stop = end
        eq = raw.find("=", start, stop)
        name = raw[start:eq] if eq >= 0 else raw[start:stop]
        if name not in lower_names:
            lname = name.lower()
            if lname != name:
                canonical = False
            name = lname
        params[name] = raw[eq + 1:stop] if eq >= 0 else None
        count += 1
        start = stop + 1
    return params, canonical and count == len(params)


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def _check_escapes(text: str) -> None:
    if _BAD_ESCAPE(text) is not None:
        raise ParseError(f"'%' not followed by two hex digits in URI {text!r} (RFC 3261 §25.1)")


#: True when this module runs interpreted (the pure build, a ``.py`` file), False in the
#: mypyc-compiled build (an extension module).
_INTERPRETED: Final = __file__.endswith(".py")


def decimal_value(text: str) -> int:
    """The value of ``text`` when it is 1 to 9 ASCII digits, else -1.

    For ports and the like. Compiled, ``int()`` of a str is a generic parse of a few hundred
    instructions and this loop a few dozen; interpreted, the loop is the slower one, so
    that build asks ``isdigit``/``isascii`` and ``int()``. Callers that get -1 fall back to
    ``int()``, which also takes the other Unicode decimal digits that ``\\d`` and
    ``str.isdecimal`` accept.
    """
    end = len(text)
    if end == 0 or end > 9:
        return -1
    if _INTERPRETED:
        return int(text) if text.isascii() and text.isdigit() else -1
    value = 0
    for i in range(end):
        digit = ord(text[i]) - 48
        if digit < 0 or digit > 9:
            return -1
        value = value * 10 + digit
    return value


def _port(port: str, text: str) -> int:
    number = decimal_value(port)
    if number < 0:
        number = int(port)
    if number > 65535:
        raise ParseError(f"port {number} out of range in URI {text!r}")
    return number


@dataclasses.dataclass(kw_only=True)
class _SipUriFields:
    """The field table of SipUri, for ``dataclasses.replace`` and ``dataclasses.fields``."""

    scheme: str = "sip"
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = dataclasses.field(default_factory=dict)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


class SipUri:
    """A ``sip:`` or ``sips:`` URI (RFC 3261 §19.1.1).

    Fields: ``scheme``, ``user`` (escaped form as written; None when absent), ``password``,
    ``host`` (name, IPv4 literal, or IPv6 literal *without* brackets), ``port``, ``params``
    (uri-parameters in order, names lower-cased, None for a valueless ``;lr``) and
    ``headers`` (embedded ``?name=value`` headers, escaped as written).
    """

    __slots__ = ("_headers", "_host", "_params", "_password", "_port", "_raw", "_scheme",
                 "_user")

    __dataclass_fields__: ClassVar[dict[str, Any]] = _SipUriFields.__dataclass_fields__
    _scheme: str
    _user: str | None
    _password: str | None
    _host: str
    _port: int | None
    _params: dict[str, str | None]
    _headers: dict[str, str]
    _raw: RawCache

    def __init__(self, *, scheme: str = "sip", user: str | None = None,
                 password: str | None = None, host: str = "", port: int | None = None,
                 params: dict[str, str | None] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self._scheme = scheme
        self._user = user
        self._password = password
        self._host = host
        self._port = port
        self._params = {} if params is None else params
        self._headers = {} if headers is None else headers
        self._raw = None

    @property
    def scheme(self) -> str:
        return self._scheme

    @scheme.setter
    def scheme(self, value: str) -> None:
        self._scheme = value
        self._raw = None

    @property
    def user(self) -> str | None:
        return self._user

    @user.setter
    def user(self, value: str | None) -> None:
        self._user = value
        self._raw = None

    @property
    def password(self) -> str | None:
        return self._password

    @password.setter
    def password(self, value: str | None) -> None:
        self._password = value
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
        """The parameter dict; reading it turns off this URI's text cache (see module doc)."""
        self._raw = False
        return self._params

    @params.setter
    def params(self, value: dict[str, str | None]) -> None:
        self._params = value
        self._raw = False

    @property
    def headers(self) -> dict[str, str]:
        self._raw = False
        return self._headers

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        self._headers = value
        self._raw = False

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a SIP or SIPS URI.

        Raises:
            ParseError: 416 if the scheme is not sip/sips, 400 for bad syntax.
        """
        uri = parse_uri(text)
        if not isinstance(uri, SipUri):
            raise ParseError(f"{text!r} is not a SIP or SIPS URI", status_hint=416)
        return uri

    @property
    def transport(self) -> str | None:
        return self._params.get("transport")

    @property
    def lr(self) -> bool:
        """True when the loose-routing flag is present (RFC 3261 §19.1.1)."""
        return "lr" in self._params

    @property
    def maddr(self) -> str | None:
        return self._params.get("maddr")

    @property
    def secure(self) -> bool:
        return self._scheme == "sips"

    @property
    def has_headers(self) -> bool:
        """True when the URI embeds ``?headers`` (without turning off the text cache)."""
        return bool(self._headers)

    def __copy__(self) -> SipUri:
        # copy.copy's default cannot build a mypyc native instance; go through __init__.
        new = SipUri(scheme=self._scheme, user=self._user, password=self._password,
                     host=self._host, port=self._port, params=self._params,
                     headers=self._headers)
        new._raw = self._raw
        return new

    def replace(self, **changes: Any) -> SipUri:
        """A copy with some fields changed.

        Unlike a bare ``dataclasses.replace``, the copy gets its own ``params`` and
        ``headers`` dicts, so changing them never changes this URI.
        """
        changes.setdefault("params", dict(self._params))
        changes.setdefault("headers", dict(self._headers))
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SipUri):
            return NotImplemented
        return (self._host == other._host and self._user == other._user
                and self._port == other._port and self._scheme == other._scheme
                and self._password == other._password and self._params == other._params
                and self._headers == other._headers)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"SipUri(scheme={self._scheme!r}, user={self._user!r}, "
                f"password={self._password!r}, host={self._host!r}, port={self._port!r}, "
                f"params={self._params!r}, headers={self._headers!r})")

    def __str__(self) -> str:
        raw = self._raw
        if raw:
            return raw  # type: ignore[return-value]
        out = self._scheme + ":"
        if self._user is not None:
            out += self._user if self._password is None else f"{self._user}:{self._password}"
            out += "@"
        host = self._host
        out += f"[{host}]" if ":" in host else host
        if self._port is not None:
            out += f":{self._port}"
        if self._params:
            out += format_params(self._params)
        if self._headers:
            out += "?" + "&".join(f"{k}={v}" for k, v in self._headers.items())
        if raw is None:
            self._raw = out
        return out


def make_sip_uri(scheme: str, user: str | None, password: str | None, host: str,
                 port: str | None, params: str | None, headers: str | None,
                 text: str) -> SipUri:
    """Build a SipUri from the groups of ``grammar.SIP_URI_REST`` (already matched).

    ``text`` is the whole URI as written; it becomes the cached ``str()`` when it is
    canonical (lower-case scheme, lower-case unique parameter names, no leading zeros).

    Raises:
        ParseError: 400 for a bad escape, a bad IPv6 reference or a port above 65535.
    """
    canonical = text.startswith("sip")
    if "%" in text:
        _check_escapes(text)
    if host[0] == "[":
        host = parse_host(host, text)
    port_number: int | None = None
    if port is not None:
        port_number = _port(port, text)
        if port[0] == "0":
            canonical = False
    params_dict: dict[str, str | None]
    if params:
        params_dict, ok = split_params(params)
        canonical = canonical and ok
    else:
        params_dict = {}
    headers_dict: dict[str, str] = {}
    if headers:
        count = 0
        for item in headers.split("&"):
            name, _, value = item.partition("=")
            headers_dict[name] = value
            count += 1
        canonical = canonical and count == len(headers_dict)
    uri = SipUri(scheme=scheme, user=user, password=password, host=host, port=port_number,
                 params=params_dict, headers=headers_dict)
    uri._raw = text if canonical else None
    return uri


@dataclasses.dataclass(slots=True, kw_only=True)
class TelUri:
    """A ``tel:`` URI (RFC 3966): a global (+...) or local number with parameters."""

    number: str
    "As written, visual separators included."
    params: dict[str, str | None] = dataclasses.field(default_factory=dict)
    _raw: RawCache = dataclasses.field(default=False, init=False, repr=False, compare=False)
    "Never cached: the fields are plain and settable."

    def __str__(self) -> str:
        return f"tel:{self.number}{format_params(self.params)}"


@dataclasses.dataclass(slots=True)
class AbsoluteUri:
    """A URI of any other scheme (http:, isbn:, urn: ...), kept as raw text."""

    raw: str
    _raw: RawCache = dataclasses.field(default=False, init=False, repr=False, compare=False)
    "Never cached: ``raw`` is plain and settable."

    @property
    def scheme(self) -> str:
        return self.raw.partition(":")[0].lower()

    def __str__(self) -> str:
        return self.raw


Uri = SipUri | TelUri | AbsoluteUri


def parse_uri(text: str, *, allow_absolute: bool = True) -> Uri:
    """Parse any URI that SIP can carry.

    Args:
        text: the URI, without angle brackets or surrounding whitespace.
        allow_absolute: when False, a scheme other than sip/sips/tel raises 416 (for a
            Request-URI the element must be able to route, RFC 3261 §8.2.2.1).

    Raises:
        ParseError: 400 for syntax errors, 416 for an unsupported scheme.
    """
    if text.startswith("sip:"):  # the usual spelling: no slice and lower() to compare
        colon = 3
        scheme = "sip"
    else:
        colon = text.find(":")
        scheme = text[:colon].lower() if colon > 0 else ""
    if scheme == "sip" or scheme == "sips":
        m = _SIP_URI_REST(text, colon + 1)
        if m is None:
            raise ParseError(f"malformed {scheme.upper()} URI {text!r} (RFC 3261 §25.1)")
        g: tuple[Any, ...] = m.groups()  # typed: unpacked natively under mypyc
        user, password, host, port, params, headers = g
        return make_sip_uri(scheme, user, password, host, port, params, headers, text)
    if scheme == "tel":
        m = _TEL_URI_REST(text, colon + 1)
        if m is None:
            raise ParseError(f"malformed tel URI {text!r} (RFC 3966 §3)")
        params = split_params(m["params"])[0] if m["params"] else {}
        return TelUri(number=m["number"], params=params)
    if colon <= 0 or grammar.SCHEME.match(text) is None:
        raise ParseError(f"{text!r} is not a URI: no scheme")
    if not allow_absolute:
        raise ParseError(f"unsupported URI scheme {scheme!r}", status_hint=416)
    if _ABSOLUTE_REST(text, colon + 1) is None:
        raise ParseError(f"malformed URI {text!r} (RFC 2396 absoluteURI)")
    return AbsoluteUri(text)
