#!/usr/bin/env python3
r"""Sans-IO cost of one UAS call through the usage layer: what SIPp's uac scenario asks.

A ``UsageManager`` with the INVITE factory (as ``voipkit agent`` sets it up) receives
an INVITE with an SDP offer, the new ``InviteSession`` accepts it (200 OK with an
opaque answer body), then the ACK and the BYE arrive and the session ends. No
sockets, no SDP negotiation, no api layer: the parse, transaction, dialog and usage
work of one call. Prints the median and the best of seven repetitions in
microseconds per call, and which build (compiled by mypyc or pure Python) ran.

Usage: python bench/bench_usage_uas.py [--calls 2000]

For instructions per call (deterministic, unlike the clock on a shared machine), run
it under callgrind twice and divide the difference by the difference in calls:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python bench/bench_usage_uas.py --calls 1000 --runs 1      # and --calls 200
"""

from __future__ import annotations

import argparse
import statistics
import time

import voipkit.sip.usage.invite as invite_module
from voipkit.base.ids import SequentialIds
from voipkit.sip.addressing import TransportKind
from voipkit.sip.ua import CoreConfig, UserAgentCore
from voipkit.sip.usage import UsageManager
from voipkit.sip.usage.invite import InvitePolicy, InviteReceived, InviteSession, invite_factory

OFFER = ("v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n"
         "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
ANSWER = OFFER.replace("6000", "7000").encode()
PEER = ("127.0.0.1", 5061)


def message(method: str, call: int, cseq: int, to_tag: str = "") -> bytes:
    """A request as SIPp's uac scenario writes it."""
    body = OFFER if method == "INVITE" else ""
    content_type = "Content-Type: application/sdp\r\n" if body else ""
    return (f"{method} sip:service@127.0.0.1:5060 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-{call}-{cseq}-{method}\r\n"
            f"From: sipp <sip:sipp@127.0.0.1:5061>;tag={call}SIPpTag00{call}\r\n"
            f"To: <sip:service@127.0.0.1:5060>{to_tag}\r\n"
            f"Call-ID: {call}-1234@127.0.0.1\r\nCSeq: {cseq} {method}\r\n"
            f"Contact: sip:sipp@127.0.0.1:5061\r\nMax-Forwards: 70\r\n"
            f"Subject: Performance Test\r\n{content_type}Content-Length: {len(body)}\r\n\r\n"
            f"{body}").encode()


def new_manager() -> UsageManager:
    core = UserAgentCore(config=CoreConfig(trying_delay=0.1), ids=SequentialIds("c"))
    core.add_local_address(TransportKind.UDP, "127.0.0.1", 5060)
    manager = UsageManager(core, ids=SequentialIds("u"))
    manager.on_new_request("INVITE", invite_factory(InvitePolicy(max_sessions=1 << 30)))
    return manager


def drain(manager: UsageManager) -> None:
    while manager.next_event() is not None:
        pass


def one_call(manager: UsageManager, call: int, now: float) -> None:
    manager.receive(message("INVITE", call, 1), PEER, TransportKind.UDP, now=now)
    event = manager.next_event()
    assert isinstance(event, InviteReceived), event
    drain(manager)
    session = manager.usage(event.session_id)
    assert isinstance(session, InviteSession)
    session.accept(ANSWER, now=now)
    manager.datagrams_to_send()
    assert session.dialog_id is not None
    tag = ";tag=" + session.dialog_id.local_tag
    manager.receive(message("ACK", call, 1, tag), PEER, TransportKind.UDP, now=now)
    drain(manager)
    manager.receive(message("BYE", call, 2, tag), PEER, TransportKind.UDP, now=now)
    drain(manager)
    manager.datagrams_to_send()
    manager.handle_timer(now=now)
    drain(manager)


def run(calls: int) -> float:
    """Seconds for ``calls`` calls on a fresh manager (finished sessions are gone)."""
    manager = new_manager()
    now = 0.0
    start = time.perf_counter()
    for call in range(calls):
        now += 0.001
        one_call(manager, call, now)
    elapsed = time.perf_counter() - start
    assert manager.live(InviteSession) == 0
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    build = "compiled" if not invite_module.__file__.endswith(".py") else "pure"
    print(f"usages: {build} ({invite_module.__file__})")
    per_call = [run(args.calls) / args.calls * 1e6 for _ in range(args.runs)]
    print(f"UAS call (INVITE, 200, ACK, BYE, 200): median {statistics.median(per_call):.1f} us, "
          f"best {min(per_call):.1f} us")


if __name__ == "__main__":
    main()
