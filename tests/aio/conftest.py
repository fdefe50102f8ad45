"""Fixtures for the asyncio-edge tests: a tiny authoritative DNS server and TLS files.

``zone_server`` is a class: ``async with ZoneServer(zone) as server`` answers DNS
queries over UDP on 127.0.0.1 (port 0) from a dict ``{(name, rdtype): [rdata text]}``;
a name absent from every key is NXDOMAIN, a known name without the asked type is an
empty NOERROR answer. ``tls_files`` makes a throwaway CA (trustme) and a server
certificate for ``sip.test``, 127.0.0.1 and ::1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
import trustme

Zone = Mapping[tuple[str, str], Sequence[str]]


def _key(name: str) -> str:
    return name.lower().rstrip(".") + "."


class ZoneServer(asyncio.DatagramProtocol):
    """An authoritative DNS server for one dict zone; counts queries by (name, type)."""

    def __init__(self, zone: Zone) -> None:
        self.zone = {(_key(n), t.upper()): list(v) for (n, t), v in zone.items()}
        self.names = {n for n, _ in self.zone}
        self.queries: list[tuple[str, str]] = []
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None

    async def __aenter__(self) -> ZoneServer:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0)
        )
        self._transport = cast(asyncio.DatagramTransport, transport)
        self.port = transport.get_extra_info("sockname")[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._transport is not None:
            self._transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if name not in self.names:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif texts := self.zone.get((name, rdtype)):
            response.answer.append(
                dns.rrset.from_text_list(name, 300, dns.rdataclass.IN, rdtype, texts)
            )
        assert self._transport is not None
        self._transport.sendto(response.to_wire(), addr)


@pytest.fixture
def zone_server() -> type[ZoneServer]:
    return ZoneServer


@dataclass(frozen=True)
class TlsFiles:
    ca_file: str
    cert_file: str
    key_file: str
    other_ca_file: str


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    ca = trustme.CA()
    cert = ca.issue_cert("sip.test", "127.0.0.1", "::1")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(tmp_path / "cert.pem"), append=True)
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "other-ca.pem"))
    return TlsFiles(
        ca_file=str(tmp_path / "ca.pem"),
        cert_file=str(tmp_path / "cert.pem"),
        key_file=str(tmp_path / "key.pem"),
        other_ca_file=str(tmp_path / "other-ca.pem"),
    )
