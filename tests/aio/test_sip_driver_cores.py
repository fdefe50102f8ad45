"""Two real UserAgentCores talk through SipDriver over sockets on 127.0.0.1.

Proves the issue's "done" criterion and the driver's glue around it:
- Alice's OPTIONS reaches Bob and Bob's core answers 200 over UDP, TCP and TLS
  (verification on, with the test CA), on the default loop and on uvloop; the
  request carries a Via for the transport it went over;
- an application-answered MESSAGE over TCP: the response goes back over the
  connection the request came in on (Bob opens none, Alice opens one) and a second
  request reuses it;
- a refused TCP target fails over to the next target through
  ``core.transport_error``; a UDP target nobody answers ends in TimeoutError at
  Timer F (t1 shrunk), from the one loop timer;
- a request too large for UDP (RFC 3261 §18.1.1) travels over TCP with a TCP Via.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import uvloop

from voipkit.aio.sip_driver import SipDriver
from voipkit.aio.sip_transport import (
    Direction,
    SipTransports,
    TlsConfig,
    TraceRecord,
    TransportConfig,
)
from voipkit.base.ids import SequentialIds
from voipkit.sip.addressing import Destination, TransportKind, format_host
from voipkit.sip.events import CoreEvent, RequestReceived
from voipkit.sip.headers import CSeq, NameAddr
from voipkit.sip.message import Request, parse_message
from voipkit.sip.timers import TimerConfig
from voipkit.sip.ua import CoreConfig, UserAgentCore
from voipkit.sip.uri import SipUri
from voipkit.testing.messages import options

UDP, TCP, TLS = TransportKind.UDP, TransportKind.TCP, TransportKind.TLS


@dataclass
class Peer:
    core: UserAgentCore
    transports: SipTransports
    driver: SipDriver

    def destination(self, kind: TransportKind) -> Destination:
        return Destination(kind, *self.transports.local_address(kind))


@asynccontextmanager
async def peer(name: str, *, tls: TlsConfig | None = None, config: CoreConfig | None = None,
               on_event: Callable[[CoreEvent], None] | None = None) -> AsyncIterator[Peer]:
    core = UserAgentCore(config=config or CoreConfig(), ids=SequentialIds(name))
    transports = SipTransports(config=TransportConfig(tls=tls or TlsConfig()))
    driver = SipDriver(core, transports, on_event=on_event)
    await driver.listen(UDP, "127.0.0.1")
    await driver.listen(TCP, "127.0.0.1")
    if tls is not None and tls.cert_file is not None:
        await driver.listen(TLS, "127.0.0.1")
    try:
        yield Peer(core, transports, driver)
    finally:
        driver.close()
        await transports.close()


def request(method: str, to: Destination, *, body: bytes = b"", call_id: str = "call-1",
            cseq: int = 1) -> Request:
    scheme = "sips" if to.transport is TLS else "sip"
    uri = SipUri.parse(f"{scheme}:bob@{to.host}:{to.port}")
    return Request(method, uri, from_=NameAddr.parse("<sip:alice@127.0.0.1>;tag=a1"),
                   to=NameAddr.parse(f"<{scheme}:bob@{to.host}>"), call_id=call_id,
                   cseq=CSeq(cseq, method), body=body,
                   content_type="text/plain" if body else None)


def run(main: Callable[[], Coroutine[Any, Any, None]], *, use_uvloop: bool = False) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop if use_uvloop else None) as r:
        r.run(main())


def tls_pair(tls_files: Any) -> tuple[TlsConfig, TlsConfig]:
    both = TlsConfig(ca_file=tls_files.ca_file, cert_file=tls_files.cert_file,
                     key_file=tls_files.key_file)
    return both, both


@pytest.mark.parametrize("use_uvloop", [False, True], ids=["asyncio", "uvloop"])
@pytest.mark.parametrize("kind", [UDP, TCP, TLS])
def test_options_between_two_cores(kind: TransportKind, use_uvloop: bool,
                                   tls_files: Any) -> None:
    alice_tls, bob_tls = tls_pair(tls_files)
    trace: list[TraceRecord] = []

    async def main() -> None:
        async with peer("alice", tls=alice_tls) as alice, peer("bob", tls=bob_tls) as bob:
            bob.transports.trace = trace.append
            to = bob.destination(kind)
            # resolved by the driver: sips -> TLS, transport=tcp -> TCP, else UDP
            uri = {UDP: f"sip:bob@127.0.0.1:{to.port}",
                   TCP: f"sip:bob@127.0.0.1:{to.port};transport=tcp",
                   TLS: f"sips:bob@127.0.0.1:{to.port}"}[kind]
            future = await alice.driver.send_request(request("OPTIONS", to), uri)
            response = await asyncio.wait_for(future, 5.0)
            assert response.status == 200    # Bob's core answers OPTIONS by itself
            assert "INVITE" in (response.headers.get("Allow") or "")
            assert [(t.direction, t.transport) for t in trace] == [
                (Direction.RECEIVED, kind), (Direction.SENT, kind)]
            received = parse_message(trace[0].data)
            assert isinstance(received, Request) and received.method == "OPTIONS"
            assert received.via[0].transport == kind.value
            assert received.via[0].port == alice.transports.local_address(kind)[1]

    run(main, use_uvloop=use_uvloop)


def test_response_goes_back_over_the_inbound_tcp_connection() -> None:
    async def main() -> None:
        bob_driver: list[SipDriver] = []
        bob_core: list[UserAgentCore] = []

        def answer(event: CoreEvent) -> None:
            if isinstance(event, RequestReceived) and event.request.method == "MESSAGE":
                bob_driver[0].send_response(bob_core[0].create_response(event.request, 202))

        async with peer("alice") as alice, peer("bob", on_event=answer) as bob:
            bob_driver.append(bob.driver)
            bob_core.append(bob.core)
            to = bob.destination(TCP)
            for n in (1, 2):
                future = await alice.driver.send_request(
                    request("MESSAGE", to, body=b"hi", cseq=n), [to])
                assert (await asyncio.wait_for(future, 5.0)).status == 202
            assert alice.transports.counters["connections_opened"] == 1
            assert bob.transports.counters["connections_accepted"] == 1
            assert bob.transports.counters["connections_opened"] == 0
            assert len(bob.transports.connections) == 1

    run(main)


def test_refused_target_fails_over_and_silence_times_out() -> None:
    config = CoreConfig(timers=TimerConfig(t1=0.01, t2=0.04, t4=0.05))

    async def main() -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            dead_port = probe.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))
            silent_port = silent.getsockname()[1]
            async with peer("alice", config=config) as alice, peer("bob") as bob:
                dead = Destination(TCP, "127.0.0.1", dead_port)
                future = await alice.driver.send_request(
                    request("OPTIONS", bob.destination(TCP)), [dead, bob.destination(TCP)])
                assert (await asyncio.wait_for(future, 5.0)).status == 200
                assert alice.driver.counters["send_errors"] == 1

                loop = asyncio.get_running_loop()
                start = loop.time()
                quiet = Destination(UDP, "127.0.0.1", silent_port)
                future = await alice.driver.send_request(request("OPTIONS", quiet), [quiet])
                with pytest.raises(TimeoutError, match=f"tried udp:127.0.0.1:{silent_port}"):
                    await asyncio.wait_for(future, 5.0)
                assert loop.time() - start >= 64 * 0.01   # Timer F
                assert alice.driver.timer_at is None or alice.driver.timer_at > loop.time()

    run(main)


def test_large_request_goes_over_tcp_with_a_tcp_via() -> None:
    trace: list[TraceRecord] = []

    async def main() -> None:
        async with peer("alice") as alice, peer("bob") as bob:
            bob.transports.trace = trace.append
            # §18.1.1 keeps host and port and changes the transport; Bob's listeners
            # have different ports (port 0), so aim the UDP target at his TCP port.
            tcp_port = bob.transports.local_address(TCP)[1]
            target = Destination(UDP, "127.0.0.1", tcp_port)
            future = await alice.driver.send_request(
                request("OPTIONS", target, body=b"x" * 1400), [target])
            assert (await asyncio.wait_for(future, 5.0)).status == 200
            assert trace[0].transport is TCP
            received = parse_message(trace[0].data)
            assert received.via[0].transport == "TCP"
            assert len(received.body) == 1400
            assert alice.transports.counters["udp_sent"] == 0   # nothing went over UDP

    run(main)


def test_via_uses_the_listener_of_the_destinations_ip_family() -> None:
    """With IPv4 and IPv6 listeners, a request to ::1 carries the IPv6 sent-by."""

    async def main() -> None:
        transports = SipTransports()
        core = UserAgentCore(config=CoreConfig(), ids=SequentialIds("fam"))
        driver = SipDriver(core, transports)
        try:
            v4 = await driver.listen(TransportKind.UDP, "127.0.0.1", 0)
            v6 = await driver.listen(TransportKind.UDP, "::1", 0)
            assert core.local_address(TransportKind.UDP, 4) == v4
            assert core.local_address(TransportKind.UDP, 6) == v6
            sent: list[bytes] = []
            transports.trace = lambda record: sent.append(record.data)
            for host in ("::1", "127.0.0.1"):
                request = options(f"sip:bob@{format_host(host)}:9")
                future = await driver.send_request(
                    request, [Destination(TransportKind.UDP, host, 9)])
                future.cancel()
            assert f"Via: SIP/2.0/UDP [::1]:{v6[1]};".encode() in sent[0]
            assert f"Via: SIP/2.0/UDP 127.0.0.1:{v4[1]};".encode() in sent[1]
        finally:
            driver.close()
            await transports.close()

    asyncio.run(main())
