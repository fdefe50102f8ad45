"""SipDriver's pump, timer and error paths, with a scripted core on real sockets.

Proves (the core here is a small recording double; the real UserAgentCore is
exercised end to end in test_sip_driver_cores.py):
- bytes received on a socket reach ``core.receive`` with the transport, the source
  and ``now`` on the loop clock, and what the core queues is sent at once;
- exactly one loop timer is armed at ``core.get_timer()``; ``handle_timer`` never
  gets a ``now`` earlier than the deadline it asked for; re-arming replaces it;
- a synchronous send failure and a failed connect both become
  ``core.transport_error(destination)``;
- events go to the queue (or the handler; a failing handler is logged and counted);
- ``send_request`` moves a large request from UDP to TCP before the core sees it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Any

from voipkit.aio.sip_driver import SipDriver
from voipkit.aio.sip_transport import SipTransports
from voipkit.sip.addressing import Address, Destination, Outgoing, TransportKind
from voipkit.sip.dialog import DialogId
from voipkit.sip.events import CoreEvent, DialogTerminated
from voipkit.sip.headers import CSeq, NameAddr
from voipkit.sip.message import Request
from voipkit.sip.transaction.keys import Role, TransactionKey
from voipkit.sip.uri import SipUri

UDP, TCP = TransportKind.UDP, TransportKind.TCP


class ScriptedCore:
    """Records every input; outputs are whatever the test queued."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.out: list[Outgoing] = []
        self.events: list[CoreEvent] = []
        self.timer: float | None = None
        self.timer_script: list[float | None] = []
        self.on_receive: list[Outgoing] = []
        self.local: dict[TransportKind, Address] = {}

    def add_local_address(self, transport: TransportKind, host: str, port: int) -> None:
        self.local[transport] = (host, port)

    def local_address(self, transport: TransportKind, family: int | None = None,
                      ) -> Address | None:
        address = self.local.get(transport)
        if address is None or family is None:
            return address
        return address if (":" in address[0]) == (family == 6) else None

    def receive(self, data: bytes, source: Address, transport: TransportKind, *,
                now: float) -> None:
        self.calls.append(("receive", data, source, transport, now))
        self.out += self.on_receive

    def send_request(self, request: Request, targets: Sequence[Destination], *,
                     now: float) -> TransactionKey:
        self.calls.append(("send_request", list(targets)))
        return TransactionKey(Role.CLIENT, "z9hG4bK-1", request.method)

    def send_response(self, response: Any, *, now: float) -> None:
        self.calls.append(("send_response", response))

    def transport_error(self, destination: Destination, *, now: float) -> None:
        self.calls.append(("transport_error", destination))

    def handle_timer(self, *, now: float) -> None:
        self.calls.append(("handle_timer", now))
        self.timer = self.timer_script.pop(0) if self.timer_script else None

    def get_timer(self) -> float | None:
        return self.timer

    def datagrams_to_send(self) -> list[Outgoing]:
        out, self.out = self.out, []
        return out

    def next_event(self) -> CoreEvent | None:
        return self.events.pop(0) if self.events else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_receive_reaches_the_core_and_its_output_is_sent() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        core = ScriptedCore()
        async with SipTransports() as transports:
            addr = await transports.listen(UDP, "127.0.0.1")
            driver = SipDriver(core, transports)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
                peer.bind(("127.0.0.1", 0))
                peer.setblocking(False)
                peer_addr = peer.getsockname()
                core.on_receive = [Outgoing(Destination(UDP, *peer_addr), b"answer")]
                before = loop.time()
                peer.sendto(b"question", addr)
                assert await asyncio.wait_for(loop.sock_recv(peer, 100), 5.0) == b"answer"
            kind, data, source, transport, now = core.calls[0]
            assert (kind, data, source, transport) == ("receive", b"question", peer_addr, UDP)
            assert before <= now <= loop.time()
            driver.close()

    asyncio.run(main())


def test_one_timer_fires_no_earlier_than_its_deadline_and_is_rearmed() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        core = ScriptedCore()
        async with SipTransports() as transports:
            driver = SipDriver(core, transports)
            start = loop.time()
            core.timer = start + 0.05
            core.timer_script = [start + 0.10, None]
            driver.pump()
            assert driver.timer_at == start + 0.05
            core.timer = start + 0.03           # the core moved its deadline earlier
            driver.pump()
            assert driver.timer_at == start + 0.03
            core.timer_script = [start + 0.06, None]
            while driver.timer_at is not None:
                await asyncio.sleep(0.01)
            fired = [c[1] for c in core.calls if c[0] == "handle_timer"]
            assert len(fired) == 2
            assert fired[0] >= start + 0.03 and fired[1] >= start + 0.06
            driver.close()

    asyncio.run(main())


def test_send_failures_become_core_transport_errors() -> None:
    async def main() -> None:
        core = ScriptedCore()
        async with SipTransports() as transports:
            await transports.listen(UDP, "127.0.0.1")
            driver = SipDriver(core, transports)
            v6 = Destination(UDP, "::1", 5060)           # no IPv6 listener: fails at once
            refused = Destination(TCP, "127.0.0.1", free_port())  # fails when connecting
            core.out = [Outgoing(v6, b"x"), Outgoing(refused, b"y")]
            driver.pump()
            assert ("transport_error", v6) in core.calls
            async with asyncio.timeout(5.0):
                while ("transport_error", refused) not in core.calls:
                    await asyncio.sleep(0.01)
            assert driver.counters["send_errors"] == 2
            driver.close()

    asyncio.run(main())


def test_events_go_to_the_queue_or_to_a_handler() -> None:
    async def main() -> None:
        event = DialogTerminated(DialogId("c", "l", "r"), "bye")
        async with SipTransports() as transports:
            core = ScriptedCore()
            driver = SipDriver(core, transports)
            core.events = [event]
            driver.pump()
            assert driver.events.get_nowait() == event
            seen: list[CoreEvent] = []

            def handler(e: CoreEvent) -> None:
                seen.append(e)
                raise RuntimeError("user bug")

            driver2 = SipDriver(core, transports, on_event=handler)
            core.events = [event, event]
            driver2.pump()
            assert seen == [event, event]
            assert driver2.counters["handler_errors"] == 2

    asyncio.run(main())


def test_send_request_moves_large_udp_requests_to_tcp() -> None:
    def options(body: bytes) -> Request:
        uri = SipUri.parse("sip:bob@127.0.0.1")
        return Request("OPTIONS", uri, from_=NameAddr.parse("<sip:alice@127.0.0.1>;tag=1"),
                       to=NameAddr.parse("<sip:bob@127.0.0.1>"), call_id="c",
                       cseq=CSeq(1, "OPTIONS"),
                       body=body, content_type="text/plain")

    async def main() -> None:
        async with SipTransports() as transports:
            core = ScriptedCore()
            driver = SipDriver(core, transports)
            await driver.listen(UDP, "127.0.0.1")
            await driver.listen(TCP, "127.0.0.1")
            assert core.local == {UDP: transports.local_address(UDP),
                                  TCP: transports.local_address(TCP)}
            await driver.send_request(options(b""), "sip:bob@127.0.0.1:5070")
            await driver.send_request(options(b"x" * 1400), "sip:bob@127.0.0.1:5070")
            sent = [c[1] for c in core.calls if c[0] == "send_request"]
            assert sent[0] == [Destination(UDP, "127.0.0.1", 5070)]
            assert sent[1] == [Destination(TCP, "127.0.0.1", 5070),
                               Destination(UDP, "127.0.0.1", 5070)]
            driver.close()

    asyncio.run(main())


