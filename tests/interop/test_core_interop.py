"""The SIP core and its transports interoperate with real third-party peers.

Proves, against peers started and stopped by the tests on loopback:
- Kamailio answers voipkit's OPTIONS over UDP, TCP and TLS (certificate verified
  against Kamailio's own self-signed certificate) and over UDP on ::1;
- voipkit's digest answer (RFC 2617/7616, qop=auth) registers alice at Kamailio over
  UDP, TCP and TLS; a wrong password is re-challenged and voipkit gives up instead
  of looping; the binding is removed with Expires: 0;
- sipsak's OPTIONS gets voipkit's 200;
- SIPp sends 300 OPTIONS at 100/s to a voipkit core: all answered 200 with Allow,
  none failed, none retransmitted.
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

from interop import peers
from interop.agent import agent
from voipkit.aio.sip_transport import TlsConfig
from voipkit.base.ids import RandomIds
from voipkit.sip.addressing import Destination, TransportKind, format_host
from voipkit.sip.auth import Credentials, DigestClient
from voipkit.sip.message import CSeq, NameAddr, Request, Response
from voipkit.sip.uri import SipUri

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
IDS = RandomIds()


@pytest.fixture(scope="module")
def kam(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with peers.kamailio(tmp_path_factory.mktemp("kamailio")) as server:
        yield server
        # checked before the stop: workers log CRITICAL "EOF" lines while exiting
        assert server.errors_in_log() == []


def _request(method: str, uri: str, *, user: str = "alice", host: str = "127.0.0.1",
             cseq: int = 1, call_id: str | None = None, tag: str | None = None) -> Request:
    aor = SipUri.parse(f"sip:{user}@{host}")
    return Request(method, SipUri.parse(uri),
                   from_=NameAddr(aor, None, {"tag": tag or IDS.tag()}),
                   to=NameAddr(aor if method == "REGISTER" else SipUri.parse(uri)),
                   call_id=call_id or IDS.call_id(), cseq=CSeq(cseq, method))


async def _send(a, request: Request, dest: Destination) -> Response:  # type: ignore[no-untyped-def]
    future = await a.driver.send_request(request, [dest])
    return await asyncio.wait_for(future, 10)


@pytest.mark.parametrize("kind", [TransportKind.UDP, TransportKind.TCP, TransportKind.TLS])
def test_options_to_kamailio(kam: peers.Kamailio, kind: TransportKind) -> None:
    async def main() -> None:
        tls = TlsConfig(ca_file=str(kam.cert), cert_file=str(kam.cert),
                        key_file=str(kam.state / "key.pem"))
        port = kam.tls_port if kind is TransportKind.TLS else kam.port
        async with agent(kind, tls=tls) as a:
            response = await _send(a, _request("OPTIONS", f"sip:127.0.0.1:{port}"),
                                   Destination(kind, "127.0.0.1", port))
            assert response.status == 200
            assert response.headers.get("Server") == "interop-kamailio"
            assert response.via[0].received is None or response.via[0].received == "127.0.0.1"
    asyncio.run(main())


def test_options_to_kamailio_over_ipv6(kam: peers.Kamailio) -> None:
    async def main() -> None:
        async with agent(TransportKind.UDP, host="::1") as a:
            response = await _send(a, _request("OPTIONS", f"sip:[::1]:{kam.port}", host="[::1]"),
                                   Destination(TransportKind.UDP, "::1", kam.port))
            assert response.status == 200
            sent = [r for r in a.trace if r.remote == ("::1", kam.port)]
            assert sent and b"Via: SIP/2.0/UDP [::1]:" in sent[0].data
    asyncio.run(main())


async def _register(a, kind: TransportKind, dest: Destination, password: str,  # type: ignore[no-untyped-def]
                    *, expires: int = 60) -> list[Response]:
    """REGISTER alice, answering challenges the way a registration usage will."""
    client = DigestClient(Credentials("alice", password), cnonce=IDS.token)
    call_id, tag = IDS.call_id(), IDS.tag()
    host, port = a.address(kind)
    registrar = f"sip:{format_host(dest.host)}:{dest.port}"
    responses: list[Response] = []
    header: tuple[str, str] | None = None
    for cseq in range(1, 5):
        request = _request("REGISTER", registrar, cseq=cseq, call_id=call_id, tag=tag)
        transport = "" if kind is TransportKind.UDP else f";transport={kind.value.lower()}"
        contact = f"sip:alice@{format_host(host)}:{port}{transport}"
        request.contact = [NameAddr(SipUri.parse(contact))]
        request.expires = expires
        if header is not None:
            request.headers.add(*header)
        response = await _send(a, request, dest)
        responses.append(response)
        if response.status not in (401, 407):
            break
        name = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        header = client.answer(response.status, response.headers.getall(name),
                               method="REGISTER", uri=registrar)
        if header is None:  # a second non-stale challenge: the password is wrong
            break
    return responses


@pytest.mark.parametrize("kind", [TransportKind.UDP, TransportKind.TCP, TransportKind.TLS])
def test_digest_register_at_kamailio(kam: peers.Kamailio, kind: TransportKind) -> None:
    async def main() -> None:
        tls = TlsConfig(ca_file=str(kam.cert), cert_file=str(kam.cert),
                        key_file=str(kam.state / "key.pem"))
        port = kam.tls_port if kind is TransportKind.TLS else kam.port
        dest = Destination(kind, "127.0.0.1", port)
        async with agent(kind, tls=tls) as a:
            responses = await _register(a, kind, dest, "alicepw")
            assert [r.status for r in responses] == [401, 200]
            assert 'qop="auth"' in (responses[0].headers.get("WWW-Authenticate") or "")
            bound = responses[-1].contact
            assert bound and bound[0].params.get("expires") is not None
            removed = await _register(a, kind, dest, "alicepw", expires=0)
            assert [r.status for r in removed] == [401, 200]
            assert removed[-1].contact == []
    asyncio.run(main())


def test_wrong_password_is_rechallenged_and_given_up(kam: peers.Kamailio) -> None:
    async def main() -> None:
        async with agent(TransportKind.UDP) as a:
            dest = Destination(TransportKind.UDP, "127.0.0.1", kam.port)
            responses = await _register(a, TransportKind.UDP, dest, "not-the-password")
            assert [r.status for r in responses] == [401, 401]
    asyncio.run(main())


def test_sipsak_options_to_voipkit() -> None:
    sipsak = peers.require("sipsak")

    async def main() -> None:
        async with agent(TransportKind.UDP) as a:
            host, port = a.address(TransportKind.UDP)
            local = peers.free_port(tcp=False, ipv6=False)
            proc = await asyncio.create_subprocess_exec(
                sipsak, "-s", f"sip:bob@{host}:{port}", "-l", str(local), "-H", "127.0.0.1",
                "-vv", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, out.decode(errors="replace")
            assert b"200 OK" in out
    asyncio.run(main())


def test_sipp_options_load(tmp_path: Path) -> None:
    sipp = peers.require("sipp")

    async def main() -> None:
        async with agent(TransportKind.UDP) as a:
            host, port = a.address(TransportKind.UDP)
            local = peers.free_port(tcp=False, ipv6=False)
            proc = await asyncio.create_subprocess_exec(
                sipp, f"{host}:{port}", "-sf", str(HERE / "sipp_options_uac.xml"),
                "-i", "127.0.0.1", "-p", str(local), "-m", "300", "-r", "100",
                "-nostdin", "-timeout", "30", "-timeout_error", "-trace_stat",
                "-stf", str(tmp_path / "stat.csv"), "-trace_err",
                "-error_file", str(tmp_path / "err.log"),
                cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
            rows = list(csv.reader((tmp_path / "stat.csv").open(), delimiter=";"))
            head, last = rows[0], rows[-1]
            assert last[head.index("SuccessfulCall(C)")] == "300"
            assert last[head.index("FailedCall(C)")] == "0"
            assert last[head.index("Retransmissions(C)")] == "0"
            assert a.driver.core.counters.get("dropped_garbage", 0) == 0
    asyncio.run(main())
