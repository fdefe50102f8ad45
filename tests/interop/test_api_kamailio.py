"""The public API (voipkit.api) registers and calls through a real Kamailio.

Proves, against one Kamailio (registrar + Record-Routing proxy with digest auth)
started for this module on loopback ports chosen at run time:
- an Account registers over UDP, TCP and TLS (Kamailio's self-signed certificate
  verified, TlsSettings(ca_file=...)): AccountRegistered with 200, account.registered,
  then unregister() removes the binding (AccountUnregistered, registered False);
- a wrong password ends in AccountRegistrationFailed and register() raising
  RegistrationFailed with the registrar's status, instead of looping on challenges;
- a registration with expires=10 is refreshed before it expires (same Call-ID,
  credentials sent up front) and stays registered;
- a call to a user with no binding fails with CallFailed 404 from the proxy;
- two Phones registered as alice and bob call each other through Kamailio over UDP,
  TCP and TLS: the INVITE is challenged (407) and re-sent with credentials, the
  callee records the caller's 440 Hz tone, the caller records the callee's 1000 Hz
  tone, and the BYE follows the Record-Route (Route header naming Kamailio on the
  sender's side, Kamailio's Via on the receiver's side) and ends both calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from interop import peers
from interop.api_helpers import (
    Incoming,
    Trace,
    assert_tone,
    header_values,
    kam_account,
    kamailio_errors,
    phone_config,
    received_for,
    running,
    tone,
    wait_until,
)
from voipkit.api import (
    AccountRegistered,
    AccountRegistrationFailed,
    AccountUnregistered,
    Call,
    CallEnded,
    CallFailed,
    CallState,
    RegistrationFailed,
)
from voipkit.sip.addressing import TransportKind

pytestmark = pytest.mark.interop

KINDS = [TransportKind.UDP, TransportKind.TCP, TransportKind.TLS]


@pytest.fixture(scope="module")
def kam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[peers.Kamailio]:
    with peers.kamailio(tmp_path_factory.mktemp("kamailio-api")) as server:
        yield server
        # checked before the stop: workers log CRITICAL "EOF" lines while exiting
        assert kamailio_errors(server) == []


def _listen(kind: TransportKind) -> str:
    return f"{kind.value.lower()}:127.0.0.1:0"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value.lower())
def test_register_and_unregister(kam: peers.Kamailio, kind: TransportKind) -> None:
    async def main() -> None:
        # a TLS contact needs a TLS listener, hence a certificate (Kamailio's own here)
        config = phone_config(_listen(kind), kam=kam, tls_server=kind is TransportKind.TLS)
        async with running(config) as phone:
            trace = Trace.of(phone)
            account = await phone.add_account(kam_account(kam, "alice", kind, expires=120))
            events: list[object] = []
            account.on(AccountRegistered)(events.append)
            account.on(AccountUnregistered)(events.append)
            outcome = await account.register(timeout=10)
            assert outcome.status == 200
            assert account.registered
            assert 0 < outcome.expires <= 120
            assert [type(e) for e in events] == [AccountRegistered]
            # digest: challenged once (401), then accepted with an Authorization header
            registers = trace.find(sent=True, start=b"REGISTER ")
            assert len(registers) == 2, trace.dump()
            assert header_values(registers[1], "Authorization"), trace.dump()
            await account.unregister(timeout=10)
            assert not account.registered
            assert isinstance(events[-1], AccountUnregistered)
            assert events[-1].status == 200
            last = trace.find(sent=True, start=b"REGISTER ")[-1]
            assert header_values(last, "Expires") == ["0"] or b"expires=0" in last
    asyncio.run(main())


def test_wrong_password_fails(kam: peers.Kamailio) -> None:
    async def main() -> None:
        async with running(phone_config(kam=kam)) as phone:
            account = await phone.add_account(
                kam_account(kam, "bob", password="not-the-password"))
            failures: list[AccountRegistrationFailed] = []
            account.on(AccountRegistrationFailed)(failures.append)
            with pytest.raises(RegistrationFailed) as info:
                await account.register(timeout=10)
            assert info.value.status == 401
            assert not account.registered
            assert failures and failures[0].status == 401
    asyncio.run(main())


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value.lower())
def test_call_through_kamailio(kam: peers.Kamailio, kind: TransportKind,
                               tmp_path: Path) -> None:
    """alice calls bob through Kamailio; the caller hangs up over UDP/TLS, the callee over TCP."""
    caller_hangs_up = kind is not TransportKind.TCP
    tls_server = kind is TransportKind.TLS

    async def main() -> None:
        config = phone_config(_listen(kind), kam=kam, tls_server=tls_server)
        async with running(config) as alice, running(config) as bob:
            alice_trace, bob_trace = Trace.of(alice), Trace.of(bob)
            alice_account = await alice.add_account(kam_account(kam, "alice", kind))
            bob_account = await bob.add_account(kam_account(kam, "bob", kind))
            await asyncio.gather(alice_account.register(timeout=10),
                                 bob_account.register(timeout=10))
            incoming = Incoming(bob, record_dir=tmp_path)

            call = await alice_account.call("sip:bob@127.0.0.1")
            await call.answered(timeout=10)
            callee = await incoming.next()
            call.record(tmp_path / "alice.wav")
            await asyncio.wait_for(_connected(call, callee), 5)
            call.play(tone(tmp_path, 440.0), loop=True)
            callee.play(tone(tmp_path, 1000.0), loop=True)
            await asyncio.gather(received_for(callee, 1.2), received_for(call, 1.2))

            ends: list[tuple[str, str]] = []
            alice.on(CallEnded)(lambda e: ends.append(("alice", e.reason)))
            bob.on(CallEnded)(lambda e: ends.append(("bob", e.reason)))
            hanging = call if caller_hangs_up else callee
            await hanging.hangup()
            await asyncio.gather(call.ended(timeout=10), callee.ended(timeout=10))
            assert sorted(ends) == sorted([
                ("alice", "bye-local" if caller_hangs_up else "bye-remote"),
                ("bob", "bye-remote" if caller_hangs_up else "bye-local")])
            assert alice.calls == {} and bob.calls == {}

            # the INVITE was challenged by the proxy and re-sent with credentials
            invites = alice_trace.find(sent=True, start=b"INVITE ")
            assert len(invites) >= 2, alice_trace.dump()
            assert header_values(invites[-1], "Proxy-Authorization"), alice_trace.dump()
            # Record-Route honoured: the BYE carries Kamailio as its Route ...
            sender, receiver = ((alice_trace, bob_trace) if caller_hangs_up
                                else (bob_trace, alice_trace))
            byes = sender.find(sent=True, start=b"BYE ")
            assert byes, sender.dump()
            port = kam.tls_port if kind is TransportKind.TLS else kam.port
            routes = header_values(byes[0], "Route")
            assert routes and f"127.0.0.1:{port}" in routes[0], sender.dump()
            # ... and reached the peer through Kamailio (its Via on top of the sender's)
            got = receiver.find(sent=False, start=b"BYE ")
            assert got, receiver.dump()
            vias = header_values(got[0], "Via")
            assert len(vias) >= 2 and f"127.0.0.1:{port}" in vias[0], receiver.dump()
            # a clean exchange: the 2xx was not retransmitted (its ACK arrived through the
            # proxy) and nothing but the digest challenges was refused
            ok_invite = [m for m in bob_trace.find(sent=True, start=b"SIP/2.0 200")
                         if header_values(m, "CSeq")[0].endswith("INVITE")]
            assert len(ok_invite) == 1, bob_trace.dump()
            assert len(bob_trace.find(sent=False, start=b"ACK ")) == 1, bob_trace.dump()
            for trace in (alice_trace, bob_trace):
                responses = (trace.find(sent=False, start=b"SIP/2.0 ")
                             + trace.find(sent=True, start=b"SIP/2.0 "))
                refused = [m.split(b"\r\n", 1)[0] for m in responses
                           if int(m[8:11]) >= 400 and int(m[8:11]) not in (401, 407)]
                assert refused == [], trace.dump()
            await asyncio.gather(alice_account.unregister(), bob_account.unregister())

        assert_tone(incoming.recordings[0], 440.0)
        assert_tone(tmp_path / "alice.wav", 1000.0)
    asyncio.run(main())


async def _connected(*calls: Call) -> None:
    await wait_until(lambda: all(c.state is CallState.CONNECTED for c in calls), 5,
                     what="both calls connected")


def test_registration_is_refreshed(kam: peers.Kamailio) -> None:
    """expires=10 (Kamailio's minimum): a refresh before expiry, answered 200 again."""
    async def main() -> None:
        async with running(phone_config(kam=kam)) as phone:
            trace = Trace.of(phone)
            account = await phone.add_account(kam_account(kam, "carol", expires=10))
            first = await account.register(timeout=10)
            assert first.expires == 10
            refreshed = await account.bus.wait_for(AccountRegistered, timeout=9)
            assert refreshed.status == 200 and account.registered
            registers = trace.find(sent=True, start=b"REGISTER ")
            assert len(registers) == 3, trace.dump()
            # the refresh answers the server's last nonce up front (nc incremented)
            assert header_values(registers[2], "Authorization"), trace.dump()
            call_ids = {header_values(r, "Call-ID")[0] for r in registers}
            assert len(call_ids) == 1  # RFC 3261 §10.2.4: same Call-ID, higher CSeq
            await account.unregister(timeout=5)
    asyncio.run(main())


def test_call_to_unregistered_user_fails(kam: peers.Kamailio) -> None:
    async def main() -> None:
        async with running(phone_config(kam=kam)) as phone:
            account = await phone.add_account(kam_account(kam, "1001"))
            await account.register(timeout=10)
            call = await account.call("sip:1003@127.0.0.1")
            with pytest.raises(CallFailed) as info:
                await call.answered(timeout=10)
            assert info.value.status == 404
            await call.ended(timeout=5)
            assert phone.calls == {}
    asyncio.run(main())
