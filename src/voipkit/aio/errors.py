"""Exceptions raised by the asyncio edge (sockets, TLS, DNS).

Knows: which network operation failed, on which address, and why. Must not know:
SIP semantics — the core learns about a failed send through
``UserAgentCore.transport_error`` and turns it into failover or an event.

::

    TransportError          a socket operation failed (bind, send, receive)
    ├── ConnectError        a TCP/TLS connection could not be opened (refused, timed out)
    │   └── TlsError        the TLS handshake failed (certificate, hostname, protocol)
    └── ResolveError        RFC 3263 location found no usable destination

Every message names the address (or the host being resolved) and the problem, so
a log line is enough to act on.
"""

from __future__ import annotations

from voipkit.base.errors import VoipkitError


class TransportError(VoipkitError):
    """A socket operation failed; ``address`` names the local or remote end involved."""

    def __init__(self, message: str, *, address: str | None = None) -> None:
        super().__init__(message)
        self.address = address
        "The address (``udp:127.0.0.1:5060`` style, or a host name) the error is about."


class ConnectError(TransportError):
    """A stream connection to a destination could not be established."""


class TlsError(ConnectError):
    """A TLS handshake failed: certificate not trusted, wrong host name, protocol mismatch."""


class ResolveError(TransportError):
    """RFC 3263 server location produced no destination for a URI or host."""


__all__ = ["ConnectError", "ResolveError", "TlsError", "TransportError"]
