"""STUN Binding client over UDP (RFC 5389 §7, RFC 8489): learn our public address.

Knows: UDP sockets, the asyncio loop, the RFC 5389 §7.2.1 retransmission
schedule (RTO 0.5 s doubling, Rc = 7 requests, a last wait of Rm = 16 x RTO: 39.5 s
in all) and the wire codec in ``voipkit.aio.stun_message``. Must not know: SIP —
what the mapped address is used for (Contact, Via, SDP) is the caller's business.

Two ways to run a Binding transaction:

- ``stun_binding(server, local_ip=..., sock=...)`` on a fresh socket, or on an
  existing UDP socket (object or fd) that nobody else reads during the call (it
  takes the socket's ``add_reader`` slot).
- ``StunClient(send)`` for a socket shared with SIP (the PortSIP ``setUser``
  ``stunServerAddr``/``stunServerPort`` case: the public address of the SIP UDP
  socket itself). Requests go out through ``send(data, addr)``; the socket's
  receive path calls ``feed(data, source)``, which takes STUN datagrams (first
  two bits 0b00 and the magic cookie, ``is_stun``) and leaves SIP to its owner.
  ``attach(transports)`` wires both ends to a ``SipTransports``; it also answers
  Binding requests arriving on the SIP socket (RFC 5626 §3.5.1 keep-alives from a
  peer) with XOR-MAPPED-ADDRESS = source.

Errors: ``StunTimeoutError`` (no answer after the whole schedule or the caller's
``timeout``) and ``StunServerError`` (an error response), both ``TransportError``
naming the server as ``udp:host:port``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from voipkit.aio.errors import TransportError
from voipkit.aio.stun_message import (
    BINDING,
    StunClass,
    StunError,
    StunMessage,
    binding_request,
    binding_response,
    is_stun,
    new_transaction_id,
)
from voipkit.base.ids import IdSource
from voipkit.sip.addressing import Address, Destination, TransportKind, format_host

if TYPE_CHECKING:
    from voipkit.aio.sip_transport import SipTransports

logger = logging.getLogger(__name__)

#: RFC 5389 §7.2.1 defaults.
DEFAULT_RTO = 0.5
DEFAULT_RC = 7
DEFAULT_RM = 16

SendCallable = Callable[[bytes, Address], None]


class StunTimeoutError(TransportError):
    """A STUN server did not answer a Binding request in time."""


class StunServerError(TransportError):
    """A STUN server answered with an error response (``code``, ``reason``)."""

    def __init__(self, message: str, *, address: str | None, code: int, reason: str) -> None:
        super().__init__(message, address=address)
        self.code = code
        self.reason = reason


def _label(server: Address) -> str:
    return f"udp:{format_host(server[0])}:{server[1]}"


def _canon(address: tuple[object, ...] | Address) -> Address:
    host = str(address[0])
    port = address[1]
    assert isinstance(port, int)
    with contextlib.suppress(ValueError):
        host = ipaddress.ip_address(host.split("%", 1)[0]).compressed
    return host, port


def retransmit_waits(rto: float = DEFAULT_RTO, rc: int = DEFAULT_RC,
                     rm: int = DEFAULT_RM) -> list[float]:
    """How long to wait after each of the ``rc`` sends (RFC 5389 §7.2.1).

    With the defaults: 0.5, 1, 2, 4, 8, 16 and a last wait of 16 x 0.5 = 8 s, so
    requests go out at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s and the transaction
    fails at 39.5 s.
    """
    if rc < 1 or rto <= 0 or rm < 1:
        raise ValueError("need rc >= 1, rm >= 1 and rto > 0")
    return [rto * 2**i for i in range(rc - 1)] + [rm * rto]


class StunClient:
    """Binding transactions over a send callable, answered through ``feed``.

    Args:
        send: writes one datagram to an address (raises ``TransportError`` on failure).
        ids: source of transaction ids (``RandomIds`` by default).
        software: a SOFTWARE attribute to put in requests (RFC 5389 §15.10).
        rto, rc, rm: the RFC 5389 §7.2.1 retransmission parameters.
        answer_requests: reply to incoming Binding requests (server side of
            RFC 5626 §3.5.1 keep-alives).
    """

    def __init__(
        self,
        send: SendCallable,
        *,
        ids: IdSource | None = None,
        software: str | None = None,
        rto: float = DEFAULT_RTO,
        rc: int = DEFAULT_RC,
        rm: int = DEFAULT_RM,
        answer_requests: bool = True,
    ) -> None:
        self._send = send
        self._ids = ids
        self.software = software
        self._waits = retransmit_waits(rto, rc, rm)
        self.answer_requests = answer_requests
        self._pending: dict[bytes, asyncio.Future[StunMessage]] = {}
        self.counters: dict[str, int] = {
            "requests_sent": 0, "responses": 0, "malformed": 0, "stray": 0,
            "requests_answered": 0,
        }

    def feed(self, data: bytes, source: Address) -> bool:
        """Offer one received datagram; True if it was STUN (and is now handled)."""
        if not is_stun(data):
            return False
        try:
            msg = StunMessage.decode(data)
        except StunError as exc:
            self.counters["malformed"] += 1
            logger.debug("dropping malformed STUN from %s: %s", source, exc)
            return True
        if msg.cls is StunClass.REQUEST:
            if self.answer_requests and msg.method == BINDING:
                with contextlib.suppress(TransportError):
                    self._send(binding_response(msg.transaction_id, _canon(source),
                                                software=self.software), source)
                    self.counters["requests_answered"] += 1
            return True
        future = self._pending.get(msg.transaction_id)
        if future is None or future.done() or msg.cls is StunClass.INDICATION:
            self.counters["stray"] += 1
            return True
        if msg.cls is StunClass.SUCCESS and msg.unknown_required():
            # RFC 5389 §7.3.3: a success response with unknown comprehension-required
            # attributes is discarded (the transaction goes on).
            self.counters["malformed"] += 1
            return True
        self.counters["responses"] += 1
        future.set_result(msg)
        return True

    def wrap(self, on_receive: Callable[[bytes, Address, TransportKind], None] | None,
             ) -> Callable[[bytes, Address, TransportKind], None]:
        """An ``on_receive`` that takes UDP STUN datagrams and passes the rest on."""

        def receive(data: bytes, source: Address, transport: TransportKind) -> None:
            # the first test of is_stun, inline: a SIP message (a letter) or a CRLF
            # keep-alive never gets as far as feed (one datagram in, per SIP message)
            if (transport is TransportKind.UDP and data and not data[0] & 0xC0
                    and self.feed(data, source)):
                return
            if on_receive is not None:
                on_receive(data, source, transport)

        return receive

    @classmethod
    def attach(cls, transports: SipTransports, *, ids: IdSource | None = None,
               software: str | None = None, rto: float = DEFAULT_RTO, rc: int = DEFAULT_RC,
               rm: int = DEFAULT_RM) -> StunClient:
        """A client sharing ``transports``' UDP sockets (install after ``SipDriver``).

        Requests go out via ``transports.send`` (from the listener of the server's
        address family); ``transports.on_receive`` is wrapped to take STUN out first.
        """

        def send(data: bytes, address: Address) -> None:
            transports.send(Destination(TransportKind.UDP, address[0], address[1]), data)

        client = cls(send, ids=ids, software=software, rto=rto, rc=rc, rm=rm)
        transports.on_receive = client.wrap(transports.on_receive)
        return client

    async def binding(self, server: Address, *, timeout: float | None = None) -> Address:
        """Run one Binding transaction with ``server``; returns the mapped ``(ip, port)``.

        Raises:
            StunTimeoutError: no response after the RFC 5389 §7.2.1 schedule (or
                ``timeout`` seconds, whichever ends first).
            StunServerError: the server answered with an error response.
            TransportError: the request could not be sent, or the response had no
                mapped address.
        """
        server = _canon(server)
        label = _label(server)
        tid = new_transaction_id(self._ids)
        request = binding_request(tid, software=self.software)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StunMessage] = loop.create_future()
        self._pending[tid] = future
        try:
            try:
                async with asyncio.timeout(timeout):
                    msg = await self._transact(request, server, future)
            except TimeoutError:
                total = sum(self._waits)
                limit = total if timeout is None else min(timeout, total)
                raise StunTimeoutError(
                    f"STUN server {label} did not answer a Binding request "
                    f"within {limit:g} s", address=label) from None
        finally:
            self._pending.pop(tid, None)
        if msg.cls is StunClass.ERROR:
            code, reason = msg.error or (0, "")
            raise StunServerError(f"STUN server {label} answered {code} {reason}".rstrip(),
                                  address=label, code=code, reason=reason)
        try:
            mapped = msg.reflexive_address
        except StunError as exc:
            raise TransportError(f"STUN server {label} sent a bad mapped address: {exc}",
                                 address=label) from exc
        if mapped is None:
            raise TransportError(f"STUN server {label} answered without a mapped address",
                                 address=label)
        return mapped

    async def _transact(self, request: bytes, server: Address,
                        future: asyncio.Future[StunMessage]) -> StunMessage:
        for wait in self._waits:
            self._send(request, server)
            self.counters["requests_sent"] += 1
            done, _ = await asyncio.wait([future], timeout=wait)
            if done:
                return future.result()
        raise TimeoutError


async def stun_binding(
    server: Address,
    *,
    local_ip: str | None = None,
    sock: socket.socket | int | None = None,
    timeout: float | None = None,
    ids: IdSource | None = None,
    software: str | None = None,
    rto: float = DEFAULT_RTO,
    rc: int = DEFAULT_RC,
    rm: int = DEFAULT_RM,
) -> Address:
    """The mapped ``(ip, port)`` a STUN server sees for a UDP socket.

    Args:
        server: the STUN server's IP literal and port (3478 usually).
        local_ip: the address to bind a fresh socket to (default: the wildcard of
            the server's family); ignored with ``sock``.
        sock: an existing UDP socket, or its fd, to ask about. It must not be read
            by anyone else during the call; it is not closed afterwards. For the SIP
            socket owned by ``SipTransports`` use ``StunClient.attach`` instead.
        timeout: an overall limit in seconds on top of the retransmission schedule.

    Raises:
        StunTimeoutError, StunServerError, TransportError: see ``StunClient.binding``.
    """
    server = _canon(server)
    family = socket.AF_INET6 if ipaddress.ip_address(server[0]).version == 6 else socket.AF_INET
    own = sock is None
    if sock is None:
        fresh = socket.socket(family, socket.SOCK_DGRAM)
        try:
            fresh.bind((local_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0"), 0))
        except OSError as exc:
            fresh.close()
            raise TransportError(f"cannot bind a STUN socket on {local_ip}: {exc.strerror}",
                                 address=local_ip) from exc
        s = fresh
    elif isinstance(sock, int):
        s = socket.socket(fileno=sock)
    else:
        s = sock
    loop = asyncio.get_running_loop()

    def send(data: bytes, address: Address) -> None:
        try:
            s.sendto(data, address)
        except OSError as exc:
            raise TransportError(f"cannot send STUN to {_label(address)}: {exc.strerror}",
                                 address=_label(address)) from exc

    client = StunClient(send, ids=ids, software=software, rto=rto, rc=rc, rm=rm,
                        answer_requests=False)

    def readable() -> None:
        for _ in range(64):
            try:
                data, source = s.recvfrom(65535, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP port unreachable and the like
                logger.debug("STUN socket error: %s", exc)
                continue
            client.feed(data, _canon(source))

    fd = s.fileno()
    loop.add_reader(fd, readable)
    try:
        return await client.binding(server, timeout=timeout)
    finally:
        loop.remove_reader(fd)
        if own:
            s.close()
        elif isinstance(sock, int):
            s.detach()


__all__ = [
    "DEFAULT_RC",
    "DEFAULT_RM",
    "DEFAULT_RTO",
    "StunClient",
    "StunServerError",
    "StunTimeoutError",
    "is_stun",
    "retransmit_waits",
    "stun_binding",
]
