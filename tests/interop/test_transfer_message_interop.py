"""Transfer (REFER, Replaces) and MESSAGE between voipkit and real baresip / linphonec.

Proves, with the peers started per test on loopback (Kamailio once for the module):
- blind transfer with baresip 1.0.0 as the transferee: voipkit (alice) calls baresip,
  REFERs it to a second voipkit phone (carol); baresip calls carol and alice hears
  ReferAccepted, TransferTrying and TransferSucceeded from baresip's sipfrag NOTIFYs,
  peer to peer and with all three registered at Kamailio;
- attended transfer with linphonec 5.1 as the transferee: alice's call to carol is named
  by the Replaces in Refer-To; linphonec's INVITE to carol carries it, carol's phone
  takes the call over by itself (CallReplaced) and alice's call to carol ends; baresip
  1.0.0 cannot do this (it puts the Refer-To URI, headers and all, into its INVITE's
  Request-URI): carol answers 400 and alice hears TransferFailed 400;
- MESSAGE through Kamailio both ways (407 challenges answered): baresip -> voipkit
  arrives as MessageReceived with the text; voipkit -> baresip is delivered (200) and
  printed by baresip; the same both ways with linphonec.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from interop import peers
from interop.api_helpers import (
    Incoming,
    Trace,
    in_thread,
    kam_account,
    kamailio_errors,
    phone_config,
    running,
    uri_of,
    wait_until,
)
from interop.baresip import Baresip
from interop.linphone import Linphonec
from voipkit.api import (
    CallReplaced,
    CallState,
    MessageReceived,
    TransferEvent,
    TransferFailed,
)

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def kam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[peers.Kamailio]:
    with peers.kamailio(tmp_path_factory.mktemp("kamailio-transfer")) as server:
        yield server
        assert kamailio_errors(server) == []


async def _connected(call: object) -> None:
    from voipkit.api import Call

    assert isinstance(call, Call)
    if not call.incoming:
        await call.answered(timeout=10)
    await wait_until(lambda: call.state is CallState.CONNECTED, 5, what=f"{call!r} connected")


def test_blind_transfer_baresip_transferee(tmp_path: Path) -> None:
    async def main(ua: Baresip) -> None:
        async with running(phone_config()) as alice, running(phone_config()) as carol:
            trace = Trace.of(alice)
            incoming = Incoming(carol, ring=True)
            seen: list[str] = []
            alice.on(TransferEvent)(lambda e: seen.append(type(e).__name__))
            call = await alice.call(ua.uri)
            await _connected(call)
            transfer = await call.refer(uri_of(carol, "carol"))
            try:
                assert await transfer.wait(timeout=10) is True
            except (AssertionError, TimeoutError) as exc:
                raise AssertionError(f"{seen}\n{trace.dump()}") from exc
            new = await incoming.next()
            invite = new.invite
            assert invite is not None
            assert seen[0] == "ReferAccepted" and seen[-1] == "TransferSucceeded"
            assert "TransferTrying" in seen
            await _connected(new)
            await call.hangup()
            await call.ended(timeout=5)
            await new.hangup()
            await new.ended(timeout=5)

    with Baresip(state=tmp_path / "baresip", user="bob") as ua:
        asyncio.run(main(ua))


def test_blind_transfer_baresip_transferee_through_kamailio(tmp_path: Path,
                                                            kam: peers.Kamailio) -> None:
    """The same with everyone registered at Kamailio: REFER and NOTIFYs follow the
    Record-Route set, baresip's INVITE to carol is routed by Kamailio's location lookup."""
    async def main(ua: Baresip) -> None:
        async with running(phone_config(kam=kam)) as alice, \
                running(phone_config(kam=kam)) as carol:
            trace = Trace.of(alice)
            alice_account = await alice.add_account(kam_account(kam, "alice"))
            await alice_account.register(timeout=10)
            carol_account = await carol.add_account(kam_account(kam, "carol"))
            await carol_account.register(timeout=10)
            await in_thread(ua.wait_registered)
            incoming = Incoming(carol)
            seen: list[str] = []
            alice.on(TransferEvent)(lambda e: seen.append(type(e).__name__))
            call = await alice_account.call("sip:bob@127.0.0.1")
            await _connected(call)
            # the domain is the proxy's address here: the target names its port
            transfer = await call.refer(f"carol@127.0.0.1:{kam.port}")
            try:
                assert await transfer.wait(timeout=10) is True
            except (AssertionError, TimeoutError) as exc:
                raise AssertionError(f"{seen}\n{trace.dump()}") from exc
            assert transfer.refer_to == f"sip:carol@127.0.0.1:{kam.port}"
            new = await incoming.next()
            assert str(new.remote.uri).startswith("sip:bob@127.0.0.1")
            await _connected(new)
            await call.hangup()
            await new.hangup()
            await new.ended(timeout=5)

    with Baresip(state=tmp_path / "baresip", user="bob", registrar_port=kam.port,
                 password="bobpw") as ua:
        asyncio.run(main(ua))


def test_attended_transfer_linphonec_transferee(tmp_path: Path) -> None:
    async def main(lp: Linphonec) -> None:
        async with running(phone_config()) as alice, running(phone_config()) as carol:
            trace = Trace.of(alice)
            carol_trace = Trace.of(carol)
            Incoming(carol)
            replaced: list[CallReplaced] = []
            carol.on(CallReplaced)(replaced.append)
            to_lp = await alice.call(lp.uri)
            await _connected(to_lp)
            to_carol = await alice.call(uri_of(carol, "carol"))
            await _connected(to_carol)
            transfer = await to_lp.refer(uri_of(carol, "carol"), replaces=to_carol)
            try:
                assert await transfer.wait(timeout=10) is True
                await to_carol.ended(timeout=5)
            except (AssertionError, TimeoutError) as exc:
                raise AssertionError(f"{trace.dump()}\n=== carol ===\n{carol_trace.dump()}"
                                     ) from exc
            assert to_carol.end_reason == "bye-remote"
            (event,) = replaced
            assert event.call.state is CallState.CONNECTED
            invites = carol_trace.find(sent=False, start=b"INVITE ")
            assert b"\r\nReplaces: " in invites[-1]
            await event.call.hangup()
            await to_lp.hangup()

    with Linphonec(state=tmp_path / "linphonec") as lp:
        asyncio.run(main(lp))


def test_attended_transfer_to_baresip_fails_loudly(tmp_path: Path) -> None:
    """baresip 1.0.0 puts the Refer-To URI, embedded Replaces and all (its escapes turned
    into '?'), into the Request-URI of its INVITE: the target answers 400 (RFC 3261
    §19.1.1), baresip reports it in its final NOTIFY, and the transferor hears
    TransferFailed 400 while its call to the target stays up."""
    async def main(ua: Baresip) -> None:
        async with running(phone_config()) as alice, running(phone_config()) as carol:
            Incoming(carol)
            failed: list[TransferFailed] = []
            alice.on(TransferFailed)(failed.append)
            to_bob = await alice.call(ua.uri)
            await _connected(to_bob)
            to_carol = await alice.call(uri_of(carol, "carol"))
            await _connected(to_carol)
            transfer = await to_bob.refer(uri_of(carol, "carol"), replaces=to_carol)
            assert await transfer.wait(timeout=10) is False
            assert [(f.status, f.call) for f in failed] == [(400, to_bob)]
            assert to_carol.state is CallState.CONNECTED
            await to_carol.hangup()
            await to_bob.hangup()

    with Baresip(state=tmp_path / "baresip", user="bob") as ua:
        asyncio.run(main(ua))


def _console_text(sock: socket.socket, needle: bytes, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while needle not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_message_both_ways_with_baresip_through_kamailio(tmp_path: Path,
                                                         kam: peers.Kamailio) -> None:
    async def main(ua: Baresip) -> None:
        async with running(phone_config(kam=kam)) as phone:
            account = await phone.add_account(kam_account(kam, "bob"))
            await account.register(timeout=10)
            await in_thread(ua.wait_registered)
            got: list[MessageReceived] = []
            phone.on(MessageReceived)(got.append)
            response = await in_thread(ua.message, "hello-from-baresip")
            assert response.get("ok"), response
            await wait_until(lambda: bool(got), 10, what="baresip's MESSAGE at voipkit")
            message = got[0].message
            assert message.text == "hello-from-baresip" and message.call is None
            assert str(message.sender.uri).startswith("sip:alice@")

            with ua.console() as console:
                sent = await account.send_message("sip:alice@127.0.0.1", "hello-from-voipkit")
                assert (await sent.delivered(timeout=10)).status == 200
                text = await in_thread(_console_text, console, b"hello-from-voipkit", 5)
            assert b"hello-from-voipkit" in text

    contact = f'"bob" <sip:bob@127.0.0.1:{kam.port}>'
    with Baresip(state=tmp_path / "baresip", user="alice", registrar_port=kam.port,
                 password="alicepw", contacts=[contact]) as ua:
        asyncio.run(main(ua))


def test_message_both_ways_with_linphonec_through_kamailio(tmp_path: Path,
                                                           kam: peers.Kamailio) -> None:
    async def main(lp: Linphonec) -> None:
        async with running(phone_config(kam=kam)) as phone:
            account = await phone.add_account(kam_account(kam, "bob"))
            await account.register(timeout=10)
            await in_thread(lp.register, "1001", kam.port, "1001pw")
            got: list[MessageReceived] = []
            phone.on(MessageReceived)(got.append)
            lp.chat(f"sip:bob@127.0.0.1:{kam.port}", "hello-from-linphonec")
            await wait_until(lambda: bool(got), 10, what="linphonec's MESSAGE at voipkit")
            message = got[0].message
            assert message.text == "hello-from-linphonec"
            assert str(message.sender.uri).startswith("sip:1001@")

            mark = lp.mark()
            sent = await account.send_message("sip:1001@127.0.0.1", "hello-from-voipkit")
            assert (await sent.delivered(timeout=10)).status == 200
            await in_thread(lp.wait_for, "hello-from-voipkit", since=mark, timeout=10)

    with Linphonec(state=tmp_path / "linphonec") as lp:
        asyncio.run(main(lp))
