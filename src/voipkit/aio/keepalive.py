"""SIP keep-alives for registration flows (PortSIP ``setKeepAliveTime``, RFC 5626 §3.5/§4.4).

Knows: ``SipTransports`` (open connections, UDP send), the STUN client and the
loop's timers. Must not know: registrations themselves — the caller ``watch``es the
destination a REGISTER went to and ``unwatch``es it when the binding goes away; a
failed flow is reported through ``on_failure(destination, reason)`` so the
registration usage can re-register (RFC 5626 §4.4.1: "the flow has failed").

Every ``interval`` seconds (0 disables), each watched flow is probed:

- TCP/TLS: a CRLFCRLF ping on the open connection (``Connection.ping``, RFC 5626
  §4.4.1). A CRLF pong within ``pong_timeout`` (10 s by default, the RFC's limit)
  keeps the flow; none, a closed connection, or no connection at all is a failure.
  Pongs are seen through the transports' ``keepalive_pongs_received`` counter, so
  stream probes run one at a time and a pong is credited to the one outstanding
  ping; the scheduler must be the only thing pinging on these transports.
- UDP: RFC 5626 §3.5.1 wants STUN keep-alives, while PortSIP-style UAs send a bare
  CRLFCRLF datagram. With a ``StunClient`` sharing the SIP socket, the first probe
  is a STUN Binding request: if the server answers, the flow keeps using STUN, a
  missing answer is a failure, and a changed mapped address is a failure too (the
  NAT binding moved, RFC 5626 §4.4.2). If the first probe goes unanswered, the server
  does not speak STUN and the flow falls back to CRLFCRLF datagrams, which get no
  answer and so can never report a failure. Without a ``StunClient``, CRLFCRLF is
  always used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from enum import Enum

from voipkit.aio.errors import TransportError
from voipkit.aio.sip_transport import PING, SipTransports
from voipkit.aio.stun import StunClient, StunServerError
from voipkit.sip.addressing import Address, Destination, TransportKind

logger = logging.getLogger(__name__)

FailureCallback = Callable[[Destination, str], None]
"""``on_failure(destination, reason)``: the flow to ``destination`` is dead; re-register."""

#: RFC 5626 §4.4.1: a pong not received within 10 s means the flow failed.
DEFAULT_PONG_TIMEOUT = 10.0


class UdpMode(Enum):
    """How a UDP flow is kept alive."""

    UNKNOWN = "unknown"
    STUN = "stun"
    CRLF = "crlf"


class KeepAliveScheduler:
    """Pings watched registration flows every ``interval`` seconds.

    Args:
        transports: the SIP sockets the flows run over.
        interval: seconds between rounds; 0 sends nothing.
        pong_timeout: how long to wait for a pong or STUN answer.
        on_failure: called once per failed flow (the flow is then unwatched).
        stun: a ``StunClient`` on the same UDP socket, for STUN keep-alives.
        poll: how often the pong counter is checked while a ping is outstanding.
    """

    def __init__(
        self,
        transports: SipTransports,
        *,
        interval: float,
        pong_timeout: float = DEFAULT_PONG_TIMEOUT,
        on_failure: FailureCallback | None = None,
        stun: StunClient | None = None,
        poll: float = 0.01,
    ) -> None:
        if interval < 0 or pong_timeout <= 0 or poll <= 0:
            raise ValueError("interval must be >= 0, pong_timeout and poll > 0")
        self._transports = transports
        self._loop = transports.loop
        self._interval = float(interval)
        self.pong_timeout = pong_timeout
        self.on_failure = on_failure
        self._stun = stun
        self._poll = poll
        self._watched: dict[Destination, None] = {}  # insertion-ordered set
        self._udp_mode: dict[Destination, UdpMode] = {}
        self._mapped: dict[Destination, Address] = {}
        self._task: asyncio.Task[None] | None = None
        self.counters: dict[str, int] = {
            "rounds": 0, "pings_sent": 0, "pongs": 0, "stun_sent": 0, "stun_answered": 0,
            "crlf_datagrams": 0, "failures": 0,
        }
        self._restart()

    # -- control ---------------------------------------------------------------------

    @property
    def interval(self) -> float:
        return self._interval

    def set_interval(self, interval: float) -> None:
        """Change the interval (``setKeepAliveTime``); 0 stops sending; the next round
        is one new interval from now."""
        if interval < 0:
            raise ValueError("interval must be >= 0")
        self._interval = float(interval)
        self._restart()

    @property
    def watched(self) -> list[Destination]:
        return list(self._watched)

    def udp_mode(self, destination: Destination) -> UdpMode:
        """What a UDP flow is kept alive with (UNKNOWN before the first probe)."""
        return self._udp_mode.get(destination, UdpMode.UNKNOWN)

    def mapped_address(self, destination: Destination) -> Address | None:
        """The address a STUN-speaking UDP flow's server last saw us at."""
        return self._mapped.get(destination)

    def watch(self, destination: Destination) -> None:
        """Keep the flow to ``destination`` alive (a REGISTER went there)."""
        self._watched[destination] = None

    def unwatch(self, destination: Destination) -> None:
        """Stop keeping ``destination`` alive (unregistered); unknown ones are ignored."""
        self._watched.pop(destination, None)
        self._udp_mode.pop(destination, None)
        self._mapped.pop(destination, None)

    async def close(self) -> None:
        """Stop the scheduler and wait for a running round to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- rounds ----------------------------------------------------------------------

    def _restart(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._interval > 0:
            self._task = self._loop.create_task(self._run(self._interval))

    async def _run(self, interval: float) -> None:
        next_at = self._loop.time() + interval
        while True:
            await asyncio.sleep(max(0.0, next_at - self._loop.time()))
            await self.run_round()
            now = self._loop.time()
            next_at += interval
            if next_at <= now:  # a round overran: skip the missed ticks
                next_at = now + interval

    async def run_round(self) -> None:
        """Probe every watched flow once (UDP flows in parallel, streams in turn)."""
        self.counters["rounds"] += 1
        flows = list(self._watched)
        udp = [d for d in flows if d.transport is TransportKind.UDP]
        streams = [d for d in flows if d.transport is not TransportKind.UDP]
        tasks = [self._loop.create_task(self._probe_udp(d)) for d in udp]
        try:
            for dest in streams:
                await self._probe_stream(dest)
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def _probe_stream(self, dest: Destination) -> None:
        if dest not in self._watched:
            return
        conn = self._transports.connection_for(dest)
        if conn is None:
            self._fail(dest, f"no open connection to {dest}")
            return
        counters = self._transports.counters
        before = counters["keepalive_pongs_received"]
        try:
            conn.ping()
        except TransportError as exc:
            self._fail(dest, f"keep-alive ping to {dest} failed: {exc}")
            return
        self.counters["pings_sent"] += 1
        deadline = self._loop.time() + self.pong_timeout
        while True:
            await asyncio.sleep(min(self._poll, max(0.0, deadline - self._loop.time())))
            if counters["keepalive_pongs_received"] > before:
                self.counters["pongs"] += 1
                return
            if not conn.is_open:
                self._fail(dest, f"connection to {dest} closed")
                return
            if self._loop.time() >= deadline:
                self._fail(dest, f"no pong from {dest} within {self.pong_timeout:g} s "
                                 "(RFC 5626 §4.4.1)")
                return

    async def _probe_udp(self, dest: Destination) -> None:
        mode = self._udp_mode.get(dest, UdpMode.UNKNOWN)
        if self._stun is not None and mode is not UdpMode.CRLF:
            self.counters["stun_sent"] += 1
            try:
                mapped = await self._stun.binding(dest.address, timeout=self.pong_timeout)
            except StunServerError as exc:  # it speaks STUN, but refuses: use CRLF
                logger.info("keep-alive STUN to %s refused (%s); using CRLF", dest, exc)
                self._udp_mode[dest] = UdpMode.CRLF
            except TransportError as exc:
                if mode is UdpMode.STUN:
                    self._fail(dest, f"no STUN keep-alive answer from {dest}: {exc}")
                    return
                self._udp_mode[dest] = UdpMode.CRLF  # the server does not speak STUN
            else:
                self.counters["stun_answered"] += 1
                if dest not in self._watched:
                    return
                self._udp_mode[dest] = UdpMode.STUN
                previous = self._mapped.get(dest)
                self._mapped[dest] = mapped
                if previous is not None and previous != mapped:
                    self._fail(dest, f"mapped address via {dest} changed from "
                                     f"{previous} to {mapped} (RFC 5626 §4.4.2)")
                return
        else:
            self._udp_mode[dest] = UdpMode.CRLF
        if dest not in self._watched:
            return
        try:
            self._transports.send(dest, PING)
        except TransportError as exc:
            self._fail(dest, f"keep-alive to {dest} failed: {exc}")
            return
        self.counters["crlf_datagrams"] += 1

    def _fail(self, dest: Destination, reason: str) -> None:
        if dest not in self._watched:
            return
        self.unwatch(dest)
        self.counters["failures"] += 1
        logger.info("keep-alive flow failed: %s", reason)
        if self.on_failure is not None:
            self.on_failure(dest, reason)


__all__ = ["DEFAULT_PONG_TIMEOUT", "FailureCallback", "KeepAliveScheduler", "UdpMode"]
