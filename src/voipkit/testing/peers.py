"""Two sans-IO cores wired together, and helpers that move bytes between them.

Knows: how to build a UAC and a UAS ``UserAgentCore`` with predictable ids on
an ``InMemoryNetwork`` (compare aioquic's ``client_and_server`` and h11's
``ConnectionPair``), and ``transfer``/``roundtrip`` for tests that move
datagrams by hand. Must not know: sockets or the system clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from voipkit.base.ids import SequentialIds
from voipkit.sip.addressing import Destination, Outgoing, TransportKind
from voipkit.sip.events import CoreEvent
from voipkit.sip.message import Request, Response, parse_message
from voipkit.sip.timers import TimerConfig
from voipkit.sip.ua import CoreConfig, UserAgentCore
from voipkit.testing.network import InMemoryNetwork

ALICE_ADDR = Destination(TransportKind.UDP, "127.0.0.1", 5060)
BOB_ADDR = Destination(TransportKind.UDP, "127.0.0.2", 5060)


@dataclass(slots=True)
class Peers:
    """A UAC (alice) and a UAS (bob) on one in-memory network."""

    alice: UserAgentCore
    bob: UserAgentCore
    network: InMemoryNetwork
    alice_addr: Destination
    bob_addr: Destination


def make_core(local: Destination, *, prefix: str, config: CoreConfig | None = None
              ) -> UserAgentCore:
    """A core with ``SequentialIds(prefix)`` listening at ``local``."""
    core = UserAgentCore(config=config or CoreConfig(), ids=SequentialIds(prefix))
    core.add_local_address(local.transport, local.host, local.port)
    return core


def uac_and_uas(*, transport: TransportKind = TransportKind.UDP, latency: float = 0.0,
                timers: TimerConfig | None = None, config: CoreConfig | None = None) -> Peers:
    """Two cores (``alice`` at 127.0.0.1, ``bob`` at 127.0.0.2) on an InMemoryNetwork."""
    cfg = config or CoreConfig(timers=timers or TimerConfig())
    alice_addr = Destination(transport, ALICE_ADDR.host, ALICE_ADDR.port)
    bob_addr = Destination(transport, BOB_ADDR.host, BOB_ADDR.port)
    alice = make_core(alice_addr, prefix="a", config=cfg)
    bob = make_core(bob_addr, prefix="b", config=cfg)
    network = InMemoryNetwork(latency=latency)
    network.attach(alice, alice_addr)
    network.attach(bob, bob_addr)
    return Peers(alice, bob, network, alice_addr, bob_addr)


def transfer(sender: UserAgentCore, receiver: UserAgentCore, *, source: Destination,
             now: float) -> int:
    """Deliver everything ``sender`` queued to ``receiver``; returns the datagram count."""
    count = 0
    for out in sender.datagrams_to_send():
        receiver.receive(out.data, source.address, out.destination.transport, now=now)
        count += 1
    return count


def roundtrip(a: UserAgentCore, b: UserAgentCore, *, a_addr: Destination,
              b_addr: Destination, now: float) -> tuple[int, int]:
    """``transfer`` a -> b then b -> a; returns both counts."""
    return (transfer(a, b, source=a_addr, now=now), transfer(b, a, source=b_addr, now=now))


def drain_events(core: UserAgentCore) -> list[CoreEvent]:
    """Every event the core has queued, oldest first."""
    events: list[CoreEvent] = []
    while (event := core.next_event()) is not None:
        events.append(event)
    return events


def deliver(core: UserAgentCore, message: Request | Response | bytes, *, source: Destination,
            now: float) -> None:
    """Feed ``message`` to ``core`` as if ``source`` had sent it."""
    data = message if isinstance(message, bytes) else bytes(message)
    core.receive(data, source.address, source.transport, now=now)


def sent_request(out: Outgoing) -> Request:
    """Re-parse a datagram the core sent, asserting it is a request."""
    message = parse_message(out.data)
    if not isinstance(message, Request):
        raise AssertionError(f"expected a request, got {message!r}")
    return message


def sent_response(out: Outgoing) -> Response:
    """Re-parse a datagram the core sent, asserting it is a response."""
    message = parse_message(out.data)
    if not isinstance(message, Response):
        raise AssertionError(f"expected a response, got {message!r}")
    return message


def run_timers(core: UserAgentCore, *, until: float = float("inf")) -> list[tuple[float, int]]:
    """Fire the core's timers in order up to ``until``.

    Returns ``(deadline, datagrams sent)`` for every firing that sent something;
    the datagrams themselves are discarded.
    """
    sends: list[tuple[float, int]] = []
    while (deadline := core.get_timer()) is not None and deadline <= until:
        core.handle_timer(now=deadline)
        if count := len(core.datagrams_to_send()):
            sends.append((deadline, count))
    return sends
