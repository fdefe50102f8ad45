"""voipkit's STUN Binding client interoperates with coturn (turnserver 4.6).

Proves, against a coturn started by the test on 127.0.0.1 (a free port, config from
``coturn.conf.in``, state and log under tmp_path, stopped by its PID):
- ``stun_binding`` on a fresh socket gets 127.0.0.1 and that socket's own port back,
  parsing coturn's real response (SOFTWARE, XOR-MAPPED-ADDRESS, FINGERPRINT);
- on an existing socket the mapped address is exactly its ``getsockname()``;
- ``StunClient.attach`` learns the public address of a SipTransports UDP listener
  through the shared SIP socket.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from interop import peers
from voipkit.aio.errors import TransportError
from voipkit.aio.sip_transport import SipTransports
from voipkit.aio.stun import StunClient, stun_binding
from voipkit.sip.addressing import Address, TransportKind

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent


def _answers_stun(address: Address) -> bool:
    try:
        asyncio.run(stun_binding(address, local_ip="127.0.0.1", timeout=0.3))
    except TransportError:
        return False
    return True


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Address]:
    """A running turnserver on 127.0.0.1; yields its STUN address."""
    binary = peers.require("turnserver")
    state = tmp_path_factory.mktemp("coturn")
    port = peers.free_port(ipv6=False)
    relay = peers.free_port(ipv6=False, tcp=False)
    conf = state / "turnserver.conf"
    conf.write_text(
        (HERE / "coturn.conf.in").read_text()
        .replace("@PORT@", str(port))
        .replace("@MIN_PORT@", str(relay))
        .replace("@MAX_PORT@", str(relay + 1))
    )
    log = state / "turn.log"
    args = [binary, "-c", str(conf), "--pidfile", str(state / "turnserver.pid"),
            "--log-file", str(log), "--userdb", str(state / "turndb")]
    with (state / "stdout.log").open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not _answers_stun(("127.0.0.1", port)):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (state / "stdout.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"turnserver did not answer STUN on 127.0.0.1:{port}:\n{tail}")
        yield ("127.0.0.1", port)
    finally:
        peers.stop_pid(proc)


def test_fresh_socket_gets_loopback_and_its_port(coturn: Address) -> None:
    async def main() -> tuple[Address, Address]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            own = sock.getsockname()
            return own, await stun_binding(coturn, sock=sock, timeout=5)

    own, mapped = asyncio.run(main())
    assert mapped == ("127.0.0.1", own[1])


def test_fresh_socket_bound_by_stun_binding(coturn: Address) -> None:
    ip, port = asyncio.run(stun_binding(coturn, local_ip="127.0.0.1", timeout=5))
    assert ip == "127.0.0.1" and 0 < port < 65536


def test_sip_udp_listener_learns_its_address_through_the_shared_socket(
    coturn: Address,
) -> None:
    async def main() -> tuple[Address, Address]:
        async with SipTransports() as transports:
            local = await transports.listen(TransportKind.UDP, "127.0.0.1")
            client = StunClient.attach(transports, software="voipkit interop")
            return local, await client.binding(coturn, timeout=5)

    local, mapped = asyncio.run(main())
    assert mapped == local
