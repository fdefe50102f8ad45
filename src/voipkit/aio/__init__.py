"""L2: the asyncio edge of voipkit — SIP sockets, TLS, DNS and the driver that pumps the core.

Knows: asyncio, ``socket``, ``ssl``, dnspython and (optionally) uvloop, plus the
sans-IO layers below. Must not know: ``api``, ``compat`` or ``testing``. This is the
only package (with the future media driver) that performs I/O or reads the loop
clock; everything below it is driven with bytes and ``now`` values.
"""

from voipkit.aio.errors import ConnectError, ResolveError, TlsError, TransportError
from voipkit.aio.loop import LoopClock, loop_factory, run, uvloop_available
from voipkit.aio.resolver import SipResolver, SrvRecord, order_srv, prefer_tcp_for_size
from voipkit.aio.sip_driver import SipDriver
from voipkit.aio.sip_transport import (
    Connection,
    Direction,
    SipTransports,
    TlsConfig,
    TraceRecord,
    TransportConfig,
)

__all__ = [
    "ConnectError",
    "Connection",
    "Direction",
    "LoopClock",
    "ResolveError",
    "SipDriver",
    "SipResolver",
    "SipTransports",
    "SrvRecord",
    "TlsConfig",
    "TlsError",
    "TraceRecord",
    "TransportConfig",
    "TransportError",
    "loop_factory",
    "order_srv",
    "prefer_tcp_for_size",
    "run",
    "uvloop_available",
]
