"""Test tools for voipkit: a fake clock, an in-memory network, peers and message builders.

Knows: anything in voipkit (it may import every layer). Must not know: real sockets or
the system clock. Nothing in ``src`` imports this package; tests and samples do.
"""

from voipkit.testing.clock import FakeClock
from voipkit.testing.messages import invite, options, register, response_to
from voipkit.testing.network import InMemoryNetwork, Packet, is_request, is_response
from voipkit.testing.peers import (
    Peers,
    deliver,
    drain_events,
    make_core,
    roundtrip,
    run_timers,
    sent_request,
    sent_response,
    transfer,
    uac_and_uas,
)

__all__ = [
    "FakeClock",
    "InMemoryNetwork",
    "Packet",
    "Peers",
    "deliver",
    "drain_events",
    "invite",
    "is_request",
    "is_response",
    "make_core",
    "options",
    "register",
    "response_to",
    "roundtrip",
    "run_timers",
    "sent_request",
    "sent_response",
    "transfer",
    "uac_and_uas",
]
