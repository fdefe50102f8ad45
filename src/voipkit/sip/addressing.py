"""Where SIP messages come from and go to, as plain values.

Knows: transport kinds (RFC 3261 §18), IP literal addresses and the shape of an
outgoing datagram or stream write. Must not know: sockets, DNS or asyncio — the
``aio`` layer turns a ``Destination`` into a socket operation, and resolves
host names (RFC 3263) into ordered ``Destination`` lists before the core sees
them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voipkit.sip.message import Request, Response


class TransportKind(Enum):
    """A SIP transport. The value is the Via transport token (RFC 3261 §20.42)."""

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
    try:
        ipaddress.ip_address(strip_brackets(host))
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Destination:
    """One resolved next hop: a transport and an IP literal address."""

    transport: TransportKind
    host: str
    port: int

    @property
    def address(self) -> Address:
        return (self.host, self.port)

    def __str__(self) -> str:
        return f"{self.transport.value.lower()}:{format_host(self.host)}:{self.port}"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """Bytes the core wants written to ``destination``.

    ``message`` is the parsed form of ``data`` (for trace hooks and for
    transports that need to know whether it is a request); ``None`` for raw
    keep-alives such as a CRLF ping.
    """

    destination: Destination
    data: bytes
    message: Request | Response | None = None
