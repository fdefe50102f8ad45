"""SipTransports moves SIP bytes over real loopback sockets (RFC 3261 §18).

Proves, with two transport managers on 127.0.0.1 / ::1 and port 0 everywhere:
- UDP, TCP and TLS echo a SIP message both ways, over IPv4 and IPv6, on the default
  loop and on uvloop; the trace hook sees every message sent and received;
- a datagram larger than the limit is dropped and counted, the next one still arrives;
- a stream message over the configured size closes the connection and is counted;
- a CRLFCRLF ping is answered by a CRLF pong;
- TLS verifies certificates by default: it works with the test CA, and fails with
  TlsError without it, with another CA, or with the wrong host name;
- a response to a request that arrived over TCP goes back over that connection, and a
  second request to the same destination reuses the open connection;
- idle connections are closed; a refused connect reaches on_error as ConnectError;
- listening on a port in use raises TransportError naming the address.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import uvloop

from voipkit.aio.errors import ConnectError, TlsError, TransportError
from voipkit.aio.sip_transport import (
    PING,
    PONG,
    Direction,
    SipTransports,
    TlsConfig,
    TraceRecord,
    TransportConfig,
)
from voipkit.sip.addressing import Address, Destination, TransportKind

UDP, TCP, TLS = TransportKind.UDP, TransportKind.TCP, TransportKind.TLS


def sip_message(body: bytes = b"", *, call_id: str = "c1") -> bytes:
    head = (
        "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1\r\n"
        "From: <sip:alice@127.0.0.1>;tag=1\r\n"
        "To: <sip:bob@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Max-Forwards: 70\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Inbox:
    """Collects (data, source, transport) and lets a test await the n-th message."""

    def __init__(self) -> None:
        self.items: list[tuple[bytes, Address, TransportKind]] = []
        self._changed = asyncio.Event()

    def __call__(self, data: bytes, source: Address, transport: TransportKind) -> None:
        self.items.append((data, source, transport))
        self._changed.set()

    async def wait(self, count: int = 1, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()


def run(coro: Callable[[], Coroutine[Any, Any, None]], *, use_uvloop: bool = False) -> None:
    if use_uvloop:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(coro())
    else:
        asyncio.run(coro())


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def echo_once(kind: TransportKind, host: str, *, config: TransportConfig | None = None,
                    server_name: str | None = None) -> tuple[list[TraceRecord], Inbox, Inbox]:
    trace: list[TraceRecord] = []
    a_in, b_in = Inbox(), Inbox()
    async with SipTransports(config=config, on_receive=a_in, trace=trace.append) as a, \
            SipTransports(config=config, on_receive=b_in) as b:
        a_addr = await a.listen(kind, host, 0)
        b_addr = await b.listen(kind, host, 0)
        assert a_addr[1] != 0 and b_addr[1] != 0
        b_dest = Destination(kind, *b_addr)
        if server_name is not None:
            a.set_server_name(b_dest, server_name)
        request = sip_message(b"hello")
        a.send(b_dest, request)
        await b_in.wait()
        data, source, transport = b_in.items[0]
        assert (data, transport) == (request, kind)
        # answer to where it came from: the UDP listener, or the same connection
        b.send(Destination(kind, *source), sip_message(call_id="reply"))
        await a_in.wait()
        assert a_in.items[0][0] == sip_message(call_id="reply")
        assert a_in.items[0][1] == b_addr
    return trace, a_in, b_in


@pytest.mark.parametrize("kind", [UDP, TCP])
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_echo_over_udp_and_tcp_on_ipv4_and_ipv6(kind: TransportKind, host: str) -> None:
    async def main() -> None:
        trace, _, _ = await echo_once(kind, host)
        assert [t.direction for t in trace] == [Direction.SENT, Direction.RECEIVED]
        sent, received = trace
        assert sent.transport is kind and sent.data == sip_message(b"hello")
        assert sent.remote == received.remote and sent.remote[0] == host
        assert received.data == sip_message(call_id="reply")
        assert received.local == sent.local

    run(main)


@pytest.mark.parametrize("kind", [UDP, TCP])
def test_echo_on_uvloop(kind: TransportKind) -> None:
    async def main() -> None:
        await echo_once(kind, "127.0.0.1")

    run(main, use_uvloop=True)


def test_tls_echo_with_the_test_ca(tls_files: Any) -> None:
    tls = TlsConfig(ca_file=tls_files.ca_file, cert_file=tls_files.cert_file,
                    key_file=tls_files.key_file)

    async def main() -> None:
        await echo_once(TLS, "127.0.0.1", config=TransportConfig(tls=tls), server_name="sip.test")
        await echo_once(TLS, "::1", config=TransportConfig(tls=tls))  # IP SAN ::1

    run(main)


@pytest.mark.parametrize(
    ("ca", "server_name", "problem"),
    [
        (None, "sip.test", "certificate not accepted"),
        ("other", "sip.test", "certificate not accepted"),
        ("test", "wrong.test", "wrong.test"),
    ],
)
def test_tls_verification_failures_raise_tls_error(
    tls_files: Any, ca: str | None, server_name: str, problem: str
) -> None:
    ca_file = {None: None, "other": tls_files.other_ca_file, "test": tls_files.ca_file}[ca]
    server_tls = TlsConfig(cert_file=tls_files.cert_file, key_file=tls_files.key_file)
    client_tls = TlsConfig(ca_file=ca_file)

    async def main() -> None:
        async with SipTransports(config=TransportConfig(tls=server_tls)) as server, \
                SipTransports(config=TransportConfig(tls=client_tls)) as client:
            addr = await server.listen(TLS, "127.0.0.1")
            dest = Destination(TLS, *addr)
            with pytest.raises(TlsError) as info:
                await client.connect(dest, server_name=server_name)
            assert problem in str(info.value)
            assert str(dest) in str(info.value)
            assert client.connections == []

    run(main)


def test_tls_without_verification_accepts_an_unknown_ca(tls_files: Any) -> None:
    server_tls = TlsConfig(cert_file=tls_files.cert_file, key_file=tls_files.key_file)

    async def main() -> None:
        async with SipTransports(config=TransportConfig(tls=server_tls)) as server, \
                SipTransports(config=TransportConfig(tls=TlsConfig(verify=False))) as client:
            addr = await server.listen(TLS, "127.0.0.1")
            conn = await client.connect(Destination(TLS, *addr), server_name="wrong.test")
            assert conn.is_open

    run(main)


def test_oversize_datagram_is_dropped_and_counted() -> None:
    config = TransportConfig(max_datagram_size=1000)

    async def main() -> None:
        inbox = Inbox()
        async with SipTransports(config=config, on_receive=inbox) as b:
            addr = await b.listen(UDP, "127.0.0.1")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
                raw.sendto(sip_message(b"x" * 1200), addr)            # 1200+ > 1000
                pad = 1000 - len(sip_message(b"y" * 500))
                small = sip_message(b"y" * (500 + pad))
                assert len(small) == 1000  # the limit itself is accepted
                raw.sendto(small, addr)
                await inbox.wait()
            assert [item[0] for item in inbox.items] == [small]
            assert b.counters["udp_dropped_oversize"] == 1
            assert b.counters["udp_received"] == 1

    run(main)


async def raw_stream(addr: Address) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(addr[0], addr[1])


def test_stream_message_over_the_limit_closes_the_connection() -> None:
    config = TransportConfig(max_stream_message_size=500)

    async def main() -> None:
        inbox = Inbox()
        async with SipTransports(config=config, on_receive=inbox) as b:
            addr = await b.listen(TCP, "127.0.0.1")
            reader, writer = await raw_stream(addr)
            writer.write(sip_message(b"ok"))
            await inbox.wait()
            writer.write(sip_message(b"z" * 600))
            assert await asyncio.wait_for(reader.read(), 5.0) == b""  # closed by b
            writer.close()
            assert len(inbox.items) == 1
            assert b.counters["stream_framing_errors"] == 1
            await until(lambda: b.connections == [])

    run(main)


def test_crlf_ping_gets_a_pong_on_tcp_and_from_an_outbound_connection() -> None:
    async def main() -> None:
        async with SipTransports() as b, SipTransports() as a:
            addr = await b.listen(TCP, "127.0.0.1")
            reader, writer = await raw_stream(addr)
            writer.write(PING)
            assert await asyncio.wait_for(reader.readexactly(2), 5.0) == PONG
            writer.close()
            assert b.counters["keepalive_pongs_sent"] == 1
            # Our own connection pings; the peer (also voipkit) pongs; we count the pong.
            conn = await a.connect(Destination(TCP, *addr))
            conn.ping()
            await until(lambda: a.counters["keepalive_pongs_received"] == 1)

    run(main)


def test_response_reuses_the_inbound_tcp_connection_and_requests_reuse_outbound() -> None:
    async def main() -> None:
        a_in, b_in = Inbox(), Inbox()
        async with SipTransports(on_receive=a_in) as a, SipTransports(on_receive=b_in) as b:
            await a.listen(TCP, "127.0.0.1")
            b_addr = await b.listen(TCP, "127.0.0.1")
            dest = Destination(TCP, *b_addr)
            a.send(dest, sip_message(call_id="r1"))
            await b_in.wait()
            source = b_in.items[0][1]
            assert len(b.connections) == 1
            inbound = b.connections[0]
            assert inbound.inbound and inbound.remote == source
            b.send(Destination(TCP, *source), sip_message(call_id="resp"))
            await a_in.wait()
            a.send(dest, sip_message(call_id="r2"))
            await b_in.wait(2)
            # one connection each way, nothing new was opened or accepted
            assert a.counters["connections_opened"] == 1
            assert b.counters["connections_accepted"] == 1
            assert b.connections == [inbound] and b_in.items[1][1] == source
            assert a.connection_for(dest) is not None

    run(main)


def test_idle_connections_are_closed() -> None:
    async def main() -> None:
        async with SipTransports(config=TransportConfig(idle_timeout=30.0)) as a, \
                SipTransports() as b:
            addr = await b.listen(TCP, "127.0.0.1")
            conn = await a.connect(Destination(TCP, *addr))
            loop = asyncio.get_running_loop()
            assert a.close_idle(now=loop.time()) == 0
            assert a.close_idle(now=conn.last_activity + 30.0) == 1
            await asyncio.wait_for(conn.closed, 5.0)
            assert a.connections == [] and a.counters["connections_closed_idle"] == 1
            await until(lambda: b.connections == [])

    run(main)


def test_idle_sweeper_runs_on_its_own() -> None:
    async def main() -> None:
        async with SipTransports(config=TransportConfig(idle_timeout=0.2)) as a, \
                SipTransports() as b:
            await a.listen(UDP, "127.0.0.1")  # starts the sweeper
            addr = await b.listen(TCP, "127.0.0.1")
            conn = await a.connect(Destination(TCP, *addr))
            await asyncio.wait_for(conn.closed, 5.0)
            assert a.counters["connections_closed_idle"] == 1

    run(main)


def test_refused_connect_reports_connect_error_to_on_error() -> None:
    async def main() -> None:
        errors: list[tuple[Destination, TransportError]] = []
        with socket.socket() as probe:  # a port with nothing listening
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        async with SipTransports(on_error=lambda d, e: errors.append((d, e))) as a:
            dest = Destination(TCP, "127.0.0.1", port)
            a.send(dest, sip_message())
            await until(lambda: len(errors) == 1)
            assert errors[0][0] == dest
            assert isinstance(errors[0][1], ConnectError)
            assert f"tcp:127.0.0.1:{port}" in str(errors[0][1])

    run(main)


@pytest.mark.parametrize("kind", [UDP, TCP])
def test_listening_on_a_port_in_use_names_the_address(kind: TransportKind) -> None:
    async def main() -> None:
        async with SipTransports() as a, SipTransports() as b:
            _, port = await a.listen(kind, "127.0.0.1")
            with pytest.raises(TransportError) as info:
                await b.listen(kind, "127.0.0.1", port)
            label = f"{kind.value.lower()}:127.0.0.1:{port}"
            assert str(info.value) == f"cannot listen on {label}: address already in use"

    run(main)


def test_udp_send_needs_a_listener_of_the_right_family() -> None:
    async def main() -> None:
        async with SipTransports() as a:
            await a.listen(UDP, "127.0.0.1")
            with pytest.raises(TransportError, match="no IPv6 UDP listener"):
                a.send(Destination(UDP, "::1", 5060), sip_message())

    run(main)




def test_udp_listener_asks_for_a_large_receive_buffer() -> None:
    # The kernel grants at most net.core.rmem_max (and reports twice what it keeps);
    # with the option off the socket keeps the system default.
    rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())
    default_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    system_default = default_sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    default_sock.close()

    async def main() -> None:
        big = SipTransports()
        plain = SipTransports(config=TransportConfig(udp_receive_buffer=0))
        try:
            await big.listen(TransportKind.UDP, "127.0.0.1")
            await plain.listen(TransportKind.UDP, "127.0.0.1")
            granted = big.counters["udp_receive_buffer"]
            assert granted >= min(TransportConfig().udp_receive_buffer, rmem_max)
            assert granted >= system_default
            assert plain.counters["udp_receive_buffer"] == system_default
        finally:
            await big.close()
            await plain.close()

    run(main)
