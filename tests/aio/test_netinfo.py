"""netinfo lists this machine's addresses and orders destinations by IP family preference.

Proves (reading interfaces only, never sending a packet):
- local_addresses lists 127.0.0.1, and ::1 exactly when the kernel has it
  (/proc/net/if_inet6), non-loopback addresses before loopback ones, no duplicates,
  no IPv6 link-local addresses;
- nic_count/address_at follow PortSIP getNICNums/getLocalIpAddress: every index below
  the count gives the listed address, a negative or too-large index raises IndexError,
  a non-int raises TypeError;
- /proc/net/if_inet6 lines are parsed into compressed IPv6 text;
- without the Linux sources, the getaddrinfo fallback still lists 127.0.0.1;
- prefer_ipv6_order puts AAAA first when enabled and A first when disabled, stably, and
  only within a run of one transport and port (SRV order is kept).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from voipkit.aio import netinfo
from voipkit.aio.netinfo import address_at, local_addresses, nic_count, prefer_ipv6_order
from voipkit.sip.addressing import Destination, TransportKind

UDP, TCP = TransportKind.UDP, TransportKind.TCP


def kernel_has_ipv6_loopback() -> bool:
    path = Path("/proc/net/if_inet6")
    lines = path.read_text().splitlines() if path.exists() else []
    return any(line.split()[:1] == ["0" * 31 + "1"] for line in lines)


def test_loopback_addresses_are_listed_last() -> None:
    addresses = local_addresses()
    assert "127.0.0.1" in addresses
    assert ("::1" in addresses) == kernel_has_ipv6_loopback()
    assert len(addresses) == len(set(addresses))
    loopback = [ipaddress.ip_address(a).is_loopback for a in addresses]
    assert loopback == sorted(loopback)  # every non-loopback address comes first
    assert not any(ipaddress.ip_address(a).is_link_local for a in addresses)


def test_address_at_follows_nic_count() -> None:
    count = nic_count()
    assert count == len(local_addresses()) >= 1
    assert [address_at(i) for i in range(count)] == local_addresses()


@pytest.mark.parametrize("index", [-1, 10_000])
def test_bad_index_raises_index_error(index: int) -> None:
    with pytest.raises(IndexError, match=f"no local address at index {index}"):
        address_at(index)


def test_non_int_index_raises_type_error() -> None:
    with pytest.raises(TypeError):
        address_at("0")  # type: ignore[arg-type]


def test_proc_if_inet6_is_parsed(tmp_path: Path) -> None:
    sample = tmp_path / "if_inet6"
    sample.write_text(
        "00000000000000000000000000000001 01 80 10 80       lo\n"
        "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n"
        "20010db8000000000000000000000002 04 40 00 00     eth0\n"
        "garbage\n"
    )
    parsed = netinfo._ipv6_from_proc(sample)
    assert parsed == ["::1", "fe80::fc:ff:fe00:1", "2001:db8::2"]
    assert netinfo._ordered([*parsed, "127.0.0.1", "192.0.2.9", "192.0.2.9"]) == [
        "192.0.2.9", "2001:db8::2", "127.0.0.1", "::1"]
    assert netinfo._ipv6_from_proc(tmp_path / "missing") == []


def test_getaddrinfo_fallback_still_lists_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netinfo, "_ipv4_by_ioctl", list)
    monkeypatch.setattr(netinfo, "_ipv6_from_proc", list)
    addresses = local_addresses()
    assert "127.0.0.1" in addresses
    assert ("::1" in addresses) == kernel_has_ipv6_loopback()


V4A = Destination(UDP, "192.0.2.1", 5060)
V6A = Destination(UDP, "2001:db8::1", 5060)
V4B = Destination(UDP, "192.0.2.2", 5060)
V6B = Destination(UDP, "2001:db8::2", 5060)
TCP4 = Destination(TCP, "192.0.2.1", 5060)
TCP6 = Destination(TCP, "2001:db8::1", 5060)


def test_ipv6_first_when_enabled_ipv4_first_by_default() -> None:
    mixed = [V4A, V6A, V4B, V6B]
    assert prefer_ipv6_order(mixed, True) == [V6A, V6B, V4A, V4B]
    assert prefer_ipv6_order(mixed, False) == [V4A, V4B, V6A, V6B]
    assert prefer_ipv6_order([], True) == []


def test_preference_does_not_cross_transport_runs() -> None:
    srv_order = [V4A, V6A, TCP4, TCP6]
    assert prefer_ipv6_order(srv_order, True) == [V6A, V4A, TCP6, TCP4]
    assert prefer_ipv6_order([V6A, TCP4], False) == [V6A, TCP4]
