"""`voipkit demo`: two SIP user agents on loopback exchanging OPTIONS for real.

Knows: the sans-IO core (``voipkit.sip``) and its asyncio driver
(``voipkit.aio``). Must not know: anything the public ``api`` will hide — this
job exists until the calls work delivers the manual's P2P call demo.

Two user-agent cores, alice and bob, each listen on UDP, TCP and TLS on
127.0.0.1 and on UDP ::1, on ports the kernel picks. Alice sends an
OPTIONS to bob over each transport; bob's core answers with 200 and its
Allow/Accept/Supported. Every message is printed as it crosses a socket (the
trace hook that will feed onSendingSignaling/onReceivedSignaling). Finally a
malformed request is thrown at bob from a raw socket, and bob answers 400 with
a reason that names the problem instead of crashing.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from voipkit.aio.errors import TransportError
from voipkit.aio.sip_driver import SipDriver
from voipkit.aio.sip_transport import (
    Direction,
    SipTransports,
    TlsConfig,
    TraceRecord,
    TransportConfig,
)
from voipkit.base.ids import RandomIds
from voipkit.sip.addressing import Destination, TransportKind, format_host
from voipkit.sip.message import CSeq, NameAddr, Request
from voipkit.sip.ua import CoreConfig, UserAgentCore
from voipkit.sip.uri import SipUri


@dataclass
class _Agent:
    name: str
    driver: SipDriver
    transports: SipTransports


def _printer(name: str, *, verbose: bool):  # type: ignore[no-untyped-def]
    def trace(record: TraceRecord) -> None:
        arrow = "->" if record.direction is Direction.SENT else "<-"
        peer = f"{format_host(record.remote[0])}:{record.remote[1]}"
        text = record.data.decode("utf-8", "replace").rstrip("\r\n")
        first, _, rest = text.partition("\r\n")
        print(f"[{name}] {arrow} {record.transport.value:<3} {peer:<22} {first}")
        if verbose:
            for line in rest.split("\r\n"):
                print(f"{'':>8}| {line}")
    return trace


@contextlib.contextmanager
def _self_signed_cert() -> Iterator[tuple[str, str] | None]:
    """A throw-away certificate for 127.0.0.1 made with the openssl CLI, if present."""
    openssl = shutil.which("openssl")
    if openssl is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="voipkit-demo-") as tmp:
        cert, key = str(Path(tmp) / "cert.pem"), str(Path(tmp) / "key.pem")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "1", "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,IP:::1"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        yield cert, key


async def _agent(name: str, tls: TlsConfig | None, *, verbose: bool) -> _Agent:
    config = TransportConfig(tls=tls) if tls is not None else TransportConfig()
    transports = SipTransports(config=config, trace=_printer(name, verbose=verbose))
    core = UserAgentCore(config=CoreConfig(user_agent=f"voipkit-demo-{name}"), ids=RandomIds())
    driver = SipDriver(core, transports)
    await driver.listen(TransportKind.UDP, "127.0.0.1", 0)
    await driver.listen(TransportKind.TCP, "127.0.0.1", 0)
    if tls is not None:
        await driver.listen(TransportKind.TLS, "127.0.0.1", 0)
    if socket.has_ipv6:
        try:
            await driver.listen(TransportKind.UDP, "::1", 0)
        except TransportError as exc:  # a host without IPv6 loopback: say so, go on with IPv4
            print(f"({name}: no IPv6 loopback here, {exc})")
    return _Agent(name, driver, transports)


def _options(to: str, *, ids: RandomIds) -> Request:
    uri = SipUri.parse(to)
    return Request(
        "OPTIONS", uri,
        from_=NameAddr(SipUri.parse("sip:alice@127.0.0.1"), "Alice", {"tag": ids.tag()}),
        to=NameAddr(uri), call_id=ids.call_id(), cseq=CSeq(1, "OPTIONS"),
    )


async def run(*, verbose: bool = True) -> int:
    """Run the demo; return a process exit status (0 when every exchange succeeded)."""
    results: list[tuple[str, str, float]] = []
    ids = RandomIds()
    with _self_signed_cert() as cert:
        # one self-signed certificate serves both listeners and is the trust anchor
        tls = TlsConfig(cert_file=cert[0], key_file=cert[1], ca_file=cert[0]) if cert else None
        bob = await _agent("bob", tls, verbose=verbose)
        alice = await _agent("alice", tls, verbose=verbose)
        try:
            targets: list[tuple[str, Destination]] = []
            for kind, (host, port) in bob.transports.listeners:
                label = f"{kind.value}/IPv6" if ":" in host else kind.value
                targets.append((label, Destination(kind, host, port)))
            if cert is None:
                print("(openssl not found: TLS is left out of this run)")
            for label, dest in targets:
                print(f"\n=== OPTIONS alice -> bob over {label} ({dest}) ===")
                target = f"sip:bob@{format_host(dest.host)}:{dest.port}"
                started = time.perf_counter()
                future = await alice.driver.send_request(_options(target, ids=ids), [dest])
                try:
                    response = await asyncio.wait_for(future, 10)
                    outcome = f"{response.status} {response.reason}"
                except (TimeoutError, OSError) as exc:
                    outcome = f"failed: {exc}"
                results.append((label, outcome, (time.perf_counter() - started) * 1000))
            print("\n=== a malformed request from a raw socket (CSeq method mismatch) ===")
            bob_udp = next(a for k, a in bob.transports.listeners
                           if k is TransportKind.UDP and ":" not in a[0])
            outcome = await _malformed(bob_udp)
            results.append(("malformed", outcome, 0.0))
        finally:
            alice.driver.close()
            bob.driver.close()
            await alice.transports.close()
            await bob.transports.close()
    print("\n=== summary ===")
    ok = True
    for label, outcome, ms in results:
        timing = f"{ms:6.1f} ms" if ms else ""
        print(f"  {label:<10} {outcome:<48} {timing}")
        expected = "400" if label == "malformed" else "200"
        ok = ok and outcome.startswith(expected)
    print("all exchanges succeeded" if ok else "SOME EXCHANGES FAILED")
    return 0 if ok else 1


async def _malformed(address: tuple[str, int]) -> str:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        port = sock.getsockname()[1]
        bad = (
            f"OPTIONS sip:bob@127.0.0.1:{address[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-malformed-1\r\n"
            "Max-Forwards: 70\r\nTo: <sip:bob@127.0.0.1>\r\n"
            "From: <sip:mallory@127.0.0.1>;tag=m1\r\nCall-ID: malformed-1\r\n"
            "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        print(f"[raw]   -> UDP {address[0]}:{address[1]:<12} OPTIONS with 'CSeq: 1 INVITE'")
        await loop.sock_sendto(sock, bad, address)
        try:
            data = await asyncio.wait_for(loop.sock_recv(sock, 65535), 5)
        except TimeoutError:
            return "no answer"
        first = data.split(b"\r\n", 1)[0].decode()
        print(f"[raw]   <- {first}")
        return first.removeprefix("SIP/2.0 ")


def main(*, verbose: bool = True) -> int:
    return asyncio.run(run(verbose=verbose))
