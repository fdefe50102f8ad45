"""Where SIP messages come from and go to, as plain values.

Knows: transport kinds (RFC 3261 §18), IP literal addresses and the shape of an
outgoing datagram or stream write. Must not know: sockets, DNS or asyncio — the
``aio`` layer turns a ``Destination`` into a socket operation, and resolves
host names (RFC 3263) into ordered ``Destination`` lists before the core sees
them.
"""

from __future__ import annotations

import ipaddress
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voipkit.sip.message import Request, Response


class TransportKind(Enum):
    """A SIP transport. The value is the Via transport token (RFC 3261 §20.42)."""

    __hash__ = object.__hash__  # members are singletons; Enum's own hash runs Python code

    UDP = "UDP"
    TCP = "TCP"
    TLS = "TLS"

    @property
    def reliable(self) -> bool:
        """True for stream transports, which switch off retransmission timers."""
        return self is not TransportKind.UDP

    @property
    def secure(self) -> bool:
        return self is TransportKind.TLS

    @property
    def default_port(self) -> int:
        """5060, or 5061 for TLS (RFC 3261 §19.1.2)."""
        return 5061 if self is TransportKind.TLS else 5060

    @classmethod
    def from_token(cls, token: str) -> TransportKind:
        """Parse a Via or ``transport=`` token, case-insensitively.

        Raises:
            ValueError: for a transport voipkit does not speak (SCTP, WS ...).
        """
        try:
            return cls(token.upper())
        except ValueError:
            raise ValueError(f"unsupported SIP transport {token!r}") from None


Address = tuple[str, int]
"""An IP literal (no brackets for IPv6) and a port."""


def format_host(host: str) -> str:
    """``host`` as it appears in a URI or Via: IPv6 literals get brackets."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def strip_brackets(host: str) -> str:
    """``[::1]`` -> ``::1``; other hosts unchanged."""
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def is_ip_literal(host: str) -> bool:
    """True for an IPv4 or IPv6 literal (with or without brackets)."""
    if ":" not in host and host[:1] != "[":
        return is_ipv4_literal(host)
    try:
        ipaddress.ip_address(strip_brackets(host))
    except ValueError:
        return False
    return True


def is_ipv4_literal(host: str) -> bool:
    """True for a dotted-quad IPv4 literal as ``ipaddress`` accepts it (four decimal
    octets of 1-3 ASCII digits, at most 255, no leading zero).

    Written out because it runs for every request answered (RFC 3261 §18.2.2 picks
    the response destination from the Via) and ``ipaddress`` costs ~10x more.
    """
    parts = host.split(".")
    if len(parts) != 4:
        return False
    for part in parts:
        size = len(part)
        if size == 0 or size > 3 or not part.isdigit() or not part.isascii():
            return False
        if size > 1 and part[0] == "0":
            return False
        if size == 3 and int(part) > 255:
            return False
    return True


class Destination:
    """One resolved next hop: a transport and an IP literal address.

    Immutable and hashable; a plain class so that mypyc compiles its methods (see
    ``transaction.keys.TransactionKey``).
    """

    __slots__ = ("_hash", "_host", "_port", "_transport")

    _transport: TransportKind
    _host: str
    _port: int
    _hash: int

    def __init__(self, transport: TransportKind, host: str, port: int) -> None:
        self._transport = transport
        self._host = host
        self._port = port
        self._hash = hash((transport, host, port))

    @property
    def transport(self) -> TransportKind:
        return self._transport

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def address(self) -> Address:
        return (self._host, self._port)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Destination):
            return NotImplemented
        return (self._hash == other._hash and self._transport is other._transport
                and self._host == other._host and self._port == other._port)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return (f"Destination(transport={self._transport!r}, host={self._host!r}, "
                f"port={self._port!r})")

    def __str__(self) -> str:
        return f"{self.transport.value.lower()}:{format_host(self.host)}:{self.port}"


class Outgoing:
    """Bytes the core wants written to ``destination``.

    ``message`` is the parsed form of ``data`` (for trace hooks and for
    transports that need to know whether it is a request); ``None`` for raw
    keep-alives such as a CRLF ping. Immutable; one is made for every message
    sent, so it is a plain class mypyc builds natively (see ``Destination``).
    """

    __slots__ = ("_data", "_destination", "_message")

    _destination: Destination
    _data: bytes
    _message: Request | Response | None

    def __init__(self, destination: Destination, data: bytes,
                 message: Request | Response | None = None) -> None:
        self._destination = destination
        self._data = data
        self._message = message

    @property
    def destination(self) -> Destination:
        return self._destination

    @property
    def data(self) -> bytes:
        return self._data

    @property
    def message(self) -> Request | Response | None:
        return self._message

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outgoing):
            return NotImplemented
        return (self._destination == other._destination and self._data == other._data
                and self._message == other._message)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Outgoing(destination={self._destination!r}, data={self._data!r}, "
                f"message={self._message!r})")
