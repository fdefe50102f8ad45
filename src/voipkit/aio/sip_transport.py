"""SIP over UDP, TCP and TLS sockets (RFC 3261 §18), for IPv4 and IPv6.

Knows: sockets, ``ssl`` contexts, the asyncio loop, connection reuse and the
stream framer (``voipkit.sip.framing``). Must not know: SIP semantics beyond
framing — which message answers which, Via processing and retransmission belong
to the sans-IO core. Bytes in, bytes out: received messages go to an
``on_receive(data, source, transport)`` callback shaped like
``UserAgentCore.receive``, and ``send(destination, data)`` writes them out.

Datagrams are read with ``loop.add_reader`` and ``recvfrom_into`` a single
preallocated buffer one byte larger than the largest accepted datagram, draining
a bounded batch per wake-up. The default asyncio datagram path allocates 256 KiB
per datagram and caps a loop near 10k packets/s on our machines (DESIGN.md).

Streams: one ``StreamFramer`` per connection; a ``FramingError`` closes the
connection and is counted; a CRLFCRLF keep-alive ping is answered with a CRLF
pong (RFC 5626 §3.5.1). Connections live in one table keyed by
``(transport, remote address)``, so a response to a request that arrived over a
connection goes back over it (RFC 3261 §18.2.2) and requests to a destination
reuse an open connection before opening a new one (§18.1.1). Connections idle for
longer than ``idle_timeout`` are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import ipaddress
import logging
import socket
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import cast

from voipkit.aio.errors import ConnectError, TlsError, TransportError
from voipkit.sip.addressing import Address, Destination, TransportKind, format_host
from voipkit.sip.framing import FramingError, KeepAlive, StreamFramer

logger = logging.getLogger(__name__)

#: The largest UDP payload accepted (RFC 768 length field); anything bigger is dropped.
MAX_DATAGRAM_SIZE = 65535
#: RFC 5626 §3.5.1: a double CRLF is a ping, a single CRLF is the pong.
PING = b"\r\n\r\n"
PONG = b"\r\n"

ReceiveCallback = Callable[[bytes, Address, TransportKind], None]
"""``on_receive(data, source, transport)``: one complete SIP message from the wire."""

ErrorCallback = Callable[[Destination, TransportError], None]
"""``on_error(destination, error)``: bytes queued for ``destination`` could not be sent."""


class Direction(Enum):
    """Which way a traced message went."""

    SENT = "sent"
    RECEIVED = "received"


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One SIP message as it crossed a socket (the onSending/onReceivedSignaling hook)."""

    direction: Direction
    "SENT or RECEIVED."

    transport: TransportKind
    "The transport it went over."

    local: Address
    "Our end of the socket or connection."

    remote: Address
    "The peer's address."

    data: bytes
    "The exact bytes of the message."


