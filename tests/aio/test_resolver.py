"""RFC 3263 server location against a local authoritative DNS server, and §18.1.1.

Proves:
- numeric hosts and localhost skip DNS (no query reaches the server), with default
  ports 5060/5061 and transports from ``transport=`` or the scheme;
- an explicit port asks only A/AAAA; ``transport=`` without a port asks that SRV;
- NAPTR -> SRV -> A/AAAA chains are followed in NAPTR order/preference, unusable
  NAPTR services are skipped, and ``sips:`` keeps only SIPS+D2T;
- without NAPTR, SRV is tried for _sip._udp, _sip._tcp, _sips._tcp in that order;
- without SRV, A and AAAA records on the default port (IPv6 hosts as literals);
- RFC 2782 ordering: priority first, then weighted random with the injected draws;
- NXDOMAIN and an unreachable DNS server raise ResolveError naming the host;
- prefer_tcp_for_size moves UDP targets to TCP above 1300 bytes (or MTU-200).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from voipkit.aio.errors import ResolveError
from voipkit.aio.resolver import SipResolver, SrvRecord, order_srv, prefer_tcp_for_size
from voipkit.sip.addressing import Destination, TransportKind

UDP, TCP, TLS = TransportKind.UDP, TransportKind.TCP, TransportKind.TLS


class Draws:
    """Scripted RFC 2782 draws: each randint(0, total) returns the next value."""

    def __init__(self, *values: int) -> None:
        self.values = list(values)
        self.calls: list[tuple[int, int]] = []

    def randint(self, a: int, b: int) -> int:
        self.calls.append((a, b))
        return self.values.pop(0) if self.values else a


class Uri:
    def __init__(self, scheme: str, host: str, port: int | None = None,
                 transport: str | None = None, maddr: str | None = None) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self.transport, self.maddr = transport, maddr


ZONE = {
    # example.test: full NAPTR chain; TCP preferred by order, UDP second; an unusable
    # service (SIP+D2S, SCTP) and a non-"s" flag are skipped.
    ("example.test", "NAPTR"): [
        '20 10 "s" "SIP+D2U" "" _sip._udp.example.test.',
        '10 20 "s" "SIP+D2T" "" _sip._tcp.example.test.',
        '10 10 "s" "SIPS+D2T" "" _sips._tcp.example.test.',
        '5 10 "s" "SIP+D2S" "" _sip._sctp.example.test.',
        '5 10 "a" "SIP+D2U" "" other.example.test.',
    ],
    ("_sips._tcp.example.test", "SRV"): ["0 0 5061 tls.example.test."],
    ("_sip._tcp.example.test", "SRV"): ["0 0 5070 tcp.example.test."],
    ("_sip._udp.example.test", "SRV"): ["0 0 5080 udp.example.test."],
    ("tls.example.test", "A"): ["192.0.2.1"],
    ("tcp.example.test", "A"): ["192.0.2.2"],
    ("udp.example.test", "A"): ["192.0.2.3"],
    ("udp.example.test", "AAAA"): ["2001:db8::3"],
    # srv.test: no NAPTR, SRV only for UDP and TLS; priorities and weights
    ("srv.test", "A"): ["192.0.2.99"],
    ("_sip._udp.srv.test", "SRV"): [
        "20 0 5060 backup.srv.test.",
        "10 60 5060 a.srv.test.",
        "10 40 5062 b.srv.test.",
    ],
    ("_sips._tcp.srv.test", "SRV"): ["0 0 5061 a.srv.test."],
    ("a.srv.test", "A"): ["192.0.2.10"],
    ("b.srv.test", "A"): ["192.0.2.11"],
    ("backup.srv.test", "AAAA"): ["2001:db8::20"],
    # plain.test: only address records
    ("plain.test", "A"): ["192.0.2.50", "192.0.2.51"],
    ("plain.test", "AAAA"): ["2001:db8::50"],
    ("v6only.test", "AAAA"): ["2001:DB8:0:0::1"],
    # dead.test: SRV says "service decidedly not available"; falls back to A
    ("_sip._udp.dead.test", "SRV"): ["0 0 0 ."],
    ("dead.test", "A"): ["192.0.2.77"],
    # empty.test exists but has nothing usable
    ("empty.test", "TXT"): ['"nothing"'],
}


def resolve(zone_server: Any, uri: Uri, *, draws: Sequence[int] = (), **kw: Any
            ) -> tuple[list[Destination], list[tuple[str, str]]]:
    async def main() -> tuple[list[Destination], list[tuple[str, str]]]:
        async with zone_server(ZONE) as server:
            resolver = SipResolver(nameservers=["127.0.0.1"], port=server.port,
                                   rng=Draws(*draws), **kw)
            found = await resolver.resolve(uri)
            return found, server.queries

    return asyncio.run(main())


def test_numeric_hosts_and_localhost_skip_dns(zone_server: Any) -> None:
    cases = [
        (Uri("sip", "192.0.2.1"), Destination(UDP, "192.0.2.1", 5060)),
        (Uri("sips", "192.0.2.1"), Destination(TLS, "192.0.2.1", 5061)),
        (Uri("sip", "::1", transport="tcp"), Destination(TCP, "::1", 5060)),
        (Uri("sip", "[2001:DB8::1]", port=5070), Destination(UDP, "2001:db8::1", 5070)),
        (Uri("sips", "192.0.2.1", transport="tcp"), Destination(TLS, "192.0.2.1", 5061)),
        (Uri("sip", "localhost", port=5999), Destination(UDP, "127.0.0.1", 5999)),
        (Uri("sip", "example.test", maddr="192.0.2.9"), Destination(UDP, "192.0.2.9", 5060)),
    ]
    for uri, expected in cases:
        found, queries = resolve(zone_server, uri)
        assert found == [expected]
        assert queries == []


def test_explicit_port_asks_only_address_records(zone_server: Any) -> None:
    found, queries = resolve(zone_server, Uri("sip", "plain.test", port=5099))
    # the order inside one RRset carries no meaning in DNS; A records come before AAAA
    assert set(found[:2]) == {Destination(UDP, "192.0.2.50", 5099),
                              Destination(UDP, "192.0.2.51", 5099)}
    assert found[2:] == [Destination(UDP, "2001:db8::50", 5099)]
    assert sorted(queries) == [("plain.test.", "A"), ("plain.test.", "AAAA")]


def test_naptr_srv_address_chain_in_order_and_preference(zone_server: Any) -> None:
    found, queries = resolve(zone_server, Uri("sip", "example.test"))
    assert found == [
        Destination(TLS, "192.0.2.1", 5061),   # order 10, preference 10
        Destination(TCP, "192.0.2.2", 5070),   # order 10, preference 20
        Destination(UDP, "192.0.2.3", 5080),   # order 20
        Destination(UDP, "2001:db8::3", 5080),
    ]
    assert queries[0] == ("example.test.", "NAPTR")
    assert ("_sip._sctp.example.test.", "SRV") not in queries
    assert ("other.example.test.", "SRV") not in queries


def test_sips_keeps_only_tls_naptr_services(zone_server: Any) -> None:
    found, _ = resolve(zone_server, Uri("sips", "example.test"))
    assert found == [Destination(TLS, "192.0.2.1", 5061)]


def test_transports_not_spoken_are_skipped(zone_server: Any) -> None:
    found, _ = resolve(zone_server, Uri("sip", "example.test"), transports=[UDP])
    assert [d.transport for d in found] == [UDP, UDP]


def test_transport_param_without_port_asks_that_srv(zone_server: Any) -> None:
    found, queries = resolve(zone_server, Uri("sip", "example.test", transport="tcp"))
    assert found == [Destination(TCP, "192.0.2.2", 5070)]
    assert ("example.test.", "NAPTR") not in queries


def test_srv_fallback_orders_by_priority_then_weight(zone_server: Any) -> None:
    # priority 10 group, sorted by weight for selection: [b(40), a(60)], sum 100.
    # A draw of 70 passes b (40 < 70) and picks a; the last one needs no choice.
    found, _ = resolve(zone_server, Uri("sip", "srv.test"), draws=[70, 0])
    assert found == [
        Destination(UDP, "192.0.2.10", 5060),
        Destination(UDP, "192.0.2.11", 5062),
        Destination(UDP, "2001:db8::20", 5060),   # priority 20
        Destination(TLS, "192.0.2.10", 5061),     # _sips._tcp comes after _sip._udp
    ]
    found, _ = resolve(zone_server, Uri("sip", "srv.test"), draws=[40, 0])
    assert found[:2] == [Destination(UDP, "192.0.2.11", 5062),
                         Destination(UDP, "192.0.2.10", 5060)]


def test_address_fallback_with_default_port_and_ipv6(zone_server: Any) -> None:
    found, queries = resolve(zone_server, Uri("sips", "plain.test"))
    assert set(found[:2]) == {Destination(TLS, "192.0.2.50", 5061),
                              Destination(TLS, "192.0.2.51", 5061)}
    assert found[2:] == [Destination(TLS, "2001:db8::50", 5061)]
    assert ("_sips._tcp.plain.test.", "SRV") in queries
    assert ("_sip._udp.plain.test.", "SRV") not in queries   # sips: TLS only
    found, _ = resolve(zone_server, Uri("sip", "plain.test"), prefer_ipv6=True)
    assert found[0] == Destination(UDP, "2001:db8::50", 5060)
    found, _ = resolve(zone_server, Uri("sip", "v6only.test"))
    assert found == [Destination(UDP, "2001:db8::1", 5060)]


def test_srv_dot_target_means_not_available(zone_server: Any) -> None:
    found, _ = resolve(zone_server, Uri("sip", "dead.test"))
    assert found == [Destination(UDP, "192.0.2.77", 5060)]


def test_nxdomain_and_empty_domains_raise_resolve_error(zone_server: Any) -> None:
    with pytest.raises(ResolveError) as info:
        resolve(zone_server, Uri("sip", "nowhere.test"))
    assert str(info.value) == "cannot resolve nowhere.test: no such domain (NXDOMAIN)"
    assert info.value.address == "nowhere.test"
    with pytest.raises(ResolveError, match=r"empty\.test: no NAPTR, SRV, A or AAAA records"):
        resolve(zone_server, Uri("sip", "empty.test"))
    with pytest.raises(ResolveError, match="unsupported transport=sctp"):
        resolve(zone_server, Uri("sip", "example.test", transport="sctp"))
    with pytest.raises(ResolveError, match="tel: URI"):
        resolve(zone_server, Uri("tel", "+15551234"))


def test_unreachable_dns_server_raises_resolve_error_with_the_reason() -> None:
    async def main() -> None:
        silent = await asyncio.get_running_loop().create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
        port = silent[0].get_extra_info("sockname")[1]
        try:
            resolver = SipResolver(nameservers=["127.0.0.1"], port=port,
                                   timeout=0.1, lifetime=0.2)
            with pytest.raises(ResolveError, match=r"cannot resolve slow\.test: .*timed out"):
                await resolver.resolve_host("slow.test", port=5060)
        finally:
            silent[0].close()

    asyncio.run(main())


def test_order_srv_follows_rfc_2782() -> None:
    records = [SrvRecord(2, 0, 1, "p2."), SrvRecord(1, 10, 1, "x."),
               SrvRecord(1, 0, 1, "zero."), SrvRecord(1, 30, 1, "y.")]
    draws = Draws(0, 35, 5)
    ordered = order_srv(records, draws)
    # group 1 sorted for selection as [zero(0), x(10), y(30)]; draw 0 -> zero;
    # then [x, y] sum 40, draw 35 -> y (10 < 35 <= 40); then [x] sum 10 -> x.
    assert [r.target for r in ordered] == ["zero.", "y.", "x.", "p2."]
    assert draws.calls == [(0, 40), (0, 40), (0, 10), (0, 0)]


def test_large_requests_move_from_udp_to_tcp() -> None:
    targets = [Destination(UDP, "192.0.2.1", 5060), Destination(TLS, "192.0.2.2", 5061)]
    assert prefer_tcp_for_size(targets, 1300) == targets
    moved = [Destination(TCP, "192.0.2.1", 5060), Destination(UDP, "192.0.2.1", 5060),
             Destination(TLS, "192.0.2.2", 5061)]
    assert prefer_tcp_for_size(targets, 1301) == moved
    assert prefer_tcp_for_size(targets, 1299, mtu=1500) == targets
    assert prefer_tcp_for_size(targets, 1300, mtu=1500) == moved
    assert prefer_tcp_for_size(targets, 1000, mtu=1200) == moved
    both = [Destination(TCP, "192.0.2.1", 5060), Destination(UDP, "192.0.2.1", 5060)]
    assert prefer_tcp_for_size(both, 5000) == both   # no duplicate TCP target
