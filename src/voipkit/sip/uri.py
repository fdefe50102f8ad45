"""SIP, SIPS, tel and other URIs (RFC 3261 §19.1, RFC 3966, RFC 5118).

Knows: URI syntax, parameters, embedded headers, %HH escapes and bracketed IPv6
references. Must not know: messages or headers that carry URIs, DNS, or what a URI
resolves to (RFC 3263 is the ``aio`` layer's job).

Values keep what was written: a user part stays in its escaped form (``%75se%72``), so
``str(uri)`` reproduces it; ``unescape`` gives the decoded text when an application needs
it (RFC 3261 §19.1.2: escaping is undone once, never recursively). Parameter names are
lower-cased (they compare case-insensitively, §19.1.4); values are kept as written. An
IPv6 host is stored without its brackets and gets them back in ``str()``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from urllib.parse import unquote

from voipkit.sip import grammar
from voipkit.sip.errors import ParseError

_SIP_URI_REST = grammar.SIP_URI_REST.fullmatch
_TEL_URI_REST = grammar.TEL_URI_REST.fullmatch
_ABSOLUTE_REST = grammar.ABSOLUTE_URI_REST.fullmatch
_BAD_ESCAPE = grammar.BAD_ESCAPE.search


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


def _parse_params(raw: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for item in raw[1:].split(";"):
        name, eq, value = item.partition("=")
        params[name.lower()] = value if eq else None
    return params


def _format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


@dataclass(slots=True, kw_only=True)
class SipUri:
    """A ``sip:`` or ``sips:`` URI (RFC 3261 §19.1.1)."""

    scheme: str = "sip"
    user: str | None = None
    "User part in its escaped form, as written; None when absent."
    password: str | None = None
    host: str = ""
    "Host name, IPv4 literal, or IPv6 literal *without* brackets."
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    "uri-parameters in order; names lower-cased; None for a valueless parameter (``;lr``)."
    headers: dict[str, str] = field(default_factory=dict)
    "Embedded ``?name=value`` headers, escaped as written."

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
        return self.params.get("transport")

    @property
    def lr(self) -> bool:
        """True when the loose-routing flag is present (RFC 3261 §19.1.1)."""
        return "lr" in self.params

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def secure(self) -> bool:
        return self.scheme == "sips"

    def replace(self, **changes: object) -> SipUri:
        """A copy with some fields changed (the same as ``dataclasses.replace``)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def __str__(self) -> str:
        out = self.scheme + ":"
        if self.user is not None:
            out += self.user if self.password is None else f"{self.user}:{self.password}"
            out += "@"
        out += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            out += f":{self.port}"
        if self.params:
            out += _format_params(self.params)
        if self.headers:
            out += "?" + "&".join(f"{k}={v}" for k, v in self.headers.items())
        return out


@dataclass(slots=True, kw_only=True)
class TelUri:
    """A ``tel:`` URI (RFC 3966): a global (+...) or local number with parameters."""

    number: str
    "As written, visual separators included."
    params: dict[str, str | None] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"tel:{self.number}{_format_params(self.params)}"


@dataclass(slots=True)
class AbsoluteUri:
    """A URI of any other scheme (http:, isbn:, urn: ...), kept as raw text."""

    raw: str

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
    colon = text.find(":")
    scheme = text[:colon].lower() if colon > 0 else ""
    if scheme == "sip" or scheme == "sips":
        m = _SIP_URI_REST(text, colon + 1)
        if m is None:
            raise ParseError(f"malformed {scheme.upper()} URI {text!r} (RFC 3261 §25.1)")
        user, password, host, port, params, headers = m.groups()
        if "%" in text and _BAD_ESCAPE(text) is not None:
            raise ParseError(f"'%' not followed by two hex digits in URI {text!r} (RFC 3261 §25.1)")
        if host[0] == "[":
            host = parse_host(host, text)
        port_number = None
        if port is not None:
            port_number = int(port)
            if port_number > 65535:
                raise ParseError(f"port {port_number} out of range in URI {text!r}")
        uri = SipUri(scheme=scheme, user=user, password=password, host=host, port=port_number,
                     params=_parse_params(params) if params else {})
        if headers:
            for item in headers.split("&"):
                name, _, value = item.partition("=")
                uri.headers[name] = value
        return uri
    if scheme == "tel":
        m = _TEL_URI_REST(text, colon + 1)
        if m is None:
            raise ParseError(f"malformed tel URI {text!r} (RFC 3966 §3)")
        return TelUri(number=m["number"], params=_parse_params(m["params"]) if m["params"] else {})
    if colon <= 0 or grammar.SCHEME.match(text) is None:
        raise ParseError(f"{text!r} is not a URI: no scheme")
    if not allow_absolute:
        raise ParseError(f"unsupported URI scheme {scheme!r}", status_hint=416)
    if _ABSOLUTE_REST(text, colon + 1) is None:
        raise ParseError(f"malformed URI {text!r} (RFC 2396 absoluteURI)")
    return AbsoluteUri(text)
