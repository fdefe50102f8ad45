"""KeepAliveScheduler keeps registration flows alive on 127.0.0.1 (RFC 5626 §3.5, §4.4.1).

Proves, with short intervals and real loopback sockets:
- TCP: a CRLFCRLF ping goes out on the watched connection once per interval, the
  server's CRLF pong keeps the flow (no failure over many rounds shorter than the pong
  timeout); when the server stops answering, on_failure reports the destination once,
  after the pong timeout, and the flow is no longer watched;
- a watched TCP destination without an open connection is reported failed;
- interval 0 sends nothing, and set_interval(0) stops a running scheduler;
- UDP without STUN: one CRLFCRLF datagram per interval;
- UDP with a StunClient: a server that answers STUN gets STUN Binding keep-alives (the
  mapped address is learnt); one that does not gets CRLFCRLF after the first probe;
- an unwatched flow is not probed.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Callable, Coroutine
from typing import Any, cast

from voipkit.aio.keepalive import KeepAliveScheduler, UdpMode
from voipkit.aio.sip_transport import SipTransports
from voipkit.aio.stun import StunClient
from voipkit.aio.stun_message import StunMessage, binding_response, is_stun
from voipkit.sip.addressing import Address, Destination, TransportKind

UDP, TCP = TransportKind.UDP, TransportKind.TCP


def run(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body on a fresh event loop."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper


class PingServer(asyncio.Protocol):
    """A TCP peer that records CRLFCRLF pings and answers the first ``answer`` of them."""

    def __init__(self, record: list[float], answer: int) -> None:
        self.record = record
        self.answer = answer
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            self.buffer = self.buffer.split(b"\r\n\r\n", 1)[1]
            self.record.append(asyncio.get_running_loop().time())
            if len(self.record) <= self.answer:
                assert self.transport is not None
                self.transport.write(b"\r\n")


async def ping_server(answer: int = 1_000) -> tuple[asyncio.Server, Address, list[float]]:
    record: list[float] = []
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: PingServer(record, answer), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[:2], record


class UdpPeer(asyncio.DatagramProtocol):
    """Records datagrams; answers STUN Binding requests when ``stun`` is set."""

    def __init__(self, stun: bool) -> None:
        self.stun = stun
        self.received: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received.append(data)
        if self.stun and is_stun(data):
            assert self.transport is not None
            tid = StunMessage.decode(data).transaction_id
            self.transport.sendto(binding_response(tid, (str(addr[0]), int(addr[1]))), addr)


async def udp_peer(stun: bool) -> tuple[UdpPeer, Address]:
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(
        lambda: UdpPeer(stun), local_addr=("127.0.0.1", 0))
    return peer, transport.get_extra_info("sockname")[:2]


@run
async def test_tcp_pings_at_the_interval_and_pongs_keep_the_flow() -> None:
    server, address, pings = await ping_server()
    failures: list[tuple[Destination, str]] = []
    async with SipTransports() as transports:
        dest = Destination(TCP, *address)
        await transports.connect(dest)
        ka = KeepAliveScheduler(transports, interval=0.1, pong_timeout=0.08,
                                on_failure=lambda d, r: failures.append((d, r)))
        ka.watch(dest)
        await asyncio.sleep(0.55)
        await ka.close()
        assert failures == []
        assert 3 <= len(pings) <= 6
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        assert all(0.08 <= g <= 0.2 for g in gaps), gaps
        assert ka.counters["pongs"] == ka.counters["pings_sent"] == len(pings)
        assert ka.watched == [dest]
    server.close()


@run
async def test_missing_pong_reports_the_flow_failed_once() -> None:
    server, address, pings = await ping_server(answer=2)
    failures: list[tuple[Destination, str]] = []
    loop = asyncio.get_running_loop()
    async with SipTransports() as transports:
        dest = Destination(TCP, *address)
        await transports.connect(dest)
        ka = KeepAliveScheduler(transports, interval=0.05, pong_timeout=0.2,
                                on_failure=lambda d, r: failures.append((d, r)))
        ka.watch(dest)
        for _ in range(300):
            if failures:
                break
            await asyncio.sleep(0.01)
        failed_at = loop.time()
        await asyncio.sleep(0.2)
        await ka.close()
    server.close()
    assert len(pings) == 3  # two answered, the third never was; nothing after the failure
    assert [d for d, _ in failures] == [dest]
    assert "no pong" in failures[0][1]
    assert failed_at - pings[2] >= 0.19  # the pong timeout, measured from the third ping
    assert ka.watched == [] and ka.counters["failures"] == 1


@run
async def test_watched_stream_without_connection_fails() -> None:
    failures: list[Destination] = []
    async with SipTransports() as transports:
        ka = KeepAliveScheduler(transports, interval=0, on_failure=lambda d, r: failures.append(d))
        dest = Destination(TCP, "127.0.0.1", 9)
        ka.watch(dest)
        await ka.run_round()
    assert failures == [dest]


@run
async def test_interval_zero_sends_nothing_and_set_interval_zero_stops() -> None:
    server, address, pings = await ping_server()
    async with SipTransports() as transports:
        dest = Destination(TCP, *address)
        await transports.connect(dest)
        ka = KeepAliveScheduler(transports, interval=0)
        ka.watch(dest)
        await asyncio.sleep(0.25)
        assert pings == [] and ka.counters["rounds"] == 0
        ka.set_interval(0.05)
        await asyncio.sleep(0.18)
        ka.set_interval(0)
        sent = len(pings)
        assert sent >= 2
        await asyncio.sleep(0.2)
        assert len(pings) == sent
        await ka.close()
    server.close()


@run
async def test_udp_without_stun_sends_crlf_datagrams() -> None:
    peer, address = await udp_peer(stun=False)
    async with SipTransports() as transports:
        await transports.listen(UDP, "127.0.0.1")
        ka = KeepAliveScheduler(transports, interval=0.05)
        dest = Destination(UDP, *address)
        ka.watch(dest)
        await asyncio.sleep(0.18)
        ka.unwatch(dest)
        count = len(peer.received)
        await asyncio.sleep(0.12)
        await ka.close()
    assert 2 <= count <= 4
    assert peer.received == [b"\r\n\r\n"] * count  # and nothing once unwatched
    assert ka.udp_mode(dest) is UdpMode.UNKNOWN  # forgotten by unwatch


@run
async def test_udp_uses_stun_when_the_server_answers_it() -> None:
    peer, address = await udp_peer(stun=True)
    failures: list[Destination] = []
    async with SipTransports() as transports:
        local = await transports.listen(UDP, "127.0.0.1")
        stun = StunClient.attach(transports)
        ka = KeepAliveScheduler(transports, interval=0.05, pong_timeout=0.5, stun=stun,
                                on_failure=lambda d, r: failures.append(d))
        dest = Destination(UDP, *address)
        ka.watch(dest)
        await asyncio.sleep(0.18)
        await ka.close()
        assert ka.udp_mode(dest) is UdpMode.STUN
        assert ka.mapped_address(dest) == local
    assert failures == []
    assert len(peer.received) >= 2 and all(is_stun(d) for d in peer.received)


@run
async def test_udp_falls_back_to_crlf_when_stun_is_not_answered() -> None:
    peer, address = await udp_peer(stun=False)
    async with SipTransports() as transports:
        await transports.listen(UDP, "127.0.0.1")
        stun = StunClient.attach(transports, rto=0.02, rc=2, rm=2)
        ka = KeepAliveScheduler(transports, interval=0.05, pong_timeout=0.1, stun=stun)
        dest = Destination(UDP, *address)
        ka.watch(dest)
        await asyncio.sleep(0.3)
        await ka.close()
        assert ka.udp_mode(dest) is UdpMode.CRLF
    kinds = ["stun" if is_stun(d) else d for d in peer.received]
    assert kinds[:2] == ["stun", "stun"]  # the first probe and its retransmission
    assert kinds[2:] and set(kinds[2:]) == {b"\r\n\r\n"}

