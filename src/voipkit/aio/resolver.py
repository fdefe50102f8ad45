"""RFC 3263 server location: a SIP or SIPS URI -> an ordered list of Destinations.

Knows: DNS (NAPTR, SRV, A, AAAA through ``dns.asyncresolver``), RFC 3263 §4
transport/port/address selection, RFC 2782 weighted ordering, and the RFC 3261
§18.1.1 size rule that moves large requests from UDP to TCP. Must not know:
transactions or failover — the core walks the returned list on 503, timeout or
transport error (RFC 3263 §4.3). Output hosts are always IP literals.

Selection, in order (RFC 3263 §4.1, §4.2):

- numeric host (or ``localhost``): no DNS; port defaults to 5060/5061; transport from
  ``transport=``, else UDP (``sip:``) or TLS (``sips:``);
- explicit port: A/AAAA only, transport as above;
- ``transport=`` without port: SRV for that transport, else A/AAAA with the default port;
- otherwise NAPTR (SIP+D2U, SIP+D2T, SIPS+D2T; only SIPS+D2T for ``sips:``), sorted by
  order then preference -> SRV -> A/AAAA; with no usable NAPTR, SRV for ``_sip._udp``,
  ``_sip._tcp``, ``_sips._tcp`` in that order; with no SRV, A/AAAA on the default port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.rdata
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rdtypes.IN.NAPTR
import dns.rdtypes.IN.SRV
import dns.resolver

from voipkit.aio.errors import ResolveError
from voipkit.sip.addressing import Destination, TransportKind, is_ip_literal, strip_brackets

#: RFC 3263 §4.1 NAPTR service fields, and the transport each one means.
NAPTR_SERVICES: dict[str, TransportKind] = {
    "SIP+D2U": TransportKind.UDP,
    "SIP+D2T": TransportKind.TCP,
    "SIPS+D2T": TransportKind.TLS,
}
#: RFC 3263 §4.1 SRV service prefixes for each transport.
SRV_PREFIXES: dict[TransportKind, str] = {
    TransportKind.UDP: "_sip._udp.",
    TransportKind.TCP: "_sip._tcp.",
    TransportKind.TLS: "_sips._tcp.",
}
#: RFC 3261 §18.1.1: "larger than 1300 bytes and the path MTU is unknown".
UNKNOWN_MTU_LIMIT = 1300
#: Room for the Via header field the core adds after this layer measured the request.
VIA_ALLOWANCE = 120


class UriLike(Protocol):
    """What the resolver reads from a ``voipkit.sip.uri.SipUri``."""

    @property
    def scheme(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int | None: ...
    @property
    def transport(self) -> str | None: ...
    @property
    def maddr(self) -> str | None: ...


class RandInt(Protocol):
    """Randomness for RFC 2782 weighted selection (``random.Random`` fits)."""

    def randint(self, a: int, b: int) -> int: ...


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """One SRV answer (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str


def order_srv(records: Iterable[SrvRecord], rng: RandInt) -> list[SrvRecord]:
    """Order SRV records as RFC 2782 prescribes.

    Lowest priority first; within a priority, repeatedly pick a record with
    probability proportional to its weight: draw ``r`` uniformly in ``[0, sum]``
    and take the first record (sorted by weight, so zero weights come first) whose
    running sum of weights is ``>= r``.
    """
    by_priority: dict[int, list[SrvRecord]] = {}
    for rec in records:
        by_priority.setdefault(rec.priority, []).append(rec)
    ordered: list[SrvRecord] = []
    for priority in sorted(by_priority):
        group = by_priority[priority]
        # Zero weights first (RFC 2782); the rest in a fixed order, since the order of
        # records inside an RRset means nothing and must not leak into the result.
        remaining = sorted(group, key=lambda r: (r.weight, r.target, r.port))
        while remaining:
            total = sum(r.weight for r in remaining)
            pick = rng.randint(0, total)
            running = 0
            for i, rec in enumerate(remaining):
                running += rec.weight
                if running >= pick:
                    ordered.append(remaining.pop(i))
                    break
    return ordered


def prefer_tcp_for_size(
    targets: Sequence[Destination], size: int, *, mtu: int | None = None
) -> list[Destination]:
    """Apply RFC 3261 §18.1.1 to a target list before the core sees it.

    "If a request is within 200 bytes of the path MTU, or if it is larger than 1300
    bytes and the path MTU is unknown, the request MUST be sent using an RFC 2914
    congestion controlled transport protocol, such as TCP." Each UDP target then
    becomes the TCP target on the same host and port, followed by the original UDP
    target as a fallback ("if the attempt to establish the connection generates
    [...] a TCP reset, the element SHOULD retry the request, using UDP").

    Args:
        targets: resolved destinations, in order.
        size: the request's size in bytes *including* the Via the core will add
            (``len(bytes(request)) + VIA_ALLOWANCE`` is a fair estimate).
        mtu: the path MTU when known.
    """
    # "within 200 bytes" of the MTU includes exactly 200 bytes below it
    small = size <= UNKNOWN_MTU_LIMIT if mtu is None else size < mtu - 200
    if small:
        return list(targets)
    out: list[Destination] = []
    for target in targets:
        if target.transport is TransportKind.UDP:
            out.append(Destination(TransportKind.TCP, target.host, target.port))
        out.append(target)
    return _dedupe(out)


def _dedupe(items: Iterable[Destination]) -> list[Destination]:
    seen: set[Destination] = set()
    out: list[Destination] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _canonical_ip(host: str) -> str:
    return ipaddress.ip_address(strip_brackets(host)).compressed


def _absolute(name: str) -> str:
    return name if name.endswith(".") else name + "."


class SipResolver:
    """Locates SIP servers with NAPTR/SRV/A/AAAA lookups (RFC 3263).

    Args:
        nameservers: DNS servers to ask (IP literals); ``None`` reads the system
            configuration (``/etc/resolv.conf``).
        port: the nameservers' port (tests point this at a local server).
        timeout: seconds for each query attempt; ``lifetime`` bounds the whole query.
        rng: randomness for SRV weights; ``random.Random()`` by default.
        transports: the transports this user agent speaks; others are skipped.
        prefer_ipv6: list AAAA addresses before A addresses.
        ipv4, ipv6: whether to look up A and AAAA records at all.
    """

    def __init__(
        self,
        *,
        nameservers: Sequence[str] | None = None,
        port: int = 53,
        timeout: float = 2.0,
        lifetime: float = 5.0,
        rng: RandInt | None = None,
        transports: Collection[TransportKind] = tuple(TransportKind),
        prefer_ipv6: bool = False,
        ipv4: bool = True,
        ipv6: bool = True,
    ) -> None:
        if nameservers is None:
            self._dns = dns.asyncresolver.Resolver(configure=True)
        else:
            self._dns = dns.asyncresolver.Resolver(configure=False)
            self._dns.nameservers = list(nameservers)
        self._dns.port = port
        self._dns.timeout = timeout
        self._dns.lifetime = lifetime
        self._rng: RandInt = rng if rng is not None else random.Random()
        self._transports = tuple(transports)
        self._prefer_ipv6 = prefer_ipv6
        self._ipv4 = ipv4
        self._ipv6 = ipv6

    async def resolve(self, uri: UriLike) -> list[Destination]:
        """Destinations for a ``sip:`` or ``sips:`` URI, best first (RFC 3263 §4).

        ``maddr``, when present, replaces the host (RFC 3261 §19.1.1).

        Raises:
            ResolveError: the scheme is not SIP/SIPS, or nothing usable was found.
        """
        scheme = uri.scheme.lower()
        if scheme not in ("sip", "sips"):
            raise ResolveError(f"cannot locate a server for a {scheme}: URI", address=str(uri))
        host = uri.maddr or uri.host
        return await self.resolve_host(
            host, port=uri.port, transport=uri.transport, secure=scheme == "sips"
        )

    async def resolve_host(
        self,
        host: str,
        *,
        port: int | None = None,
        transport: str | TransportKind | None = None,
        secure: bool = False,
    ) -> list[Destination]:
        """Destinations for a host, optional port and ``transport=`` value.

        Raises:
            ResolveError: the transport is unknown, or nothing usable was found.
        """
        host = strip_brackets(host).rstrip(".") if not is_ip_literal(host) else host
        kind = self._transport_kind(transport, secure, host)
        if is_ip_literal(host) or host.lower() == "localhost":
            ip = "127.0.0.1" if host.lower() == "localhost" else _canonical_ip(host)
            chosen = kind or (TransportKind.TLS if secure else TransportKind.UDP)
            return [Destination(chosen, ip, port or chosen.default_port)]
        lookup = _Lookup(self, host)
        if port is not None:
            chosen = kind or (TransportKind.TLS if secure else TransportKind.UDP)
            found = await lookup.addresses(host, chosen, port)
        elif kind is not None:
            found = await lookup.srv(kind, SRV_PREFIXES[kind] + host)
            if not found:
                found = await lookup.addresses(host, kind, kind.default_port)
        else:
            found = await lookup.naptr(host, secure)
            if not found:
                for candidate in self._srv_order(secure):
                    found += await lookup.srv(candidate, SRV_PREFIXES[candidate] + host)
            if not found:
                chosen = TransportKind.TLS if secure else TransportKind.UDP
                found = await lookup.addresses(host, chosen, chosen.default_port)
        found = _dedupe(found)
        if not found:
            raise lookup.failure()
        return found

    def _transport_kind(self, transport: str | TransportKind | None, secure: bool,
                        host: str) -> TransportKind | None:
        if transport is None:
            return None
        if isinstance(transport, TransportKind):
            kind = transport
        else:
            try:
                kind = TransportKind.from_token(transport)
            except ValueError:
                raise ResolveError(f"cannot reach {host}: unsupported transport={transport}",
                                   address=host) from None
        # RFC 3261 §19.1.2/§26.2.2: sips with transport=tcp means TLS over TCP.
        if secure and kind is TransportKind.TCP:
            kind = TransportKind.TLS
        return kind

    def _srv_order(self, secure: bool) -> list[TransportKind]:
        order = [TransportKind.TLS] if secure else [
            TransportKind.UDP, TransportKind.TCP, TransportKind.TLS]
        return [k for k in order if k in self._transports]


class _Lookup:
    """The DNS queries of one resolution, remembering why it failed."""

    def __init__(self, resolver: SipResolver, host: str) -> None:
        self._r = resolver
        self._host = host
        self._problems: list[str] = []
        self._nxdomain = False

    def failure(self) -> ResolveError:
        host = self._host
        if self._nxdomain and not self._problems:
            return ResolveError(f"cannot resolve {host}: no such domain (NXDOMAIN)",
                                address=host)
        if self._problems:
            return ResolveError(f"cannot resolve {host}: " + "; ".join(self._problems),
                                address=host)
        return ResolveError(f"cannot resolve {host}: no NAPTR, SRV, A or AAAA records",
                            address=host)

    async def _query(self, name: str, rdtype: str) -> list[dns.rdata.Rdata]:
        try:
            answer = await self._r._dns.resolve(_absolute(name), rdtype,
                                                raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            if name.rstrip(".").lower() == self._host.lower():
                self._nxdomain = True
            return []
        except dns.resolver.NoAnswer:
            return []
        except dns.resolver.LifetimeTimeout:
            self._problems.append(f"{rdtype} query for {name} timed out")
            return []
        except dns.resolver.NoNameservers as exc:
            self._problems.append(f"{rdtype} query for {name} failed: {exc}")
            return []
        except dns.exception.DNSException as exc:
            self._problems.append(f"{rdtype} query for {name} failed: {exc}")
            return []
        return list(answer.rrset) if answer.rrset is not None else []

    async def naptr(self, host: str, secure: bool) -> list[Destination]:
        records = []
        for rr in await self._query(host, "NAPTR"):
            if not isinstance(rr, dns.rdtypes.IN.NAPTR.NAPTR):
                continue
            flags = rr.flags.decode().lower()
            service = rr.service.decode().upper()
            kind = NAPTR_SERVICES.get(service)
            if flags != "s" or kind is None or kind not in self._r._transports:
                continue
            if secure and kind is not TransportKind.TLS:
                continue  # RFC 3263 §4.1: a SIPS URI needs a TLS transport
            records.append((rr.order, rr.preference, kind, rr.replacement.to_text()))
        records.sort(key=lambda t: (t[0], t[1]))
        found: list[Destination] = []
        for _, _, kind, replacement in records:
            found += await self.srv(kind, replacement)
        return found

    async def srv(self, kind: TransportKind, name: str) -> list[Destination]:
        records = [
            SrvRecord(rr.priority, rr.weight, rr.port, rr.target.to_text())
            for rr in await self._query(name, "SRV")
            if isinstance(rr, dns.rdtypes.IN.SRV.SRV)
        ]
        # RFC 2782: a target of "." means the service is decidedly not available.
        records = [r for r in records if r.target not in (".", "")]
        found: list[Destination] = []
        for rec in order_srv(records, self._r._rng):
            found += await self.addresses(rec.target.rstrip("."), kind, rec.port)
        return found

    async def addresses(self, host: str, kind: TransportKind, port: int) -> list[Destination]:
        if is_ip_literal(host):
            return [Destination(kind, _canonical_ip(host), port)]
        families: list[str] = []
        if self._r._ipv4:
            families.append("A")
        if self._r._ipv6:
            families.append("AAAA")
        if self._r._prefer_ipv6:
            families.reverse()
        answers = await asyncio.gather(*(self._query(host, rdtype) for rdtype in families))
        found: list[Destination] = []
        for answer in answers:
            for rr in answer:
                if isinstance(rr, dns.rdtypes.IN.A.A | dns.rdtypes.IN.AAAA.AAAA):
                    with contextlib.suppress(ValueError):
                        found.append(Destination(kind, _canonical_ip(rr.address), port))
        return found


__all__ = [
    "NAPTR_SERVICES",
    "SRV_PREFIXES",
    "UNKNOWN_MTU_LIMIT",
    "VIA_ALLOWANCE",
    "RandInt",
    "SipResolver",
    "SrvRecord",
    "UriLike",
    "order_srv",
    "prefer_tcp_for_size",
]