TraceHook = Callable[[TraceRecord], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsConfig:
    """TLS settings (stdlib ``ssl``). Certificate verification is on by default.

    ``ca_file``/``ca_path`` add trust anchors to the system ones; ``ciphers`` is an
    OpenSSL cipher list; ``cert_file``/``key_file`` are the certificate chain presented
    when listening (and as a client certificate when connecting, if given).
    """

    verify: bool = True
    ca_file: str | None = None
    ca_path: str | None = None
    ciphers: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    handshake_timeout: float = 10.0

    def client_context(self) -> ssl.SSLContext:
        """An ``SSLContext`` for outgoing connections."""
        ctx = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=self.ca_file, capath=self.ca_path
        )
        if not self.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.ciphers is not None:
            ctx.set_ciphers(self.ciphers)
        if self.cert_file is not None:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def server_context(self) -> ssl.SSLContext:
        """An ``SSLContext`` for listening; needs ``cert_file`` (and ``key_file``)."""
        if self.cert_file is None:
            raise TransportError("a TLS listener needs TlsConfig.cert_file (and key_file)")
        ctx = ssl.create_default_context(
            ssl.Purpose.CLIENT_AUTH, cafile=self.ca_file, capath=self.ca_path
        )
        ctx.load_cert_chain(self.cert_file, self.key_file)
        if self.ciphers is not None:
            ctx.set_ciphers(self.ciphers)
        return ctx


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportConfig:
    """Limits and timeouts of a ``SipTransports`` instance (seconds, bytes)."""

    max_datagram_size: int = MAX_DATAGRAM_SIZE
    "Larger datagrams are dropped and counted (``udp_dropped_oversize``)."

    max_stream_message_size: int = 65536
    "Passed to each connection's ``StreamFramer``; a larger message closes the connection."

    recv_batch: int = 64
    "Datagrams read per readiness callback before yielding to the loop."

    udp_send_queue: int = 1024
    "Datagrams held while the socket returns EAGAIN; beyond that they are dropped."

    udp_receive_buffer: int = 4 * 1024 * 1024
    """SO_RCVBUF asked for on UDP listeners (0: the system default). A busy UAS gets
    bursts (SIPp at 1,200 calls/s overflowed the ~208 KiB default in a 100 ms stall,
    and every dropped INVITE or BYE came back as a retransmission); like Kamailio we
    ask for a large buffer. Linux caps it at ``net.core.rmem_max``; the size granted
    is in ``counters["udp_receive_buffer"]``."""

    connect_timeout: float = 10.0
    idle_timeout: float = 300.0
    "A connection with no traffic either way for this long is closed."

    tls: TlsConfig = field(default_factory=TlsConfig)


def normalize_address(sockaddr: tuple[object, ...] | Address) -> Address:
    """``(host, port[, flow, scope])`` from a socket -> canonical ``(host, port)``."""
    host = str(sockaddr[0])
    port = sockaddr[1]
    assert isinstance(port, int)
    if ":" not in host and "%" not in host and host[:1].isdigit():
        return (host, port)  # IPv4 as the kernel writes it is already canonical
    with contextlib.suppress(ValueError):
        host = ipaddress.ip_address(host.split("%", 1)[0]).compressed
    return (host, port)


