"""SipDriver: pumps a sans-IO UserAgentCore through real sockets and the loop's timer.

Knows: the core's three inputs (``receive``, application calls, ``handle_timer``)
and two outputs (``datagrams_to_send``, ``next_event``), ``SipTransports``, the
resolver and the event loop. Must not know: SIP rules — which response matches,
retransmission and failover all live in the core. The driver is the aioquic
``QuicConnectionProtocol`` shape (style guide, example 10): after every input it
sends what the core produced, delivers its events, and re-arms ONE
``loop.call_at`` timer from ``core.get_timer()``, never handing the core a time
before the deadline it asked for.

A send that fails (synchronously, or later when a connection cannot be opened)
becomes ``core.transport_error(destination)``, which the core turns into failover
to the next target or a ``TransportFailed`` event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from voipkit.aio.errors import ResolveError, TransportError
from voipkit.aio.loop import LoopClock
from voipkit.aio.resolver import VIA_ALLOWANCE, SipResolver, prefer_tcp_for_size
from voipkit.aio.sip_transport import SipTransports
from voipkit.base.clock import Clock
from voipkit.sip.addressing import Address, Destination, Outgoing, TransportKind, is_ip_literal
from voipkit.sip.events import ResponseReceived, TransactionTimedOut, TransportFailed
from voipkit.sip.uri import SipUri

if TYPE_CHECKING:
    from voipkit.sip.message import Request, Response
    from voipkit.sip.transaction.keys import TransactionKey

logger = logging.getLogger(__name__)


class Core(Protocol):
    """The part of ``voipkit.sip.ua.UserAgentCore`` the driver uses."""

    def add_local_address(self, transport: TransportKind, host: str, port: int) -> None: ...
    def local_address(self, transport: TransportKind, family: int | None = None,
                      ) -> Address | None: ...
    def receive(self, data: bytes, source: Address, transport: TransportKind, *,
                now: float) -> None: ...
    def send_request(self, request: Request, targets: Sequence[Destination], *,
                     now: float) -> TransactionKey: ...
    def send_response(self, response: Response, *, now: float) -> None: ...
    def transport_error(self, destination: Destination, *, now: float) -> None: ...
    def handle_timer(self, *, now: float) -> None: ...
    def get_timer(self) -> float | None: ...
    def datagrams_to_send(self) -> list[Outgoing]: ...
    def next_event(self) -> object | None: ...
    # a bare core yields CoreEvents; a UsageManager also yields usage events


EventHandler = Callable[[object], None]


class SipDriver:
    """Binds a UserAgentCore to ``SipTransports`` and to one loop timer.

    Args:
        core: the sans-IO user agent.
        transports: the sockets; the driver installs itself as their ``on_receive``
            and ``on_error`` callbacks.
        clock: must share the loop's time base; ``LoopClock()`` by default.
        resolver: used by ``send_request`` for URIs; a system-configured
            ``SipResolver`` is made on first use when not given.
        on_event: called on the loop for each core event; when ``None``, events go
            to the ``events`` queue instead.
        mtu: path MTU for the RFC 3261 §18.1.1 UDP->TCP switch (``None``: unknown).
    """

    def __init__(
        self,
        core: Core,
        transports: SipTransports,
        clock: Clock | None = None,
        *,
        resolver: SipResolver | None = None,
        on_event: EventHandler | None = None,
        mtu: int | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._core = core
        self._transports = transports
        self._clock: Clock = clock if clock is not None else LoopClock(self._loop)
        self._resolver = resolver
        self._on_event = on_event
        self._mtu = mtu
        self.events: asyncio.Queue[object] = asyncio.Queue()
        "Core events, when no ``on_event`` handler was given."
        self.counters: dict[str, int] = {"send_errors": 0, "handler_errors": 0}
        self._pumping = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._waiting: dict[TransactionKey, asyncio.Future[Response]] = {}
        self._closed = False
        transports.on_receive = self.receive
        transports.on_error = self._on_transport_error
        for kind, (host, port) in transports.listeners:
            # the first listener of a kind and IP family is the sent-by for that pair
            if core.local_address(kind, _family(host)) is None:
                core.add_local_address(kind, host, port)

    @property
    def core(self) -> Core:
        return self._core

    @property
    def transports(self) -> SipTransports:
        return self._transports

    @property
    def timer_at(self) -> float | None:
        """The deadline the one loop timer is armed for, or None."""
        return self._timer_at

    async def listen(self, kind: TransportKind, host: str, port: int = 0) -> Address:
        """Open a listener and, if it is the first of its kind, tell the core its address.

        Raises:
            TransportError: the address is in use or not available.
        """
        address = await self._transports.listen(kind, host, port)
        if self._core.local_address(kind, _family(address[0])) is None:
            self._core.add_local_address(kind, *address)
        return address

    # -- inputs ----------------------------------------------------------------------

    def receive(self, data: bytes, source: Address, transport: TransportKind) -> None:
        """Hand bytes from the wire to the core (the transports' ``on_receive``)."""
        if self._closed:
            return
        self._core.receive(data, source, transport, now=self._clock.now())
        self.pump()

    def _on_transport_error(self, destination: Destination, error: TransportError) -> None:
        logger.info("transport error to %s: %s", destination, error)
        if self._closed:
            return
        self.counters["send_errors"] += 1
        self._core.transport_error(destination, now=self._clock.now())
        self.pump()

    async def resolve(self, target: str | SipUri) -> list[Destination]:
        """RFC 3263 destinations for a URI (text or parsed), best first.

        Raises:
            ResolveError: not a SIP/SIPS URI, or nothing found.
        """
        uri = SipUri.parse(target) if isinstance(target, str) else target
        if self._resolver is None:
            self._resolver = SipResolver()
        targets = await self._resolver.resolve(uri)
        if not is_ip_literal(uri.host) and uri.maddr is None:
            # RFC 5922 §4: verify the server certificate against the URI's domain
            for dest in targets:
                if dest.transport is TransportKind.TLS:
                    self._transports.set_server_name(dest, uri.host)
        return targets

    async def send_request(
        self, request: Request, target: str | SipUri | Sequence[Destination]
    ) -> asyncio.Future[Response]:
        """Resolve ``target`` (unless already destinations), send, and return a future.

        The RFC 3261 §18.1.1 size rule is applied first, so a large request that would
        go over UDP is handed to the core with a TCP destination (and the core writes
        a TCP Via), when the core has a TCP address to put in that Via. The future
        resolves to the final response; it fails with ``TimeoutError`` (Timer B/F) or
        ``TransportError`` when every destination failed.

        Raises:
            ResolveError: no destination for the URI.
        """
        if isinstance(target, str | SipUri):
            targets = await self.resolve(target)
        else:
            targets = list(target)
        if not targets:
            raise ResolveError(f"no destination to send {request.method} to")
        if self._core.local_address(TransportKind.TCP) is not None:
            size = len(bytes(request)) + VIA_ALLOWANCE
            targets = prefer_tcp_for_size(targets, size, mtu=self._mtu)
        future: asyncio.Future[Response] = self._loop.create_future()
        key = self._core.send_request(request, targets, now=self._clock.now())
        self._waiting[key] = future
        self.pump()
        return future

    def send_response(self, response: Response) -> None:
        """Answer a received request through its server transaction, then pump."""
        self._core.send_response(response, now=self._clock.now())
        self.pump()

    # -- outputs ---------------------------------------------------------------------

    def pump(self) -> None:
        """Send what the core produced, deliver its events, re-arm the timer.

        Output queued while an event handler runs (a response the application
        sends from its handler) is sent before the next event is delivered.
        """
        if self._pumping:  # re-entered from an event handler: the loop below covers it
            return
        self._pumping = True
        try:
            while True:
                self._send_all()
                event = self._core.next_event()
                if event is None:
                    break
                self._dispatch(event)
        finally:
            self._pumping = False
        self._rearm(self._core.get_timer())

    def _send_all(self) -> None:
        while outgoing := self._core.datagrams_to_send():
            for out in outgoing:
                try:
                    self._transports.send(out.destination, out.data)
                except TransportError as exc:
                    logger.info("cannot send to %s: %s", out.destination, exc)
                    self.counters["send_errors"] += 1
                    self._core.transport_error(out.destination, now=self._clock.now())

    def _dispatch(self, event: object) -> None:
        self._settle(event)
        if self._on_event is None:
            self.events.put_nowait(event)
            return
        try:
            self._on_event(event)
        except Exception:
            self.counters["handler_errors"] += 1
            logger.exception("event handler failed on %s", type(event).__name__)

    def _settle(self, event: object) -> None:
        if isinstance(event, ResponseReceived):
            if event.response.status < 200:
                return
            future = self._waiting.pop(event.transaction, None)
            if future is not None and not future.done():
                future.set_result(event.response)
        elif isinstance(event, TransactionTimedOut | TransportFailed):
            future = self._waiting.pop(event.transaction, None)
            if future is None or future.done():
                return
            tried = ", ".join(str(d) for d in event.tried) or "no destination"
            method = event.request.method
            if isinstance(event, TransactionTimedOut):
                future.set_exception(TimeoutError(f"{method} timed out; tried {tried}"))
            else:
                future.set_exception(TransportError(
                    f"{method} could not be sent; tried {tried}", address=tried))

    def _rearm(self, at: float | None) -> None:
        if at == self._timer_at and (at is None or self._timer is not None):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = None if at is None or self._closed else self._loop.call_at(
            at, self._on_timer)

    def _on_timer(self) -> None:
        due = self._timer_at
        self._timer = None
        self._timer_at = None
        # asyncio may fire a little early; never hand the core a time before the deadline
        now = self._clock.now() if due is None else max(due, self._clock.now())
        self._core.handle_timer(now=now)
        self.pump()

    def close(self) -> None:
        """Stop the timer and cancel the futures still waiting for a final response."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None
        for future in self._waiting.values():
            future.cancel()  # nobody has to retrieve a cancellation
        self._waiting.clear()


def _family(host: str) -> int:
    return 6 if ":" in host else 4


__all__ = ["Core", "EventHandler", "SipDriver"]
