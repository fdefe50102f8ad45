"""The machine's IP addresses and the IPv4/IPv6 preference for resolved destinations.

Knows: how to read interface addresses on Linux — ``socket.if_nameindex`` plus the
``SIOCGIFADDR`` ioctl for each interface's IPv4 address, ``/proc/net/if_inet6`` for
IPv6 — with ``getaddrinfo`` on the host name as the fallback elsewhere. Must not
know: which address to put in a Contact or SDP; the API layer chooses, these are the
candidates (PortSIP ``getNICNums``/``getLocalIpAddress``).

Order of ``local_addresses()``: non-loopback IPv4, non-loopback IPv6, then loopback
IPv4 and IPv6 (127.0.0.1, ::1), without duplicates. IPv6 link-local addresses
(fe80::/10) are left out: they need a zone index and are no use in a SIP URI. The
ioctl reports one IPv4 address per interface (the primary one); secondary addresses
added with ``ip addr add`` are only seen through the ``getaddrinfo`` fallback.

Nothing here sends a packet.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import socket
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

from voipkit.sip.addressing import Destination

#: Linux <linux/sockios.h>: get the (primary) IPv4 address of an interface.
SIOCGIFADDR = 0x8915
_IF_INET6 = Path("/proc/net/if_inet6")
_IFNAMSIZ = 16


def _ipv4_by_ioctl() -> list[str]:
    found: list[str] = []
    try:
        names = socket.if_nameindex()
    except OSError:
        return found
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in names:
            request = struct.pack("256s", name.encode()[: _IFNAMSIZ - 1])
            try:
                reply = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)
            except OSError:  # no IPv4 address on this interface (EADDRNOTAVAIL), or down
                continue
            # struct ifreq: 16-byte name, then struct sockaddr_in (family, port, addr)
            found.append(socket.inet_ntoa(reply[20:24]))
    return found


def _ipv6_from_proc(path: Path = _IF_INET6) -> list[str]:
    found: list[str] = []
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) < 6 or len(fields[0]) != 32:
                continue
            with contextlib.suppress(ValueError):
                found.append(ipaddress.IPv6Address(bytes.fromhex(fields[0])).compressed)
    return found


def _by_getaddrinfo() -> list[str]:
    found: list[str] = []
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_UDP):
            found.append(str(info[4][0]).split("%", 1)[0])
    found.append("127.0.0.1")
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind(("::1", 0))  # binding sends nothing; it only proves ::1 exists
        found.append("::1")
    return found


def _ordered(addresses: Iterable[str]) -> list[str]:
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for text in addresses:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            continue
        if ip.is_link_local or ip.is_unspecified or ip in ips:
            continue
        ips.append(ip)
    ips.sort(key=lambda ip: (ip.is_loopback, ip.version))  # stable: keeps kernel order
    return [ip.compressed for ip in ips]


def local_addresses() -> list[str]:
    """Every IPv4 and IPv6 address of this machine's interfaces, loopback included.

    Non-loopback first (IPv4, then IPv6), then 127.0.0.1 / ::1. On Linux the list
    comes from the interfaces themselves; elsewhere from resolving the host name.
    """
    found = _ipv4_by_ioctl() + _ipv6_from_proc()
    if not found:
        found = _by_getaddrinfo()
    return _ordered(found)


def nic_count() -> int:
    """How many addresses ``address_at`` can return (PortSIP ``getNICNums``)."""
    return len(local_addresses())


def address_at(index: int) -> str:
    """The ``index``-th address of ``local_addresses()`` (PortSIP ``getLocalIpAddress``).

    Raises:
        IndexError: ``index`` is negative or not below ``nic_count()``.
    """
    addresses = local_addresses()
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"address index must be an int, not {type(index).__name__}")
    if not 0 <= index < len(addresses):
        raise IndexError(
            f"no local address at index {index}: this machine has {len(addresses)} "
            f"(0..{len(addresses) - 1})"
        )
    return addresses[index]


def prefer_ipv6_order(destinations: Sequence[Destination], enabled: bool) -> list[Destination]:
    """Put IPv6 destinations first when ``enabled``, else IPv4 (``enablePriorityIPv6Domain``).

    The PortSIP default is IPv4 first. The reordering is stable and only happens
    inside each run of consecutive destinations with the same transport and port
    (the A/AAAA addresses of one RFC 3263 SRV target), so the server's SRV priority
    and transport order are kept.
    """
    result: list[Destination] = []
    run: list[Destination] = []

    def flush() -> None:
        first = [d for d in run if _is_v6(d.host) == enabled]
        result.extend(first + [d for d in run if _is_v6(d.host) != enabled])
        run.clear()

    for dest in destinations:
        if run and (run[-1].transport, run[-1].port) != (dest.transport, dest.port):
            flush()
        run.append(dest)
    flush()
    return result


def _is_v6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0]).version == 6
    except ValueError:
        return ":" in host


__all__ = ["SIOCGIFADDR", "address_at", "local_addresses", "nic_count", "prefer_ipv6_order"]
