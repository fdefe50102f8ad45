"""An in-memory network between sans-IO SIP cores, with scripted loss, delay and reorder.

Knows: which core listens at which (transport, address), how to carry each
core's ``datagrams_to_send()`` to the core at the destination, and a virtual
timeline on which deliveries and core timers interleave. Must not know:
sockets, asyncio or the system clock. Loss is "don't deliver" and reorder is
"deliver later": rules match packets with a predicate and apply to the next
``count`` matches.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from voipkit.sip.addressing import Address, Destination, Outgoing, TransportKind
from voipkit.sip.message import Request, Response


class SansIoPeer(Protocol):
    """The part of ``UserAgentCore`` the network drives."""

    def receive(self, data: bytes, source: Address, transport: TransportKind, *,
                now: float) -> None: ...
    def datagrams_to_send(self) -> list[Outgoing]: ...
    def handle_timer(self, *, now: float) -> None: ...
    def get_timer(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Packet:
    """One datagram in flight."""

    source: Destination
    "The sender's listening transport and address."

    destination: Destination
    "Where it is going."

    data: bytes
    "The bytes."

    message: Request | Response | None
    "The sender's parsed form of ``data``, for rules and assertions."

    sent_at: float
    "Virtual time it was sent."

    def describe(self) -> str:
        """``INVITE``, ``200 INVITE`` ... for assertions and failure messages."""
        msg = self.message
        if isinstance(msg, Request):
            return msg.method
        if isinstance(msg, Response):
            return f"{msg.status} {msg.cseq.method}"
        return "raw"


PacketFilter = Callable[[Packet], bool]


def is_request(method: str) -> PacketFilter:
    """Matches requests with ``method``."""
    return lambda p: isinstance(p.message, Request) and p.message.method == method


def is_response(status: int, method: str | None = None) -> PacketFilter:
    """Matches responses with ``status`` (and CSeq ``method`` when given)."""

    def match(p: Packet) -> bool:
        msg = p.message
        return (
            isinstance(msg, Response)
            and msg.status == status
            and (method is None or msg.cseq.method == method)
        )

    return match


@dataclass(slots=True)
class _Rule:
    match: PacketFilter
    remaining: int
    delay: float | None  # None: drop


@dataclass(slots=True)
class InMemoryNetwork:
    """Carries datagrams between attached cores on a virtual timeline.

    Typical use: ``attach`` each core, make the cores do something at ``now``,
    then ``run(until=...)``: it delivers everything (after ``latency``, plus any
    rule delay) and fires core timers in time order, and returns the time it
    stopped at. ``delivered`` and ``dropped`` record every packet.
    """

    latency: float = 0.0
    "One-way delay of every packet, in seconds."

    now: float = 0.0
    "The network's virtual time (never goes backwards)."

    delivered: list[Packet] = field(default_factory=list)
    "Packets delivered, in delivery order."

    dropped: list[Packet] = field(default_factory=list)
    "Packets lost by a rule or sent to an address nobody listens on."

    _peers: dict[Destination, SansIoPeer] = field(default_factory=dict)
    _names: dict[int, Destination] = field(default_factory=dict)
    _in_flight: list[tuple[float, int, Packet]] = field(default_factory=list)
    _rules: list[_Rule] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def attach(self, peer: SansIoPeer, local: Destination) -> None:
        """Make ``peer`` receive what is sent to ``local`` (and send from it)."""
        self._peers[local] = peer
        self._names[id(peer)] = local

    def drop(self, match: PacketFilter, *, count: int = 1) -> None:
        """Lose the next ``count`` packets that ``match`` ("don't deliver")."""
        self._rules.append(_Rule(match, count, None))

    def hold(self, match: PacketFilter, delay: float, *, count: int = 1) -> None:
        """Delay the next ``count`` matching packets by ``delay`` more seconds ("deliver later")."""
        self._rules.append(_Rule(match, count, delay))

    def collect(self) -> None:
        """Take every attached core's pending datagrams and put them in flight."""
        for local, peer in list(self._peers.items()):
            for out in peer.datagrams_to_send():
                self._launch(Packet(local, out.destination, out.data, out.message, self.now))

    def _launch(self, packet: Packet) -> None:
        deliver_at = self.now + self.latency
        for rule in self._rules:
            if rule.remaining > 0 and rule.match(packet):
                rule.remaining -= 1
                if rule.delay is None:
                    self.dropped.append(packet)
                    return
                deliver_at += rule.delay
                break
        self._in_flight.append((deliver_at, next(self._order), packet))

    def next_time(self) -> float | None:
        """The earliest pending delivery or core timer."""
        times = [at for at, _, _ in self._in_flight]
        times += [t for p in self._peers.values() if (t := p.get_timer()) is not None]
        return min(times) if times else None

    def step(self) -> bool:
        """Advance to the next delivery or timer and process everything due then.

        Returns False when nothing is pending.
        """
        self.collect()
        when = self.next_time()
        if when is None:
            return False
        self.now = max(self.now, when)
        due = sorted(x for x in self._in_flight if x[0] <= self.now)
        self._in_flight = [x for x in self._in_flight if x[0] > self.now]
        for _, _, packet in due:
            peer = self._peers.get(packet.destination)
            if peer is None:
                self.dropped.append(packet)
                continue
            self.delivered.append(packet)
            peer.receive(packet.data, packet.source.address, packet.destination.transport,
                         now=self.now)
        for peer in list(self._peers.values()):
            timer = peer.get_timer()
            if timer is not None and timer <= self.now:
                peer.handle_timer(now=self.now)
        self.collect()
        return True

    def run(self, *, until: float) -> float:
        """Process deliveries and timers up to ``until`` (inclusive); return ``until``."""
        while True:
            self.collect()
            when = self.next_time()
            if when is None or when > until:
                break
            self.step()
        self.now = max(self.now, until)
        return self.now

    def settle(self) -> float:
        """Deliver everything in flight, firing only the timers due meanwhile; return the time."""
        while True:
            self.collect()
            if not self._in_flight:
                return self.now
            self.step()

    def describe_delivered(self) -> list[str]:
        """``["OPTIONS", "200 OPTIONS"]``-style summary of delivered packets."""
        return [p.describe() for p in self.delivered]