@functools.lru_cache(maxsize=256)
def _family(host: str) -> socket.AddressFamily:
    """The family of an IP literal (cached: it runs for every datagram sent)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise TransportError(f"{host!r} is not an IP literal", address=host) from None
    return socket.AF_INET6 if ip.version == 6 else socket.AF_INET


def _label(kind: TransportKind, address: Address) -> str:
    return f"{kind.value.lower()}:{format_host(address[0])}:{address[1]}"


def _bind_error(kind: TransportKind, host: str, port: int, exc: OSError) -> TransportError:
    label = _label(kind, (host, port))
    if exc.errno == errno.EADDRINUSE:
        return TransportError(f"cannot listen on {label}: address already in use", address=label)
    if exc.errno == errno.EADDRNOTAVAIL:
        return TransportError(
            f"cannot listen on {label}: address not available on this host", address=label
        )
    return TransportError(f"cannot listen on {label}: {exc.strerror or exc}", address=label)


class _UdpEndpoint:
    """One bound, non-blocking UDP socket read with add_reader + recvfrom_into."""

    def __init__(self, owner: SipTransports, sock: socket.socket) -> None:
        self._owner = owner
        self._loop = owner.loop
        self.sock = sock
        self.local = normalize_address(sock.getsockname())
        self.family = sock.family
        self._limit = owner.config.max_datagram_size
        self._buffer = bytearray(self._limit + 1)  # +1 detects an oversize datagram
        self._view = memoryview(self._buffer)
        self._queue: deque[tuple[bytes, Address]] = deque()
        self._writing = False
        self._loop.add_reader(sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        owner = self._owner
        counters = owner.counters
        recv = self.sock.recvfrom_into
        for _ in range(owner.config.recv_batch):
            try:
                # MSG_TRUNC makes Linux return the real datagram length even when it
                # is larger than the buffer; the spare byte catches it elsewhere.
                n, sockaddr = recv(self._buffer, 0, socket.MSG_TRUNC)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP errors surfacing on the socket, and the like
                counters["udp_recv_errors"] += 1
                logger.debug("recvfrom on %s: %s", _label(TransportKind.UDP, self.local), exc)
                continue
            if n > self._limit:
                counters["udp_dropped_oversize"] += 1
                continue
            if n == 0:
                continue
            counters["udp_received"] += 1
            owner._deliver(self._view[:n].tobytes(), normalize_address(sockaddr),
                           TransportKind.UDP, self.local)

    def send(self, data: bytes, address: Address) -> None:
        if self._queue:
            self._enqueue(data, address)
            return
        try:
            self.sock.sendto(data, address)
        except (BlockingIOError, InterruptedError):
            self._enqueue(data, address)
        except OSError as exc:
            label = _label(TransportKind.UDP, address)
            raise TransportError(
                f"cannot send {len(data)} bytes to {label}: {exc.strerror or exc}", address=label
            ) from exc

    def _enqueue(self, data: bytes, address: Address) -> None:
        if len(self._queue) >= self._owner.config.udp_send_queue:
            self._owner.counters["udp_send_dropped"] += 1
            return
        self._queue.append((data, address))
        self._owner.counters["udp_send_queued"] += 1
        if not self._writing:
            self._writing = True
            self._loop.add_writer(self.sock.fileno(), self._on_writable)

    def _on_writable(self) -> None:
        while self._queue:
            data, address = self._queue[0]
            try:
                self.sock.sendto(data, address)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._owner.counters["udp_send_errors"] += 1
                logger.debug("sendto %s failed: %s", address, exc)
            self._queue.popleft()
        self._loop.remove_writer(self.sock.fileno())
        self._writing = False

    def close(self) -> None:
        self._loop.remove_reader(self.sock.fileno())
        if self._writing:
            self._loop.remove_writer(self.sock.fileno())
            self._writing = False
        self._queue.clear()
        self.sock.close()


class Connection(asyncio.Protocol):
    """One TCP or TLS connection, inbound or outbound, with its own framer."""

    def __init__(self, owner: SipTransports, kind: TransportKind, *, inbound: bool) -> None:
        self._owner = owner
        self.kind = kind
        self.inbound = inbound
        self.local: Address = ("", 0)
        self.remote: Address = ("", 0)
        self.last_activity = owner.loop.time()
        self._transport: asyncio.Transport | None = None
        # The side that opened the connection is the RFC 5626 client: it pings and
        # expects pongs, so a trailing lone CRLF is a pong at once.
        self._framer = StreamFramer(
            max_message_size=owner.config.max_stream_message_size, expect_pongs=not inbound
        )
        self.closed: asyncio.Future[None] = owner.loop.create_future()

    @property
    def key(self) -> tuple[TransportKind, Address]:
        return (self.kind, self.remote)

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport
        self._transport = cast(asyncio.Transport, transport)
        self.remote = normalize_address(transport.get_extra_info("peername"))
        self.local = normalize_address(transport.get_extra_info("sockname"))
        self.last_activity = self._owner.loop.time()
        self._owner._register(self)

    def data_received(self, data: bytes) -> None:
        owner = self._owner
        self.last_activity = owner.loop.time()
        framer = self._framer
        try:
            framer.feed(data)
            while (item := framer.next_item()) is not None:
                if item is KeepAlive.PING:
                    owner.counters["keepalive_pongs_sent"] += 1
                    self.write_raw(PONG)
                elif item is KeepAlive.PONG:
                    owner.counters["keepalive_pongs_received"] += 1
                elif isinstance(item, bytes):
                    owner.counters["stream_received"] += 1
                    owner._deliver(item, self.remote, self.kind, self.local)
                if not self.is_open:
                    return
        except FramingError as exc:
            owner.counters["stream_framing_errors"] += 1
            logger.info("closing %s: %s", _label(self.kind, self.remote), exc)
            self.close()

    def write(self, data: bytes) -> None:
        """Write one SIP message and trace it."""
        self.write_raw(data)
        self._owner.counters["stream_sent"] += 1
        self._owner._trace_sent(self.kind, self.local, self.remote, data)

    def write_raw(self, data: bytes) -> None:
        if not self.is_open:
            label = _label(self.kind, self.remote)
            raise TransportError(f"connection to {label} is closed", address=label)
        assert self._transport is not None
        self.last_activity = self._owner.loop.time()
        self._transport.write(data)

    def ping(self) -> None:
        """Send an RFC 5626 CRLFCRLF keep-alive ping; the peer answers with a CRLF pong."""
        self.write_raw(PING)

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner._unregister(self)
        if not self.closed.done():
            self.closed.set_result(None)


class SipTransports:
    """Every SIP socket of one user agent: listeners, outgoing connections and their table.

    Args:
        config: limits, timeouts and TLS settings.
        on_receive: called with each complete SIP message received (any transport).
        on_error: called when bytes queued by ``send`` for a not-yet-open connection
            could not be delivered (connect refused, TLS failure, timeout).
        trace: called for every SIP message sent or received.
        trace_wanted: when given, ``trace`` is called only while this returns True
            (no record is built for a message nobody looks at).
    """

    def __init__(
        self,
        *,
        config: TransportConfig | None = None,
        on_receive: ReceiveCallback | None = None,
        on_error: ErrorCallback | None = None,
        trace: TraceHook | None = None,
        trace_wanted: Callable[[], bool] | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.config = config or TransportConfig()
        self.on_receive = on_receive
        self.on_error = on_error
        self.trace = trace
        self.trace_wanted = trace_wanted
        self.counters: dict[str, int] = _Counters()
        self._udp: list[_UdpEndpoint] = []
        self._servers: list[tuple[TransportKind, Address, asyncio.Server]] = []
        self._connections: dict[tuple[TransportKind, Address], Connection] = {}
        self._all_connections: set[Connection] = set()
        self._connecting: dict[tuple[TransportKind, Address], asyncio.Task[None]] = {}
        self._pending: dict[tuple[TransportKind, Address], list[bytes]] = {}
        self._server_names: dict[tuple[TransportKind, Address], str] = {}
        self._client_ctx: ssl.SSLContext | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    # -- listening ---------------------------------------------------------------------

    async def listen(self, kind: TransportKind, host: str, port: int = 0) -> Address:
        """Bind a listener on an IP literal; ``port=0`` picks a free port.

        Returns:
            The bound ``(host, port)``.

        Raises:
            TransportError: the address is in use or not configured on this host.
        """
        family = _family(host)
        sock_type = socket.SOCK_DGRAM if kind is TransportKind.UDP else socket.SOCK_STREAM
        sock = socket.socket(family, sock_type)
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if kind is not TransportKind.UDP:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setblocking(False)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise _bind_error(kind, host, port, exc) from exc
        if kind is TransportKind.UDP:
            if self.config.udp_receive_buffer > 0:
                with contextlib.suppress(OSError):  # a limit, not an error: keep the default
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                    self.config.udp_receive_buffer)
            self.counters["udp_receive_buffer"] = sock.getsockopt(socket.SOL_SOCKET,
                                                                  socket.SO_RCVBUF)
            endpoint = _UdpEndpoint(self, sock)
            self._udp.append(endpoint)
            self._start_sweeper()
            return endpoint.local
        ssl_ctx = self.config.tls.server_context() if kind is TransportKind.TLS else None
        try:
            server = await self.loop.create_server(
                lambda: Connection(self, kind, inbound=True),
                sock=sock,
                ssl=ssl_ctx,
                ssl_handshake_timeout=self.config.tls.handshake_timeout if ssl_ctx else None,
            )
        except OSError as exc:
            sock.close()
            raise _bind_error(kind, host, port, exc) from exc
        bound = normalize_address(sock.getsockname())
        self._servers.append((kind, bound, server))
        self._start_sweeper()
        return bound

    @property
    def listeners(self) -> list[tuple[TransportKind, Address]]:
        """Every bound listener, in the order they were opened."""
        udp = [(TransportKind.UDP, ep.local) for ep in self._udp]
        return udp + [(kind, address) for kind, address, _ in self._servers]

    def local_address(self, kind: TransportKind, family: int | None = None) -> Address:
        """The first listener of ``kind`` (optionally of an address family).

        Raises:
            TransportError: no such listener.
        """
        for listener_kind, address in self.listeners:
            if listener_kind is kind and (family is None or _family(address[0]) == family):
                return address
        raise TransportError(f"no {kind.value} listener", address=None)

    # -- sending -----------------------------------------------------------------------

    def set_server_name(self, destination: Destination, name: str) -> None:
        """The TLS host name to verify when connecting to ``destination`` (RFC 5922 §7.2).

        Without one, the IP literal itself is verified against the certificate.
        """
        self._server_names[(destination.transport, destination.address)] = name

    def connection_for(self, destination: Destination) -> Connection | None:
        """The open connection to ``destination``, if any."""
        conn = self._connections.get((destination.transport, _canon(destination.address)))
        return conn if conn is not None and conn.is_open else None

    @property
    def connections(self) -> list[Connection]:
        """Every open connection, inbound and outbound."""
        return [c for c in self._all_connections if c.is_open]

    def send(self, destination: Destination, data: bytes) -> None:
        """Write ``data`` to ``destination`` now, or once a connection to it is open.

        Over UDP the datagram is sent from the listener of the destination's address
        family. Over TCP/TLS an open connection to the destination is reused, else one
        is opened in the background; if that fails, ``on_error`` is called.

        Raises:
            TransportError: the bytes cannot be sent at all (no UDP listener, the
                kernel refused the datagram, the transports are closed).
        """
        if self._closed:
            raise TransportError("transports are closed", address=str(destination))
        address = _canon(destination.address)
        if destination.transport is TransportKind.UDP:
            endpoint = self._udp_for(destination)
            endpoint.send(data, address)
            self.counters["udp_sent"] += 1
            self._trace_sent(TransportKind.UDP, endpoint.local, address, data)
            return
        key = (destination.transport, address)
        conn = self._connections.get(key)
        if conn is not None and conn.is_open:
            conn.write(data)
            return
        self._pending.setdefault(key, []).append(data)
        if key not in self._connecting:
            task = self.loop.create_task(self._connect_and_flush(destination))
            self._connecting[key] = task

    async def connect(self, destination: Destination, *, server_name: str | None = None,
                      reuse: bool = True) -> Connection:
        """Open (or reuse) a TCP/TLS connection to ``destination``.

        Raises:
            ConnectError: refused, unreachable or timed out.
            TlsError: the TLS handshake failed (untrusted certificate, wrong name).
        """
        if destination.transport is TransportKind.UDP:
            raise TransportError("UDP has no connections", address=str(destination))
        key = (destination.transport, _canon(destination.address))
        if reuse:
            conn = self._connections.get(key)
            if conn is not None and conn.is_open:
                return conn
        if server_name is not None:
            self._server_names[key] = server_name
        return await self._open(destination)

    async def _open(self, destination: Destination) -> Connection:
        kind = destination.transport
        host, port = _canon(destination.address)
        label = str(destination)
        ssl_ctx: ssl.SSLContext | None = None
        server_hostname: str | None = None
        if kind is TransportKind.TLS:
            if self._client_ctx is None:
                self._client_ctx = self.config.tls.client_context()
            ssl_ctx = self._client_ctx
            server_hostname = self._server_names.get((kind, (host, port)), host)
        try:
            async with asyncio.timeout(self.config.connect_timeout):
                _, proto = await self.loop.create_connection(
                    lambda: Connection(self, kind, inbound=False),
                    host,
                    port,
                    ssl=ssl_ctx,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=(
                        self.config.tls.handshake_timeout if ssl_ctx else None
                    ),
                )
        except ssl.SSLCertVerificationError as exc:
            raise TlsError(
                f"TLS handshake with {label} (as {server_hostname!r}) failed: "
                f"certificate not accepted: {exc.verify_message or exc.reason}",
                address=label,
            ) from exc
        except ssl.SSLError as exc:
            raise TlsError(f"TLS handshake with {label} failed: {exc.reason or exc}",
                           address=label) from exc
        except TimeoutError as exc:
            raise ConnectError(
                f"cannot connect to {label}: timed out after {self.config.connect_timeout} s",
                address=label,
            ) from exc
        except OSError as exc:
            raise ConnectError(f"cannot connect to {label}: {exc.strerror or exc}",
                               address=label) from exc
        assert isinstance(proto, Connection)
        self.counters["connections_opened"] += 1
        return proto

    async def _connect_and_flush(self, destination: Destination) -> None:
        key = (destination.transport, _canon(destination.address))
        try:
            try:
                conn = await self._open(destination)
            finally:
                self._connecting.pop(key, None)
            for data in self._pending.pop(key, []):
                conn.write(data)
        except TransportError as exc:
            self._pending.pop(key, None)
            self.counters["connect_failures"] += 1
            if self.on_error is not None:
                self.on_error(destination, exc)
            else:
                logger.warning("dropping data for %s: %s", destination, exc)

    def _udp_for(self, destination: Destination) -> _UdpEndpoint:
        family = _family(destination.host)
        for endpoint in self._udp:
            if endpoint.family == family:
                return endpoint
        fam = "IPv6" if family == socket.AF_INET6 else "IPv4"
        raise TransportError(f"cannot send to {destination}: no {fam} UDP listener",
                             address=str(destination))

    # -- receiving, tracing, bookkeeping -------------------------------------------------

    def _deliver(self, data: bytes, source: Address, kind: TransportKind, local: Address) -> None:
        if self.trace is not None and (self.trace_wanted is None or self.trace_wanted()):
            self.trace(TraceRecord(Direction.RECEIVED, kind, local, source, data))
        if self.on_receive is not None:
            self.on_receive(data, source, kind)

    def _trace_sent(self, kind: TransportKind, local: Address, remote: Address,
                    data: bytes) -> None:
        if self.trace is not None and (self.trace_wanted is None or self.trace_wanted()):
            self.trace(TraceRecord(Direction.SENT, kind, local, remote, data))

    def _register(self, conn: Connection) -> None:
        self._all_connections.add(conn)
        self._connections[conn.key] = conn
        if conn.inbound:
            self.counters["connections_accepted"] += 1

    def _unregister(self, conn: Connection) -> None:
        self._all_connections.discard(conn)
        if self._connections.get(conn.key) is conn:
            del self._connections[conn.key]

    def close_idle(self, *, now: float) -> int:
        """Close connections silent since ``now - idle_timeout``; returns how many."""
        limit = now - self.config.idle_timeout
        idle = [c for c in self._all_connections if c.is_open and c.last_activity <= limit]
        for conn in idle:
            conn.close()
        self.counters["connections_closed_idle"] += len(idle)
        return len(idle)

    def _start_sweeper(self) -> None:
        if self._sweeper is None and not self._closed:
            interval = max(self.config.idle_timeout / 4, 0.05)
            self._sweeper = self.loop.call_later(interval, self._sweep)

    def _sweep(self) -> None:
        self._sweeper = None
        self.close_idle(now=self.loop.time())
        self._start_sweeper()

    async def close(self) -> None:
        """Close every listener and connection and wait for the connections to go."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for task in list(self._connecting.values()):
            task.cancel()
        for endpoint in self._udp:
            endpoint.close()
        self._udp.clear()
        for _, _, server in self._servers:
            server.close()
        conns = list(self._all_connections)
        for conn in conns:
            conn.close()
        if conns:
            await asyncio.wait([c.closed for c in conns], timeout=2.0)
        for _, _, server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    async def __aenter__(self) -> SipTransports:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class _Counters(dict[str, int]):
    """A ``dict`` whose missing counters read as 0."""

    def __missing__(self, key: str) -> int:
        return 0


def _canon(address: Address) -> Address:
    return normalize_address(address)


__all__ = [
    "MAX_DATAGRAM_SIZE",
    "PING",
    "PONG",
    "Connection",
    "Direction",
    "ErrorCallback",
    "ReceiveCallback",
    "SipTransports",
    "TlsConfig",
    "TraceHook",
    "TraceRecord",
    "TransportConfig",
    "normalize_address",
]
