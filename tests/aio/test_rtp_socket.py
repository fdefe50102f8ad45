"""RtpSocketPair on 127.0.0.1: port pairs from a range, echo, symmetric latching.

Proves:
- the pair is an even RTP port and RTP + 1 for RTCP, inside the configured range;
  a pair in use is skipped; a full range raises TransportError naming the range;
  ``first_port`` starts the search elsewhere in the range;
- RTP and RTCP round-trip between two pairs, with the source address and an
  arrival time on the loop clock, and the counters add up;
- with symmetric RTP, a pair sends to the SDP address until a packet arrives,
  then to the packet's source (RTCP to its port + 1 until RTCP latches);
  ``set_remote`` clears the latch; ``symmetric=False`` never latches;
- sending with no destination, or after close(), is dropped and counted; DSCP is set.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from voipkit.aio.errors import TransportError
from voipkit.aio.rtp_socket import Address, RtpSocketPair

HOST = "127.0.0.1"


def _free_range(size: int) -> tuple[int, int]:
    """A run of ``size`` ports starting even, all currently bindable."""
    for base in range(42000, 60000, 64):
        socks = []
        try:
            for p in range(base, base + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((HOST, p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base, base + size - 1
    raise RuntimeError("no free port run")


def run(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 10))


class Inbox:
    def __init__(self) -> None:
        self.items: list[tuple[bytes, Address, float]] = []
        self.event = asyncio.Event()

    def __call__(self, data: bytes, addr: Address, arrival: float) -> None:
        self.items.append((data, addr, arrival))
        self.event.set()

    async def wait(self, count: int) -> None:
        while len(self.items) < count:
            self.event.clear()
            await self.event.wait()


def test_pairs_are_even_and_odd_in_range_and_exhaust() -> None:
    low, high = _free_range(6)  # three pairs

    async def main() -> None:
        pairs = [RtpSocketPair.open(HOST, port_range=(low, high)) for _ in range(3)]
        assert [(p.rtp_port, p.rtcp_port) for p in pairs] == [
            (low, low + 1), (low + 2, low + 3), (low + 4, low + 5)]
        with pytest.raises(TransportError, match=f"range {low}-{high}"):
            RtpSocketPair.open(HOST, port_range=(low, high))
        pairs[1].close()
        again = RtpSocketPair.open(HOST, port_range=(low, high))
        assert again.rtp_port == low + 2
        for p in [pairs[0], pairs[2], again]:
            p.close()
        later = RtpSocketPair.open(HOST, port_range=(low, high), first_port=low + 4)
        assert later.rtp_port == low + 4
        later.close()

    run(main)


def test_rtcp_port_in_use_skips_the_pair() -> None:
    low, high = _free_range(4)

    async def main() -> None:
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blocker.bind((HOST, low + 1))
        try:
            with RtpSocketPair.open(HOST, port_range=(low, high)) as pair:
                assert pair.rtp_port == low + 2
        finally:
            blocker.close()
        with pytest.raises(TransportError, match="no even/odd pair"):
            RtpSocketPair.open(HOST, port_range=(low + 1, low + 2))

    run(main)


def test_echo_rtp_and_rtcp_with_counters() -> None:
    low, high = _free_range(4)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        a_rtp, a_rtcp, b_rtp, b_rtcp = Inbox(), Inbox(), Inbox(), Inbox()
        a = RtpSocketPair.open(HOST, port_range=(low, high), on_rtp=a_rtp, on_rtcp=a_rtcp)
        b = RtpSocketPair.open(HOST, port_range=(low, high), on_rtp=b_rtp, on_rtcp=b_rtcp,
                               remote_rtp=(HOST, a.rtp_port), dscp=46)
        assert b.rtp_socket.getsockopt(socket.IPPROTO_IP, socket.IP_TOS) == 46 << 2
        a.set_remote((HOST, b.rtp_port))
        before = loop.time()
        for i in range(5):
            assert b.send_rtp(b"\x80\x00" + bytes([i]))
        assert b.send_rtcp(b"\x81\xc8rtcp")
        await a_rtp.wait(5)
        await a_rtcp.wait(1)
        assert [d for d, _, _ in a_rtp.items] == [b"\x80\x00" + bytes([i]) for i in range(5)]
        assert {addr for _, addr, _ in a_rtp.items} == {(HOST, b.rtp_port)}
        assert a_rtcp.items[0][:2] == (b"\x81\xc8rtcp", (HOST, b.rtcp_port))
        assert all(before <= t <= loop.time() for _, _, t in a_rtp.items)
        for data, _, _ in a_rtp.items:  # echo back
            a.send_rtp(data)
        await b_rtp.wait(5)
        assert (a.counters.rtp_received, a.counters.rtcp_received, a.counters.rtp_sent) == (5, 1, 5)
        assert (b.counters.rtp_sent, b.counters.rtcp_sent, b.counters.rtp_received) == (5, 1, 5)
        assert a.counters.dropped == b.counters.dropped == 0
        a.close()
        b.close()
        a.close()
        assert not b.send_rtp(b"x") and b.counters.dropped == 1

    run(main)


def test_symmetric_rtp_latches_to_the_packet_source() -> None:
    low, high = _free_range(4)

    async def main() -> None:
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the NATed phone
        peer.bind((HOST, 0))
        peer.setblocking(False)
        sdp_rtp = (HOST, 9)  # what its SDP claimed (discard port: nobody answers)
        inbox = Inbox()
        pair = RtpSocketPair.open(HOST, port_range=(low, high), on_rtp=inbox,
                                  remote_rtp=sdp_rtp)
        assert pair.remote_rtp == sdp_rtp and pair.remote_rtcp == (HOST, 10)
        assert not pair.latched
        peer.sendto(b"from-nat", (HOST, pair.rtp_port))
        await inbox.wait(1)
        source = peer.getsockname()
        assert pair.latched
        assert pair.remote_rtp == source
        assert pair.remote_rtcp == (HOST, source[1] + 1)
        pair.send_rtp(b"reply")
        loop = asyncio.get_running_loop()
        data = await loop.sock_recv(peer, 100)
        assert data == b"reply"
        pair.set_remote((HOST, 9))
        assert not pair.latched and pair.remote_rtp == (HOST, 9)
        pair.close()
        fixed_inbox = Inbox()
        fixed = RtpSocketPair.open(HOST, port_range=(low, high), on_rtp=fixed_inbox,
                                   remote_rtp=sdp_rtp, symmetric=False)
        peer.sendto(b"from-nat", (HOST, fixed.rtp_port))
        await fixed_inbox.wait(1)
        assert not fixed.latched and fixed.remote_rtp == sdp_rtp
        fixed.close()
        peer.close()

    run(main)


def test_no_destination_is_dropped_and_bad_inputs_raise() -> None:
    low, high = _free_range(2)

    async def main() -> None:
        with RtpSocketPair.open(HOST, port_range=(low, high)) as pair:
            assert pair.remote_rtp is None and pair.remote_rtcp is None
            assert not pair.send_rtp(b"x") and not pair.send_rtcp(b"y")
            assert pair.counters.dropped == 2
        assert pair.closed
        with pytest.raises(TransportError, match="invalid RTP port range"):
            RtpSocketPair.open(HOST, port_range=(2000, 1000))
        with pytest.raises(TransportError, match="not an IP address"):
            RtpSocketPair.open("localhost", port_range=(low, high))

    run(main)
