"""RTP and RTCP sockets for one media stream: port pair allocation, symmetric RTP, counters.

Knows: UDP sockets, ``loop.add_reader``, port ranges (the PortSIP manual's
``setRtpPortRange``: an even RTP port and RTP + 1 for RTCP, RFC 3550 §11), and
symmetric RTP (RFC 4961; "comedia" latching behind NAT). Must not know: what
the bytes are — RTP/RTCP parsing, SSRCs, codecs and jitter belong to
``voipkit.media``. Bytes in (callbacks with the arrival time on the loop
clock), bytes out (``send_rtp``/``send_rtcp``).

Reading. Each socket is non-blocking and read with ``loop.add_reader`` and
``recvfrom_into`` one preallocated buffer, draining a bounded batch per wake-up.
The default asyncio datagram path allocates a 256 KiB buffer per datagram and
caps a loop near 10k packets/s on our machines (DESIGN.md, measured limits);
a few hundred calls at 50 packets/s each need better.

Symmetric RTP. Until a packet arrives, RTP goes to the address from SDP. With
``symmetric=True`` the source address of the first RTP packet received is
latched and used from then on (and its port + 1 for RTCP, until an RTCP packet
latches the RTCP address itself). ``set_remote`` (a new SDP answer or
re-INVITE) clears the latch.

Local address. The caller passes the IP to bind (the one it puts in SDP); this
module never guesses the machine's address.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import ipaddress
import itertools
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from voipkit.aio.errors import TransportError

logger = logging.getLogger(__name__)

Address = tuple[str, int]
PacketHandler = Callable[[bytes, Address, float], None]
"""``(data, source address, arrival on the loop clock)``."""

#: Larger than any RTP packet we accept; a datagram filling it is counted as dropped.
RECV_BUFFER_SIZE = 8192
RECV_BATCH = 64


@dataclass(slots=True)
class RtpSocketCounters:
    """Packets through the pair since it was opened."""

    rtp_sent: int = 0
    rtp_received: int = 0
    rtcp_sent: int = 0
    rtcp_received: int = 0
    dropped: int = 0
    "Sends that failed or had no destination, oversized or errored receives."


@functools.lru_cache(maxsize=64)
def _family(ip: str) -> socket.AddressFamily:
    """The family of a literal IP (cached: a phone binds the same IP for every call)."""
    try:
        return socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET
    except ValueError as exc:
        raise TransportError(f"not an IP address to bind RTP to: {ip!r}", address=ip) from exc


def _bind(family: socket.AddressFamily, ip: str, port: int) -> socket.SocketType:
    # the C socket type itself: the ``socket.socket`` subclass adds only a Python-level
    # __init__ and close() (file-object bookkeeping) that every call would pay twice
    sock = socket.SocketType(family, socket.SOCK_DGRAM)
    try:
        sock.bind((ip, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _set_dscp(sock: socket.SocketType, family: socket.AddressFamily, dscp: int) -> None:
    """DSCP goes in the top six bits of the TOS / traffic-class byte (RFC 2474 §3)."""
    tos = (dscp & 0x3F) << 2
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, tos)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)


class RtpSocketPair:
    """A bound RTP socket (even port) and RTCP socket (port + 1) with symmetric RTP.

    Create with ``RtpSocketPair.open(...)``; close with ``close()`` (or use it as a
    context manager).

    Args:
        loop: the running loop; readers are registered on it.
        rtp_sock, rtcp_sock: bound non-blocking sockets.
        on_rtp, on_rtcp: ``(data, source, arrival)`` callbacks.
        remote_rtp, remote_rtcp: destinations from SDP (``None`` until known;
            RTCP defaults to the RTP port + 1, RFC 3550 §11).
        symmetric: latch onto the source address of received packets.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        rtp_sock: socket.SocketType,
        rtcp_sock: socket.SocketType,
        *,
        on_rtp: PacketHandler | None = None,
        on_rtcp: PacketHandler | None = None,
        remote_rtp: Address | None = None,
        remote_rtcp: Address | None = None,
        symmetric: bool = True,
        recv_buffer_size: int = RECV_BUFFER_SIZE,
    ) -> None:
        self.loop = loop
        self.on_rtp = on_rtp
        self.on_rtcp = on_rtcp
        self.symmetric = symmetric
        self.counters = RtpSocketCounters()
        self._rtp = rtp_sock
        self._rtcp = rtcp_sock
        local = rtp_sock.getsockname()
        self.local_ip: str = local[0]
        self.rtp_port: int = local[1]
        self.rtcp_port: int = rtcp_sock.getsockname()[1]
        self._sdp_rtp: Address | None = None
        self._sdp_rtcp: Address | None = None
        self._latched_rtp: Address | None = None
        self._latched_rtcp: Address | None = None
        self.set_remote(remote_rtp, remote_rtcp)
        self._buffer_size = recv_buffer_size
        self._buffer: bytearray | None = None  # allocated by the first datagram
        self._view = memoryview(b"")
        self._closed = False
        loop.add_reader(rtp_sock.fileno(), self._on_readable, rtp_sock, True)
        loop.add_reader(rtcp_sock.fileno(), self._on_readable, rtcp_sock, False)

    @classmethod
    def open(
        cls,
        local_ip: str,
        *,
        port_range: tuple[int, int] = (10000, 20000),
        loop: asyncio.AbstractEventLoop | None = None,
        on_rtp: PacketHandler | None = None,
        on_rtcp: PacketHandler | None = None,
        remote_rtp: Address | None = None,
        remote_rtcp: Address | None = None,
        symmetric: bool = True,
        dscp: int | None = None,
        first_port: int | None = None,
        recv_buffer_size: int = RECV_BUFFER_SIZE,
    ) -> RtpSocketPair:
        """Bind the first free even/odd pair in ``port_range`` (inclusive) on ``local_ip``.

        Args:
            first_port: where to start searching (wrapping around the range),
                so successive calls can spread over the range; default the minimum.
            dscp: DiffServ code point for both sockets (46 = EF for voice).
            recv_buffer_size: the largest datagram read, plus one (video with a large
                MTU needs up to 65,508).

        Raises:
            TransportError: every pair in the range is in use (the message names
                the range), the range is invalid, or binding fails otherwise.
        """
        low, high = port_range
        if not 0 < low <= high <= 65535:
            raise TransportError(f"invalid RTP port range {low}-{high}", address=local_ip)
        family = _family(local_ip)
        first_even = low + (low & 1)
        evens = range(first_even, high, 2)  # each p with p + 1 <= high
        if not evens:
            raise TransportError(f"RTP port range {low}-{high} holds no even/odd pair",
                                 address=local_ip)
        at = 0
        if first_port is not None and first_even <= first_port < high:
            at = (first_port - first_even) // 2
        # from the pair at ``first_port`` to the end, then wrapping to the start; lazily,
        # since the first try usually succeeds and a wide range holds ~20000 pairs
        for port in itertools.chain(evens[at:], evens[:at]):
            try:
                rtp = _bind(family, local_ip, port)
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise TransportError(f"cannot bind RTP to {local_ip}:{port}: {exc.strerror}",
                                     address=local_ip) from exc
            try:
                rtcp = _bind(family, local_ip, port + 1)
            except OSError as exc:
                rtp.close()
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise TransportError(
                    f"cannot bind RTCP to {local_ip}:{port + 1}: {exc.strerror}",
                    address=local_ip) from exc
            try:
                if dscp is not None:
                    _set_dscp(rtp, family, dscp)
                    _set_dscp(rtcp, family, dscp)
                return cls(loop if loop is not None else asyncio.get_running_loop(), rtp, rtcp,
                           on_rtp=on_rtp, on_rtcp=on_rtcp, remote_rtp=remote_rtp,
                           remote_rtcp=remote_rtcp, symmetric=symmetric,
                           recv_buffer_size=recv_buffer_size)
            except BaseException:
                rtp.close()
                rtcp.close()
                raise
        raise TransportError(
            f"no free RTP/RTCP port pair in range {low}-{high} on {local_ip}", address=local_ip)

    # -- destinations ----------------------------------------------------------

    def set_remote(self, rtp: Address | None, rtcp: Address | None = None) -> None:
        """Where to send (from SDP); clears any latched address."""
        self._sdp_rtp = rtp
        self._sdp_rtcp = rtcp if rtcp is not None or rtp is None else (rtp[0], rtp[1] + 1)
        self._latched_rtp = None
        self._latched_rtcp = None

    @property
    def remote_rtp(self) -> Address | None:
        """Where RTP goes now: the latched source, else the SDP address."""
        return self._latched_rtp or self._sdp_rtp

    @property
    def remote_rtcp(self) -> Address | None:
        """Where RTCP goes now: latched RTCP source, latched RTP + 1, else from SDP."""
        if self._latched_rtcp is not None:
            return self._latched_rtcp
        if self._latched_rtp is not None:
            return (self._latched_rtp[0], self._latched_rtp[1] + 1)
        return self._sdp_rtcp

    @property
    def latched(self) -> bool:
        """True once the RTP destination comes from received packets."""
        return self._latched_rtp is not None

    # -- I/O -----------------------------------------------------------------------

    def _on_readable(self, sock: socket.SocketType, is_rtp: bool) -> None:
        counters = self.counters
        handler = self.on_rtp if is_rtp else self.on_rtcp
        buffer = self._buffer
        if buffer is None:
            buffer = self._buffer = bytearray(self._buffer_size)
            self._view = memoryview(buffer)
        for _ in range(RECV_BATCH):
            try:
                n, source = sock.recvfrom_into(buffer)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP port unreachable surfacing as ECONNREFUSED
                counters.dropped += 1
                logger.debug("RTP receive on port %d: %s", sock.getsockname()[1], exc)
                continue
            if n >= len(buffer):
                counters.dropped += 1
                continue
            addr: Address = (source[0], source[1])
            if is_rtp:
                counters.rtp_received += 1
                if self.symmetric and self._latched_rtp is None:
                    self._latched_rtp = addr
                    logger.debug("RTP latched to %s:%d", *addr)
            else:
                counters.rtcp_received += 1
                if self.symmetric and self._latched_rtcp is None:
                    self._latched_rtcp = addr
            if handler is not None:
                handler(self._view[:n].tobytes(), addr, self.loop.time())
            if self._closed:
                return

    def _send(self, sock: socket.SocketType, data: bytes, to: Address | None) -> bool:
        if to is None or self._closed:
            self.counters.dropped += 1
            return False
        try:
            sock.sendto(data, to)
        except OSError as exc:  # includes a full send buffer (BlockingIOError)
            self.counters.dropped += 1
            logger.debug("RTP send to %s:%d: %s", to[0], to[1], exc)
            return False
        return True

    def send_rtp(self, data: bytes) -> bool:
        """Send one RTP datagram; False (and counted as dropped) if it could not go."""
        ok = self._send(self._rtp, data, self.remote_rtp)
        self.counters.rtp_sent += ok
        return ok

    def send_rtcp(self, data: bytes) -> bool:
        """Send one RTCP datagram; False (and counted as dropped) if it could not go."""
        ok = self._send(self._rtcp, data, self.remote_rtcp)
        self.counters.rtcp_sent += ok
        return ok

    def close(self) -> None:
        """Stop reading and close both sockets; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for sock in (self._rtp, self._rtcp):
            self.loop.remove_reader(sock.fileno())
            sock.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def rtp_socket(self) -> socket.SocketType:
        """The RTP socket (for socket options; do not read from it)."""
        return self._rtp

    @property
    def rtcp_socket(self) -> socket.SocketType:
        """The RTCP socket (for socket options; do not read from it)."""
        return self._rtcp

    def __enter__(self) -> RtpSocketPair:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["Address", "PacketHandler", "RtpSocketCounters", "RtpSocketPair"]
